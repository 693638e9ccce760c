"""The order in which a bench's streams took their transfers (for the golden model to replay
them in that order), and the cycle budget of a run."""

__all__ = ["merge_order", "cycle_budget"]


def merge_order(sample_cycles, write_cycles, same_cycle="error"):
    """Acceptance order from the cycles at which samples and writes were taken.

    Returns a list of ("sample", index) / ("write", index). For a sample and a write taken in
    the same cycle, ``same_cycle="sample-first"`` puts the sample first (the rule of
    :class:`~hetq.hdl.quantizer.SensorQuantizer`); ``"error"`` raises RuntimeError (the bare
    :class:`~hetq.hdl.quantizer.PhaseQuantizer` must never take both)."""
    if same_cycle not in ("error", "sample-first"):
        raise ValueError(f"same_cycle must be 'error' or 'sample-first', not {same_cycle!r}")
    taken = {}
    for i, c in enumerate(sample_cycles):
        taken.setdefault(int(c), []).append(("sample", i))
    for i, c in enumerate(write_cycles):
        taken.setdefault(int(c), []).append(("write", i))
    order = []
    for c in sorted(taken):
        group = taken[c]
        if (same_cycle == "error" and any(k == "sample" for k, _ in group)
                and any(k == "write" for k, _ in group)):
            raise RuntimeError(f"a sample and a table write were both accepted in cycle {c}")
        order.extend(sorted(group, key=lambda e: e[0] != "sample"))
    return order


def cycle_budget(period, items, *, stall=0.0, extra=0):
    """A timeout in cycles for a run of ``items`` items of ``period`` cycles each (the block's
    declared period) with sources idle and sinks stalled with probability ``stall``: twice the
    nominal time, stretched for the stalls, plus ``extra`` cycles (write delays, say) and a
    margin for the pipeline to fill and drain."""
    return int((items + 4) * period * (1 + 8 * stall) * 2 + extra + 1000)
