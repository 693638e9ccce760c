"""What the configuration objects of the blocks share: serialisation and printing.

Every hardware block has one frozen configuration dataclass (in the twin module of the block:
``NormaliserConfig`` in ``normaliser.py``, ``QuantizerConfig`` in ``quantizer.py``, ...). It is
validated once, when it is made, with the defaults written once, and every layer takes it: the
HDL component, the bit-exact model, the stimulus and benches, the board harness and top, the
regressions and the commands. What ``hetq build`` synthesises and what ``hetq compare``
verifies are therefore the same object, and both print it.
"""

import dataclasses
import json

from .formats import FixedFormat

__all__ = ["BlockConfig"]


class BlockConfig:
    """Mixin of the block configurations (frozen dataclasses).

    Subclasses validate in ``__post_init__`` and resolve defaults that depend on other fields
    there (``self._resolve(name, value)``), so that a made object is always complete.
    """

    def _resolve(self, name, value):
        object.__setattr__(self, name, value)

    def to_dict(self):
        """The fields by name, formats and nested configurations as dicts (JSON-ready)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (FixedFormat, BlockConfig)):
                value = value.to_dict()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d):
        """The configuration of a :meth:`to_dict` mapping. ValueError names an unknown field;
        missing fields take their defaults; the values are validated as always."""
        if not isinstance(d, dict):
            raise TypeError(f"a {cls.__name__} must be read from a mapping, not "
                            f"{type(d).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        kwargs = {}
        hints = {name: cls._field_types().get(name) for name in known}
        for name, value in d.items():
            kind = hints.get(name)
            if isinstance(value, dict) and kind is not None:
                value = kind.from_dict(value)
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def _field_types(cls):
        """Fields holding a format or a nested configuration, by name (for :meth:`from_dict`)."""
        return {"fmt": FixedFormat}

    def to_json(self):
        """:meth:`to_dict` as one line of JSON (what builds record and commands print)."""
        return json.dumps(self.to_dict(), separators=(", ", ": "))

    def __str__(self):
        """One line: the class and its fields, the format as its formats (``default`` for
        :data:`~.formats.DEFAULT_FORMAT`), nested configurations likewise."""
        from .formats import DEFAULT_FORMAT

        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, FixedFormat):
                value = "default" if value == DEFAULT_FORMAT else " ".join(
                    f"{k} {v}" for k, v in value.describe().items())
            parts.append(f"{f.name}={value}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def replace(self, **changes):
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)
