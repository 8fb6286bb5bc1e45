"""The command-line contract: outputs of analyze, clear errors with sysexits codes, and
durability of a recording when the process is killed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from coregulate.models.columns import DYAD_COLUMNS, FEATURE_COLUMNS
from coregulate.server.cli.main import main
from coregulate.server.session.store import SessionStore

from server_helpers import ANALYZED_S

EXE = [sys.executable, "-m", "coregulate.server.cli.main"]


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def analyzed(analyzed_sim):
    return analyzed_sim  # read only


def test_analyze_writes_the_promised_files(analyzed):
    for name in ("session.sqlite", "features.csv", "events.csv", "dyad.csv", "report.html", "annotations.csv"):
        assert (analyzed / name).is_file(), name
    with open(analyzed / "features.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[: len(FEATURE_COLUMNS)] == list(FEATURE_COLUMNS)
    assert {r["participant"] for r in rows} == {"client", "therapist"}
    assert len(rows) == 2 * ANALYZED_S
    # a value that cannot be computed is empty, never invented: no voice without audio
    assert all(r["f0_st"] == "" for r in rows)
    late = [float(r["hr_bpm"]) for r in rows if r["participant"] == "client" and int(r["t_s"]) > 120 and r["hr_bpm"]]
    assert 60 < sum(late) / len(late) < 100
    with open(analyzed / "dyad.csv") as fh:
        assert list(csv.DictReader(fh).fieldnames)[: len(DYAD_COLUMNS)] == list(DYAD_COLUMNS)
    assert "not a diagnostic device" in (analyzed / "report.html").read_text()


def test_analyze_refuses_to_overwrite_without_flag(analyzed, capsys):
    code, _, err = _cli(capsys, "analyze", "sim?duration=400&audio=0", "--out", str(analyzed), "--quiet")
    assert code == 73 and "--overwrite" in err and "Traceback" not in err


def test_export_formats(analyzed, tmp_path, capsys):
    for fmt in ("csv", "edf", "rr"):
        code, out, err = _cli(capsys, "export", str(analyzed), "--format", fmt, "--out", str(tmp_path / fmt))
        assert code == 0, err
    rr = (tmp_path / "rr" / "client_rr.txt").read_text().split()
    assert len(rr) > 400 and all(300 < float(v) < 2000 for v in rr)
    import pyedflib

    with pyedflib.EdfReader(str(tmp_path / "edf" / "signals.edf")) as f:
        assert f.getSampleFrequency(0) == 130 and "ecg" in f.getLabel(0)
        assert abs(f.getFileDuration() - ANALYZED_S) <= 1


def test_recorded_session_replays_to_identical_features(analyzed, tmp_path):
    again = tmp_path / "again"
    assert main(["analyze", str(analyzed / "session.sqlite"), "--out", str(again), "--quiet", "--no-report"]) == 0
    a = (analyzed / "features.csv").read_text()
    b = (again / "features.csv").read_text()
    assert a == b


def _exit(capsys, *argv):
    """Exit code and stderr of one command line, whether argparse exits (SystemExit) or main returns."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def _files(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "words.txt").write_text("800\nnot-a-number\n810\n")
    (tmp_path / "unknown.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "plain.csv").write_text("t,ecg\n0,1\n0.01,2\n")
    (tmp_path / "rr.txt").write_text("800\n810\n790\n")


#: A malformed command line: exit 2, argparse style (usage line, then "coregulate CMD: error: ...").
USAGE = [
    (["analyze", "noequals", "--out", "{tmp}/o"], "analyze", "missing '='"),
    (["analyze", "Client=x.csv", "--out", "{tmp}/o"], "analyze", "not a lowercase identifier"),
    (["analyze", "client=x.csv?unit", "--out", "{tmp}/o"], "analyze", "not key=value"),
    (["analyze", "sim", "--out", "{tmp}/o", "--window", "5"], "analyze", "--window: 5 s is out of range (expected 10 to 600 s)"),
    (["analyze", "sim", "--out", "{tmp}/o", "--window", "abc"], "analyze", "'abc' is not a number"),
    (["analyze", "sim", "--out", "{tmp}/o", "--baseline", "100-50"], "analyze", "--baseline"),
    (["analyze", "sim", "--out", "{tmp}/o", "--baseline", "0-30"], "analyze", "shorter than 60 s"),
    (["analyze", "sim", "--out", "{tmp}/o", "--jobs", "0"], "analyze", "--jobs: must be at least 1"),
    (["analyze", "client=foo:{tmp}/rr.txt", "--out", "{tmp}/o"], "analyze",
     "unknown format 'foo' in 'client=foo:{tmp}/rr.txt' (known: audio, csv, e4, edf"),
    (["analyze", "client=sim", "--out", "{tmp}/o"], "analyze", "the simulator is a whole session (client and therapist)"),
    (["analyze", "sim?duration=100", "--out", "{tmp}/o"], "analyze", "simulated duration 100 s"),
    (["analyze", "sim?speed=3", "--out", "{tmp}/o"], "analyze", "unknown simulator option"),
    (["analyze", "sim", "client={tmp}/rr.txt", "--out", "{tmp}/o"], "analyze", "cannot be combined"),
    (["analyze", "client={tmp}/rr.txt", "--out", "{tmp}/o", "--code", "client=Jane Doe"], "analyze", "pseudonym"),
    (["analyze", "client={tmp}/rr.txt", "--out", "{tmp}/o", "--code", "client=A", "--code", "client=B"], "analyze",
     "two codes for 'client'"),
    (["analyze", "--out", "{tmp}/o"], "analyze", "the following arguments are required: SPEC"),
    (["replay", "sim", "--speed", "fast-ish", "--headless"], "replay", "--speed: unknown replay speed 'fast-ish'"),
    (["replay", "sim", "--speed", "-2", "--headless"], "replay", "--speed"),
    (["batch", "{tmp}/m.csv", "--out", "{tmp}/o", "--jobs", "2", "--dask", "tcp://127.0.0.1:1"], "batch",
     "--jobs and --dask exclude each other"),
    (["serve", "--port", "99999"], "serve", "port 99999 is out of range"),
    (["demo", "--duration", "60"], "demo", "simulated duration 60 s"),
    (["export", "{tmp}/x", "--format", "xls", "--out", "{tmp}/x"], "export", "invalid choice: 'xls'"),
    # record: device options are checked before any device or LSL stream is touched
    (["record", "--headless", "--data", "{tmp}/o"], "record", "no live device given"),
    (["record", "--headless", "--lsl-in", "client", "--data", "{tmp}/o"], "record", "--lsl-in: 'client'"),
]


@pytest.mark.parametrize("argv,command,needle", USAGE, ids=[u[2][:40] for u in USAGE])
def test_usage_errors_exit_2_argparse_style(argv, command, needle, tmp_path, capsys):
    _files(tmp_path)
    code, err = _exit(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    last = err.strip().splitlines()[-1]
    assert code == 2, err
    assert err.startswith(f"usage: coregulate {command}") and "Traceback" not in err
    assert last.startswith(f"coregulate {command}: error: ") and needle.replace("{tmp}", str(tmp_path)) in last
    assert not (tmp_path / "o").exists()  # nothing written before the command line is known to be right


#: Bad data (exit 65): one line naming the file, line or field and what was expected.
DATA = [
    (["analyze", "client={tmp}/empty.txt", "--out", "{tmp}/o"], "empty.txt:1: empty file"),
    (["analyze", "client=rr:{tmp}/words.txt", "--out", "{tmp}/o"], "words.txt:2"),
    (["analyze", "client={tmp}/unknown.bin", "--out", "{tmp}/o"], "unknown.bin"),
    (["analyze", "client=csv:{tmp}/plain.csv?time=t:s&ecg=nope:uV", "--out", "{tmp}/o"], "nope"),
    (["analyze", "client={tmp}/rr.txt", "client={tmp}/rr.txt", "--out", "{tmp}/o"], "rr.txt"),
    (["analyze", "client=rr:{tmp}/rr.txt?unit=ms", "--out", "{tmp}/o", "--code", "therapist=T01"], "therapist"),
]


@pytest.mark.parametrize("argv,needle", DATA, ids=[d[1] for d in DATA])
def test_bad_data_exits_65_with_one_clear_line(argv, needle, tmp_path, capsys):
    _files(tmp_path)
    code, err = _exit(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 65, err
    assert needle in err and "Traceback" not in err and "usage:" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("coregulate analyze: error: ")


#: Missing input (exit 66).
MISSING = [
    (["analyze", "client=nonexistent.csv", "--out", "{tmp}/o"], "nonexistent.csv: no such file"),
    (["analyze", "client=rr:{tmp}/gone/rr.txt", "--out", "{tmp}/o"], "gone/rr.txt"),
    (["analyze", "{tmp}/gone.sqlite", "--out", "{tmp}/o"], "gone.sqlite"),
    (["export", "{tmp}/nothing-here", "--format", "csv", "--out", "{tmp}/x"], "nothing-here"),
    (["batch", "{tmp}/no-manifest.csv", "--out", "{tmp}/o"], "no-manifest.csv"),
]


@pytest.mark.parametrize("argv,needle", MISSING, ids=[m[1] for m in MISSING])
def test_missing_input_exits_66(argv, needle, tmp_path, capsys):
    code, err = _exit(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 66, err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_version_and_help_list_formats_and_examples(capsys):
    from coregulate.sensors.spec import KNOWN_FORMATS
    from coregulate.server.version import coregulate_version

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"coregulate {coregulate_version()}"
    for argv in (["--help"], ["analyze", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        out = capsys.readouterr().out
        assert e.value.code == 0
        table = out.split("input formats", 1)[1].split("examples:", 1)[0]
        for fmt in (*KNOWN_FORMATS, "sim", "session"):
            assert f"\n  {fmt} " in table, fmt
        assert "whole dyad on its own, no ROLE" in table
        examples = [ln for ln in out.split("examples:", 1)[1].splitlines() if ln.startswith("  coregulate ")]
        assert len(examples) == 3


def test_real_process_prints_no_traceback(tmp_path):
    res = subprocess.run([*EXE, "analyze", f"client={tmp_path}/missing.txt", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 66 and "Traceback" not in res.stderr and "missing.txt" in res.stderr


def test_sigkill_loses_at_most_the_last_second(tmp_path):
    """Kill -9 a replay at ×10: the file opens, is marked interrupted, and holds everything up
    to one wall-second (10 session seconds) before the kill."""
    speed = 10
    proc = subprocess.Popen([*EXE, "replay", "sim?duration=1200&audio=0", "--headless", "--speed", str(speed),
                             "--data", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reached = 0
    deadline = time.monotonic() + 120
    try:
        for line in proc.stdout:
            if line.startswith("at "):
                reached = int(line.split()[1])
                if reached >= 90:
                    break
            assert time.monotonic() < deadline
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert reached >= 90
    path = next((tmp_path / "sessions").glob("*.sqlite"))
    st = SessionStore(path)
    assert st.status() == "interrupted"
    ecg_end = max(c.t_end for c in st.chunks("client/ecg"))
    assert ecg_end >= reached - speed * 1.0 - 1, (ecg_end, reached)
    # features trail the raw data by the estimators' look-ahead (beat finalisation, artefact
    # classifier); what they had produced a second before the kill is on disk too
    feats = st.features(participant="client")
    assert feats and feats[-1]["t_s"] >= reached - speed - 30
    # and it replays
    st.close()
    assert main(["analyze", str(path), "--out", str(tmp_path / "re"), "--quiet", "--no-report"]) == 0


def test_pseudonymous_codes_and_no_folders_in_the_session_file(tmp_path, capsys):
    folder = tmp_path / "Jane Doe study"
    folder.mkdir()
    (folder / "rr.txt").write_text("".join(f"{800 + (i % 9) * 7}\n" for i in range(420)))
    out = tmp_path / "o"
    code = main(["analyze", f"client=rr:{folder}/rr.txt", "--out", str(out), "--quiet", "--no-report",
                 "--code", "client=C07"])
    assert code == 0, capsys.readouterr().err
    with SessionStore(out / "session.sqlite") as st:
        assert st.participants() == {"client": "C07"}
        assert "Jane Doe" not in str(st.info())
    raw = (out / "session.sqlite").read_bytes()
    assert b"Jane Doe" not in raw
    # a name is not a code (a malformed option: 2), and a code must name a role that exists (65)
    for bad, needle, expected in (("client=Jane Doe", "pseudonym", 2), ("therapist=T01", "therapist", 65)):
        code, err = _exit(capsys, "analyze", f"client=rr:{folder}/rr.txt", "--out", str(tmp_path / "x"), "--quiet",
                          "--code", bad)
        assert code == expected and needle in err


def test_manifests_and_the_api_get_the_same_words_as_the_command_line():
    """build_source (batch manifests, API file sessions) says what is wrong with a SPEC as the CLI
    does, as bad data (65): the command line is not where the mistake was made."""
    from coregulate.sensors.errors import InputError
    from coregulate.server.session.sources import build_source

    for spec, words in (("client=sim", "takes no role"), ("client=foo:x.csv", "unknown format 'foo'")):
        with pytest.raises(InputError) as e:
            build_source([spec])
        assert words in str(e.value) and e.value.exit_code == 65
