"""Broken files of every supported format through the user's command, ``coregulate analyze``.

Each case starts from a small valid file (or folder) of one format, then truncates it, flips
bytes, inserts NaN/inf or garbage, swaps lines (timestamps out of order) or replaces it with
random bytes. Whatever the damage, the command either analyses what it can (exit 0, nothing on
stderr that looks like an error) or stops with exactly one line on stderr and exit 65 (bad data)
or 66 (missing input): never a traceback, never another exit code. Most cases run ``main()``
in-process (a subprocess costs seconds of imports); a few run the real console command, where
third-party loggers would reach the terminal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coregulate.server.cli.main import main

from readers_testkit import write_e4, write_polar_ecg, write_xdf
from test_reader_fuzz import BINARIES, VALID

ALLOWED_ERROR_CODES = {65, 66}
TOKENS = [b"nan", b"NaN", b"inf", b"-inf", b"1e400", b"\x00", b";", b",", b"\n", b"\xff\xfe", b"-"]


def _seed_folder(root: Path) -> dict[str, tuple[Path, str]]:
    """Name -> (file or folder to damage, SPEC with {path} for the damaged copy)."""
    import wfdb

    seeds: dict[str, tuple[Path, str]] = {}
    for name, (fmt, text, suffix) in VALID.items():
        p = root / f"{name}.txt"
        p.write_text(text)
        seeds[name] = (p, f"client={fmt}:{{path}}{suffix}")
    for fmt, data in BINARIES.items():
        p = root / f"seed.{fmt}"
        p.write_bytes(data)
        seeds[fmt] = (p, f"client={fmt}:{{path}}")
    p = root / "long_polar_ecg.txt"
    write_polar_ecg(p, n=130 * 40)
    seeds["polar_ecg_40s"] = (p, "client=polar:{path}")
    p = root / "two_streams.xdf"
    t = 1 + np.arange(600) / 50
    write_xdf(p, [dict(id=1, name="e", type="ECG", srate=50, fmt="float32", times=t, values=np.sin(t * 7)),
                  dict(id=2, name="m", type="Markers", srate=0, fmt="string", times=[2.5, 3.0], values=["a", "b"])])
    seeds["xdf_markers"] = (p, "client=xdf:{path}")
    e4 = root / "e4"
    write_e4(e4, seconds=12)
    seeds["e4"] = (e4, "client=e4:{path}")
    wf = root / "wfdb"
    wf.mkdir()
    sig = np.column_stack([np.sin(np.arange(2000) / 5.0), np.linspace(1, 2, 2000)])
    cwd = os.getcwd()
    try:
        os.chdir(wf)
        wfdb.wrsamp("rec", fs=100, units=["mV", "uS"], sig_name=["ECG", "hand GSR"], p_signal=sig, fmt=["16", "16"])
    finally:
        os.chdir(cwd)
    seeds["wfdb"] = (wf, "client=wfdb:{path}/rec")
    # a Coregulate session file, as analyze writes it (replayed with the "session" format)
    rr, spec = seeds["rr"]
    if main(["analyze", spec.format(path=rr), "--out", str(root / "analysed")]) != 0:
        raise RuntimeError("the session seed could not be made")
    seeds["session"] = (root / "analysed" / "session.sqlite", "{path}")
    return seeds


SEED_ROOT = Path(tempfile.mkdtemp(prefix="cg_cli_fuzz_seeds"))
SEEDS = _seed_folder(SEED_ROOT)
NAMES = sorted(SEEDS)


@st.composite
def damage(draw):
    """(seed name, file inside a folder seed or None, list of operations on its bytes)."""
    name = draw(st.sampled_from(NAMES))
    src, _ = SEEDS[name]
    member = draw(st.sampled_from(sorted(p.name for p in src.iterdir()))) if src.is_dir() else None
    ops = draw(st.lists(st.one_of(
        st.tuples(st.just("truncate"), st.floats(0, 1)),
        st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
        st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(TOKENS)),
        st.tuples(st.just("swap_lines"), st.floats(0, 1)),
        st.tuples(st.just("random"), st.binary(max_size=300)),
    ), min_size=1, max_size=3))
    return name, member, ops


def apply(data: bytes, ops) -> bytes:
    for op in ops:
        at = int(op[1] * len(data)) if op[0] != "random" else 0
        if op[0] == "truncate":
            data = data[:at]
        elif op[0] == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([op[2]]) + data[at + 1:]
        elif op[0] == "insert":
            data = data[:at] + op[2] + data[at:]
        elif op[0] == "swap_lines":  # timestamps out of order
            lines = data.split(b"\n")
            i = min(int(op[1] * len(lines)), max(0, len(lines) - 2))
            if len(lines) > i + 1:
                lines[i], lines[i + 1] = lines[i + 1], lines[i]
            data = b"\n".join(lines)
        elif op[0] == "random":
            data = op[1]
    return data


def make_case(case, where: Path) -> str:
    name, member, ops = case
    src, spec = SEEDS[name]
    if src.is_dir():
        dst = where / src.name
        shutil.copytree(src, dst)
        target = dst / member
    else:
        dst = target = where / src.name
        shutil.copy(src, dst)
    target.write_bytes(apply(target.read_bytes(), ops))
    return spec.format(path=dst)


def check_outcome(code: int, err: str, case) -> None:
    assert "Traceback" not in err, (case, err)
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 0:
        assert not any("error" in line.lower() for line in lines), (case, err)
        return
    assert code in ALLOWED_ERROR_CODES, (case, code, err)
    assert len(lines) == 1, (case, err)
    assert lines[0].startswith("coregulate analyze: error: "), (case, err)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=damage())
def test_damaged_files_through_analyze(case, capsys):
    where = Path(tempfile.mkdtemp(prefix="cg_cli_fuzz"))
    try:
        spec = make_case(case, where)
        capsys.readouterr()
        code = main(["analyze", spec, "--out", str(where / "out")])
        check_outcome(code, capsys.readouterr().err, case)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_every_format_has_a_seed_and_the_seeds_analyse(capsys, tmp_path):
    """The damage starts from valid files, and every reader format is among them."""
    from coregulate.sensors.readers import FORMATS

    formats = {SEEDS[n][1].split("=", 1)[1].split(":", 1)[0] for n in NAMES if "=" in SEEDS[n][1]}
    assert formats >= set(FORMATS) - {"audio"}  # "audio" is the wav/flac reader under another name
    assert "session" in SEEDS
    for name in ("rr", "polar_ecg_40s", "e4", "wfdb", "xdf_markers", "session"):
        src, spec = SEEDS[name]
        code = main(["analyze", spec.format(path=src), "--out", str(tmp_path / name)])
        assert code == 0, (name, capsys.readouterr().err)


@pytest.mark.parametrize("name, ops", [
    ("xdf", [("flip", 0.05, 0xFF)]),          # a chunk header: the case that leaked pyxdf's traceback
    ("xdf", [("truncate", 0.6)]),
    ("edf", [("flip", 0.02, 0x41), ("truncate", 0.9)]),
    ("wav", [("truncate", 0.01)]),
    ("session", [("flip", 0.3, 0x00), ("flip", 0.5, 0xFF)]),
])
def test_real_command_prints_one_line(name, ops, tmp_path):
    """The console command itself: library loggers must not reach the terminal either."""
    spec = make_case((name, None, ops), tmp_path)
    out = subprocess.run([sys.executable, "-m", "coregulate.server.cli.main", "analyze", spec, "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=300)
    check_outcome(out.returncode, out.stderr, (name, ops))


def test_corrupt_xdf_says_so_with_the_byte_offset(tmp_path, capsys):
    src, _ = SEEDS["xdf"]
    data = bytearray(src.read_bytes())
    data[4] = 7  # the first chunk's length prefix: XDF allows 1, 4 or 8
    p = tmp_path / "bad.xdf"
    p.write_bytes(bytes(data))
    assert main(["analyze", f"client=xdf:{p}", "--out", str(tmp_path / "o")]) == 65
    err = capsys.readouterr().err
    assert "not a valid XDF file" in err and "at byte 4" in err
