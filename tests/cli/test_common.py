"""The helpers every command group shares."""

import io

from hetq.cli.common import _LineProgress, progress


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_progress_in_a_log_writes_a_line_at_most_every_interval():
    clock, out = Clock(), io.StringIO()
    bar = _LineProgress(848, "experiment", "job", out, interval=10, clock=clock)
    for _ in range(330):
        clock.t += 0.125  # 41.25 s of jobs
        bar.update()
    bar.close()
    lines = out.getvalue().split("\n")
    assert "\r" not in out.getvalue() and lines[-1] == ""
    assert len(lines) - 1 == 1 + 4 + 1  # start, one per 10 s, end
    assert lines[0] == "experiment: 0/848 jobs (0%), 0 s"
    assert lines[1] == "experiment: 80/848 jobs (9%), 10 s, about 1 min 36 s left"
    assert lines[-2] == "experiment: 330/848 jobs (39%), 41 s, about 1 min 5 s left"


def test_progress_context_on_a_non_terminal_and_quiet():
    out = io.StringIO()
    with progress(3, "run", False, stream=out) as step:
        for _ in range(3):
            step(1)
    assert out.getvalue().splitlines() == ["run: 0/3 samples (0%), 0 s",
                                           "run: 3/3 samples (100%), 0 s"]
    quiet = io.StringIO()
    with progress(3, "run", True, stream=quiet) as step:
        step(2)
    assert quiet.getvalue() == ""
