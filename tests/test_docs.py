"""The documents hold what the code and the other documents point to: every "section N" of the
model specification resolves in docs/model.md, and every output key of the model commands is
documented in docs/cli.md."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hetq.cli import main

ROOT = Path(__file__).resolve().parents[1]
MODEL = (ROOT / "docs" / "model.md").read_text()
CLI = (ROOT / "docs" / "cli.md").read_text()
#: "MODEL.md section 5.4", "docs/model.md sections 1-10 and 16", "MODEL.md 11.5", ...
REFERENCE = re.compile(r"(?:MODEL|model)\.md(?:'s)?\)?\s+(?:sections?\s+)?"
                       r"(\d+(?:\.\d+)?(?:(?:\s*[-–,]\s*|\s+and\s+)\d+(?:\.\d+)?)*)")


def sections():
    """{number: text} of the top-level sections of docs/model.md."""
    parts = re.split(r"^## (\d+)\. ", MODEL, flags=re.M)
    return {int(n): text for n, text in zip(parts[1::2], parts[2::2])}


def resolves(ref):
    top, _, sub = ref.partition(".")
    text = sections().get(int(top))
    if text is None:
        return False
    if not sub:
        return True
    if re.search(rf"^### {top}\.\d", text, re.M):      # numbered subsections
        return bool(re.search(rf"^### {top}\.{sub} ", text, re.M))
    return bool(re.search(rf"^{sub}\. ", text, re.M))   # else the section's numbered items


def references():
    files = [p for d in ("golden", "hdl", "sim", "hetq", "boards", "docs", "tests")
             for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".md")]
    for path in files + [ROOT / "README.md"]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in REFERENCE.finditer(line):
                for ref in re.findall(r"\d+(?:\.\d+)?", m.group(1)):
                    yield f"{path.relative_to(ROOT)}:{n}", ref


def test_model_md_has_sections_1_to_17():
    assert sorted(sections()) == list(range(1, 18))
    for sub in ("5.1", "5.2", "5.3", "5.4", "11.5", "11.7", "15.5", "15.11", "16.1", "16.4",
                "16.5"):
        assert resolves(sub), sub


def test_every_section_reference_resolves():
    refs = list(references())
    assert len(refs) > 50                                  # the pattern does find them
    bad = [(where, ref) for where, ref in refs if not resolves(ref)]
    assert not bad, bad


def test_internal_section_references_resolve():
    for m in re.finditer(r"sections? (\d+(?:\.\d+)?)", MODEL):
        assert resolves(m.group(1)), m.group(0)


def documented(key):
    return f"`{key}`" in CLI


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("docs")
    assert main(["synth", "--session", "concentration", "-o", str(d / "s.npz")]) == 0
    with np.load(d / "s.npz") as z:
        np.save(d / "x.npy", z["samples"][::16])
        keys = {"synth": set(z.files)}
    for mode in ("homogeneous", "uniform", "linear", "adaptive"):
        assert main(["calibrate", str(d / "x.npy"), "--mode", mode, "-D", "2",
                     "-o", str(d / f"{mode}.npz")]) == 0
        with np.load(d / f"{mode}.npz") as z:
            keys[mode] = set(z.files)
    assert main(["run", str(d / "x.npy"), "--weights", str(d / "uniform.npz"), "--gc", "32",
                 "--train", str(d / "x.npy"), "-q", "-o", str(d / "out.npz")]) == 0
    with np.load(d / "out.npz") as z:
        keys["run"] = set(z.files)
        keys["params"] = set(json.loads(str(z["params"])))
    return keys


@pytest.mark.parametrize("command", ["synth", "homogeneous", "uniform", "linear", "adaptive",
                                     "run", "params"])
def test_every_output_key_is_documented(outputs, command):
    missing = [k for k in sorted(outputs[command]) if not documented(k)]
    assert not missing, missing


def test_csv_outputs_are_documented():
    from hetq.cli.experiment import EXPERIMENT_OUTPUTS
    from hetq.experiment import METRICS
    for name in (*EXPERIMENT_OUTPUTS, "summary.csv", "summary.png", "fidelity.csv",
                 "fidelity.png", "gc_fidelity.csv", "gc_fidelity.png"):
        assert documented(name), name
    for column in (*METRICS, "et_acc", "networks", "mc_util_mean", "mc_util_sd",
                   "gc_util_mean", "gc_util_sd", "seconds", "mc_phases", "equal",
                   "equal_fraction", "max_step", "gc_phases", "gc_equal", "gc_equal_fraction",
                   "gc_active", "weights_equal", "weights_equal_fraction"):
        assert documented(column), column
