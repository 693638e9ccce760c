import numpy as np
import pytest

from hetq import experiment as ex
from hetq.cli import main


def test_plan_counts_and_order():
    sessions = ex.paper_sessions()
    jobs = ex.plan(sessions, ex.ExperimentConfig(duplications=(4, 16)))
    # per session and fold: ET + (10 homogeneous gains + uniform + scaled + adaptive) per D
    assert len(jobs) == 2 * 8 * (1 + 13 * 2)
    assert [j.duplication for j in jobs[:3]] == [16] * 3 and jobs[-1].condition == "et"


def test_gc_count_rule():
    assert ex.gc_count("uniform", "concentration", 32) == 128
    assert ex.gc_count("adaptive", "concentration", 32) == 64
    assert ex.gc_count("scaled", "saturation", 256) == 1024


def test_config_errors():
    with pytest.raises(ValueError, match="unknown condition 'fancy'"):
        ex.ExperimentConfig(conditions=("fancy",))
    with pytest.raises(ValueError, match="folds must be >= 2"):
        ex.ExperimentConfig(folds=1)


def fake(session, condition, d, gain, fold, **metrics):
    rec = {"session": session, "condition": condition, "duplication": d, "gain": gain,
           "fold": fold}
    rec.update({m: 0.0 for m in ex.METRICS})
    rec.update(metrics)
    return rec


def test_homogeneous_is_averaged_over_gains_per_fold_then_over_folds():
    recs = [fake("s", "homogeneous", 4, 25.0, 0, mc_acc=50.0),
            fake("s", "homogeneous", 4, 45.0, 0, mc_acc=70.0),
            fake("s", "homogeneous", 4, 25.0, 1, mc_acc=80.0),
            fake("s", "homogeneous", 4, 45.0, 1, mc_acc=100.0),
            fake("s", "uniform", 4, None, 0, mc_acc=90.0),
            fake("s", "uniform", 4, None, 1, mc_acc=94.0),
            {"session": "s", "condition": "et", "duplication": 0, "gain": None, "fold": 0,
             "et_acc": 97.0},
            {"session": "s", "condition": "et", "duplication": 0, "gain": None, "fold": 1,
             "et_acc": 99.0}]
    rows = ex.fold_table(recs)
    assert [r["mc_acc"] for r in rows if r["condition"] == "homogeneous"] == [60.0, 90.0]
    summary = ex.summarise(recs, ex.ExperimentConfig())
    hom = next(r for r in summary if r["condition"] == "Homogeneous")
    assert hom["mc_acc"] == 75.0 and hom["mc_acc_sd"] == pytest.approx(np.std([60, 90], ddof=1))
    assert hom["et_acc"] == 98.0
    assert [r["condition"] for r in summary] == ["Homogeneous", "Uniform"]


def test_small_real_run_in_two_processes():
    session = ex.paper_sessions(["saturation"])[0]
    config = ex.ExperimentConfig(conditions=("uniform",), duplications=(4,), folds=8)
    records = ex.run_experiment([session], config, jobs=2)
    assert len(records) == 16
    summary = ex.summarise(records, config)
    assert len(summary) == 1
    row = summary[0]
    assert row["folds"] == 8 and 30 < row["mc_util_mean"] < 60 and row["mc_util_sd"] < 5
    assert row["mc_acc"] > 60 and row["et_acc"] > 60
    uni = [r for r in records if r["condition"] == "uniform"]
    assert all(r["mc_util"].shape == (112,) for r in uni)


