"""``analyze --jobs N`` gives byte-identical outputs, and input errors still surface clearly."""

import pytest

from coregulate.sensors.errors import InputError
from coregulate.server.offline.analysis import analyze_session


def test_jobs_give_identical_outputs(tmp_path):
    spec = ["sim?seed=7&duration=330"]
    analyze_session(spec, tmp_path / "one", report=False)
    for jobs in (2, 4):
        analyze_session(spec, tmp_path / f"j{jobs}", report=False, jobs=jobs)
        for name in ("features.csv", "dyad.csv", "events.csv"):
            assert (tmp_path / f"j{jobs}" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), (jobs, name)


def test_an_error_deep_in_a_file_is_reported_from_the_reader_process(tmp_path):
    lines = [str(800 + (i % 7) * 10) for i in range(400)]
    lines[350] = "eight hundred"
    (tmp_path / "rr.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"rr.txt:351"):
        analyze_session([f"client=rr:{tmp_path}/rr.txt"], tmp_path / "out", report=False, jobs=3)
