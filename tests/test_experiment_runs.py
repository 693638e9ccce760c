"""Where the experiment's jobs run and what survives an interruption: a Dask LocalCluster
gives the local pool's outputs; a killed run resumed with --resume gives the uninterrupted
run's outputs; jobs.csv reads back exactly and refuses what it cannot trust."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from hetq import experiment as ex
from hetq.bench import same_records
from hetq.cli import main

#: 16 jobs (8 folds x (ET + Uniform D = 4)) of the Saturation session.
SMALL = ["experiment", "--session", "saturation", "--conditions", "uniform", "-D", "4", "-q"]
#: Every file a run writes whose bytes must not depend on where or in how many parts it ran.
OUTPUTS = ("summary.csv", "folds.csv", "jobs.csv", "jobs.json", "paper.csv", "accuracy.png",
           "sd_utilisation.png", "utilisation.png", "raster.png", "paper.png")


def data_lines(path):
    return max(0, path.read_text().count("\n") - 1) if path.exists() else 0


def assert_same_outputs(a, b):
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    assert main([*SMALL, "-j", "2", "-o", str(out)]) == 0
    return out


def test_dask_local_cluster_gives_the_local_pool_outputs(local_run, tmp_path, capsys):
    assert main([*SMALL, "--scheduler", "local:2", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "on the Dask cluster local:2" in out
    # the comparison with the published tables: 4 cells of Uniform D = 4 and the ET cell
    assert re.search(r"\nsaturation +Uniform +4 +\d+\.\d\d +86\.61 ± 3\.23", out)
    assert re.search(r"\nagreement: \d of 5 cells within one published fold SD", out)
    assert_same_outputs(local_run, tmp_path)


def test_killed_run_resumes_to_the_uninterrupted_outputs(local_run, tmp_path, capsys):
    jobs = tmp_path / "jobs.csv"
    proc = subprocess.Popen([sys.executable, "-m", "hetq", *SMALL, "-j", "1", "-o",
                             str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while data_lines(jobs) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = data_lines(jobs)
    assert 3 <= done < 16, f"the run was to be killed mid-way, it had finished {done} jobs"
    with open(jobs, "a") as f:
        f.write("saturation,uniform,4,,7,0.93")  # a line cut short, as a kill can leave it
    assert main([*SMALL, "-j", "2", "--resume", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"resuming: {done} of 16 jobs already in" in out
    assert f"{16 - done} jobs ({done} more resumed from jobs.csv)" in out
    assert_same_outputs(local_run, tmp_path)


def test_ctrl_c_leaves_a_resumable_jobs_csv(tmp_path):
    # 64 jobs (two conditions, four D): far more than the two after which the test
    # interrupts, so that a loaded machine cannot finish the run before the signal lands
    jobs = tmp_path / "jobs.csv"
    run = [*SMALL[:4], "uniform", "adaptive", "-D", "4", "8", "16", "32", "-q"]
    # SIGINT back to its default in the child: a shell starts background jobs with it
    # ignored, and Python keeps an ignored SIGINT ignored (no KeyboardInterrupt)
    proc = subprocess.Popen([sys.executable, "-m", "hetq", *run, "-j", "1", "-o",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while data_lines(jobs) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1].startswith("hetq experiment: error: interrupted; the "
                                                   "finished jobs are in")
    assert "--resume" in err
    log = ex.JobLog(tmp_path, ex.run_parameters(
        ex.paper_sessions(["saturation"]),
        ex.ExperimentConfig(conditions=("uniform", "adaptive"), duplications=(4, 8, 16, 32))),
        resume=True)
    log.close()
    assert 2 <= len(log.records) == data_lines(jobs) < 64


def test_resume_with_other_parameters_is_refused(local_run, tmp_path, capsys):
    for name in ("jobs.csv", "jobs.json"):
        (tmp_path / name).write_bytes((local_run / name).read_bytes())
    before = (tmp_path / "jobs.csv").read_bytes()
    assert main([*SMALL[:-2], "8", "-q", "--resume", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume" in err[0]
    assert "duplications [4] there, [8] here" in err[0]
    assert main([*SMALL, "--seed", "5", "--resume", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "seed 314 there, 5 here" in err and "other data here" in err
    assert (tmp_path / "jobs.csv").read_bytes() == before  # nothing was touched
    (tmp_path / "jobs.json").unlink()
    assert main([*SMALL, "--resume", "-o", str(tmp_path)]) == 1
    assert "has no jobs.json" in capsys.readouterr().err


def test_job_log_reads_back_the_records_it_wrote(tmp_path):
    session = ex.paper_sessions(["concentration"])[0]
    config = ex.ExperimentConfig(conditions=("homogeneous",), duplications=(4,), folds=8)
    todo = ex.plan([session], config)
    picked = [next(j for j in todo if j.condition == "et"),
              next(j for j in todo if j.gain == 2500)]
    records = [ex.run_job(j, session, config) for j in picked]
    params = ex.run_parameters([session], config)
    log = ex.JobLog(tmp_path, params)
    for r in records:
        log.append(r)
    log.close()
    back = ex.JobLog(tmp_path, params, resume=True)
    back.close()
    assert len(back.records) == 2
    for a, b in zip(records, back.records):
        assert same_records(a, b), (a, b)
    assert isinstance(back.records[1]["mc_util"], np.ndarray)


@pytest.mark.parametrize("line, message", [
    ("saturation,uniform,4,,0,x" + "," * 14, "line 2: column mc_acc"),
    ("saturation,uniform,4,,0", "line 2: 5 fields, expected 20"),
    ("saturation,fancy,4,,0" + "," * 15, "unknown condition 'fancy'"),
])
def test_job_log_refuses_malformed_lines(tmp_path, line, message):
    params = ex.run_parameters(ex.paper_sessions(["saturation"]), ex.ExperimentConfig())
    ex.JobLog(tmp_path, params).close([])  # a log with its header and no job
    with open(tmp_path / "jobs.csv", "a") as f:
        f.write(line + "\n")
    with pytest.raises(ValueError, match=message):
        ex.JobLog(tmp_path, params, resume=True)


def test_scheduler_option_errors(tmp_path, capsys):
    for args, message in [(["--scheduler", "local:0"], "local:N needs a worker count N >= 1"),
                          (["--scheduler", "myhost"], "neither local:N nor an address"),
                          (["--scheduler", "local:2", "-j", "2"], "--jobs sets the local")]:
        assert main([*SMALL, *args, "-o", str(tmp_path)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "jobs.csv").exists()