def test_experiment_cli_on_drift_files(tmp_path, capsys):
    rng = np.random.default_rng(5)
    lines = []
    for k in range(60):
        cls = k % 3 + 1
        values = rng.uniform(1, 5, size=128)
        values[0:128:8][:8] *= 1 + 3 * (np.arange(8) == cls)  # each class drives one sensor
        lines.append(f"{cls};1.0 " + " ".join(f"{i + 1}:{v:.5f}" for i, v in enumerate(values)))
    (tmp_path / "batch1.dat").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["experiment", "--data", str(tmp_path), "--conditions", "uniform", "-D", "4",
                 "-j", "1", "-q", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 classes x 16 samples" in text and "Uniform" in text
    for f in ("summary.csv", "folds.csv", "jobs.csv", "accuracy.png", "sd_utilisation.png",
              "utilisation.png", "raster.png"):
        assert (out / f).stat().st_size > 0, f
    assert not (out / "paper.csv").exists() and "published" not in text  # not the paper's data
    head, row = (out / "summary.csv").read_text().splitlines()[:2]
    assert head.startswith("session,condition,duplication,folds,mc_acc")
    assert float(row.split(",")[4]) > 60  # MC accuracy on 3 separable classes


def test_experiment_cli_errors(tmp_path, capsys):
    assert main(["experiment", "--data", str(tmp_path / "none.dat"), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    np.savetxt(tmp_path / "one.csv", np.c_[np.ones((10, 3)), np.zeros(10)], delimiter=",")
    assert main(["experiment", "--data", str(tmp_path / "one.csv"), "-o", str(tmp_path)]) == 1
    assert "at least two classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["experiment", "--conditions", "fancy", "-o", str(tmp_path)])


def test_fixed_point_network_matches_float_within_noise():
    from hetq.golden.fixed.network import FixedNetwork
    session = ex.paper_sessions(["concentration"])[0]
    recs, nets = {}, {}
    for model in ex.MODELS:
        config = ex.ExperimentConfig(conditions=("uniform",), duplications=(8,), model=model)
        job = next(j for j in ex.plan([session], config) if j.condition == "uniform")
        recs[model] = ex.run_job(job, session, config)
        nets[model] = ex.fold_network(job, session, config)
    # the fixed run is the whole fixed-point network, GC layer and STDP included
    assert isinstance(nets["fixed"][0], FixedNetwork)
    (ref, r_out), (fix, f_out) = nets["float"], nets["fixed"]
    assert np.mean(f_out.gc_phase == r_out.gc_phase) > 0.999 and r_out.gc_phase.any()
    assert np.mean(fix.mc_gc_weights == ref.mc_gc_weights) > 0.999
    assert np.mean(recs["fixed"]["mc_util"] == recs["float"]["mc_util"]) > 0.95
    assert abs(recs["fixed"]["mc_acc"] - recs["float"]["mc_acc"]) < 3
    assert abs(recs["fixed"]["gc_util_mean"] - recs["float"]["gc_util_mean"]) < 1
    with pytest.raises(ValueError, match="model must be one of float, fixed"):
        ex.ExperimentConfig(model="analog")


def test_solvers_give_identical_records_on_sampled_jobs():
    # The libsvm solver against the scikit-learn reference (one SVC per fit) on a sample of
    # real jobs: every chosen C and gamma, accuracy and utilisation the same.
    from hetq.bench import same_records
    session = ex.paper_sessions(["concentration"])[0]
    config = ex.ExperimentConfig(conditions=("homogeneous", "adaptive"), duplications=(4, 8))
    todo = ex.plan([session], config)
    rng = np.random.default_rng(12)
    sample = [todo[i] for i in rng.choice(len(todo), 3, replace=False)]
    sample.append(next(j for j in todo if j.condition == "et"))
    reference = ex.ExperimentConfig(**{**config.__dict__, "solver": "sklearn"})
    for job in sample:
        fast, ref = ex.run_job(job, session, config), ex.run_job(job, session, reference)
        assert same_records(fast, ref), ex.job_key(job)
        assert {"et_c", "et_gamma"} <= set(fast) if job.condition == "et" else \
            {"mc_c", "mc_gamma", "gc_c", "gc_gamma"} <= set(fast)


def _summary_rows(shift=0.0):
    rows = []
    for d in (4, 8):
        row = {"session": "concentration", "condition": "Uniform", "duplication": d}
        for m in ex.METRICS:
            row[m], row[f"{m}_sd"] = 50.0 + d + shift, 1.0
        rows.append(row)
    return rows


def test_compare_runs_cell_by_cell(tmp_path):
    ex.write_csv(_summary_rows(), tmp_path / "summary.csv")
    reference = ex.read_summary(tmp_path / "summary.csv")
    assert reference == _summary_rows()
    cells = ex.compare_runs(_summary_rows(0.5), reference)
    assert len(cells) == 2 * len(ex.METRICS) and all(c["within"] for c in cells)
    cells = ex.compare_runs(_summary_rows(1.5), reference)
    assert not any(c["within"] for c in cells)
    assert cells[0]["difference"] == pytest.approx(1.5) and cells[0]["reference_sd"] == 1.0
    with pytest.raises(ValueError, match="cover different rows"):
        ex.compare_runs(_summary_rows()[:1], reference)
    with pytest.raises(ValueError, match="no such file"):
        ex.read_summary(tmp_path / "none.csv")
    (tmp_path / "bad.csv").write_text("session,condition\nx,y\n")
    with pytest.raises(ValueError, match="not a hetq experiment summary"):
        ex.read_summary(tmp_path / "bad.csv")


def test_against_is_checked_before_any_job(tmp_path, capsys):
    assert main(["experiment", "--quick", "--against", str(tmp_path / "nowhere"),
                 "-o", str(tmp_path / "out")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "out" / "jobs.csv").exists()
