"""Session video through the user's path: a synthetic two-person video (generated here) gives each
person's ``movement`` and the motion synchrony's leader and lag as scripted, next to the heart
columns from ECG; replay at speed gives the same rows as ``analyze``; the session keeps a reference
to the video, never frames; a corrupt video is one error line and exit 65."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.server.cli.main import main
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner
from coregulate.server.session.sources import build_source

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sensors" / "readers"))
from video_testkit import write_dyad_video  # noqa: E402

SECONDS = 300


@pytest.fixture(scope="module")
def session_files(tmp_path_factory):
    import neurokit2 as nk

    d = tmp_path_factory.mktemp("video")
    script = write_dyad_video(d / "session.mp4", seconds=SECONDS, size=(160, 120), lag_s=2, seed=3)
    ecg = {}
    for who, hr, seed in (("client", 72, 1), ("therapist", 63, 2)):
        x = nk.ecg_simulate(duration=SECONDS, sampling_rate=130, heart_rate=hr, method="simple", random_state=seed)
        np.savetxt(d / f"ecg_{who}.csv", x, header="ecg", comments="", fmt="%.5f")
        ecg[who] = f"{who}=csv:{d / f'ecg_{who}.csv'}?rate=130&ecg=ecg:mV"
    return d, script, ecg


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_analyze_video_and_ecg_gives_movement_and_motion_synchrony_beside_heart(session_files, capsys):
    d, script, ecg = session_files
    out = d / "out"
    assert main(["analyze", f"video:{d / 'session.mp4'}", ecg["client"], ecg["therapist"], "--out", str(out),
                 "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    feats = _rows(out / "features.csv")
    for who in ("client", "therapist"):
        rows = [r for r in feats if r["participant"] == who]
        move = np.array([float(r["movement"]) for r in rows])
        # row t_s = k + 1 is the second (k, k + 1]: scripted second k
        r = np.corrcoef(move, script[who][: len(move)])[0, 1]
        assert r >= 0.95, (who, r)
        hr = [float(r["hr_bpm"]) for r in rows if r["hr_bpm"]]
        assert len(hr) > SECONDS / 2 and abs(np.median(hr) - (72 if who == "client" else 63)) < 2
    dyad = _rows(out / "dyad.csv")
    lags = [float(r["sync_motion_lag_s"]) for r in dyad if r["sync_motion_lag_s"]]
    assert len(lags) > SECONDS - 40 and np.mean(np.array(lags) == 2.0) > 0.95  # client leads by 2 s
    assert any(r["sync_hr_z"] for r in dyad)  # heart synchrony computed beside it
    led = [r["leader"] for r in dyad if r["sync_significant"] in ("1", "1.0", "True") and r["sync_signal"] == "motion"]
    assert len(led) > 60 and set(led) == {"client"}
    with SessionStore(out / "session.sqlite") as st:
        kinds = {s.kind.value for s in st.streams()}
        assert "motion" in kinds and not kinds & {"video", "frame"}  # motion energy, never frames
        ref = json.loads(st.meta["video"])[0] if isinstance(st.meta["video"], str) else st.meta["video"][0]
    video = d / "session.mp4"
    assert ref["path"] == str(video.resolve()) and ref["size"] == video.stat().st_size
    assert ref["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest() and ref["offset_s"] == 0
    assert ref["regions"] == {"client": "0,0,0.5,1", "therapist": "0.5,0,1,1"}


def _run(tmp_path: Path, name: str, specs: list[str], speed) -> tuple:
    config = PipelineConfig(window_s=60, baseline=(0, 60))
    source = build_source(specs, speed=speed)
    rec = Recorder(tmp_path / f"{name}.sqlite", name, source.streams, config, utc0=source.utc0)
    asyncio.run(SessionRunner(source, rec, config).run())
    with SessionStore(tmp_path / f"{name}.sqlite") as st:
        return st.features(), st.dyad()


def test_replay_at_speed_and_analyze_agree_on_video(tmp_path):
    write_dyad_video(tmp_path / "short.mp4", seconds=70, size=(160, 120), seed=5)
    specs = [f"video:{tmp_path / 'short.mp4'}?client=0,0,0.45,1&therapist=0.5,0,1,1&offset=1.5"]
    at_max = _run(tmp_path, "max", specs, None)
    paced = _run(tmp_path, "x35", specs, 35.0)
    moved = [r["movement"] for r in at_max[0] if r["movement"] is not None]
    assert len(moved) > 2 * 60 and max(moved) > 0.1
    assert at_max[0][0]["t_s"] == 1 and at_max[0][0]["movement"] is None  # the offset: nothing before 1.5 s
    assert paced == at_max


@pytest.mark.parametrize("content", [b"\x00\x00\x00\x18ftypisom" + b"\x13" * 5000, b"not a video at all" * 100])
def test_corrupt_video_is_one_error_line_and_exit_65(tmp_path, capsys, content):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    code = main(["analyze", f"video:{bad}", "--out", str(tmp_path / "out"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 65
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "broken.mp4" in lines[0] and "video" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "out" / "session.sqlite").exists()


def test_truncated_video_fails_with_exit_65_naming_the_frame(session_files, tmp_path, capsys):
    d, _, _ = session_files
    data = (d / "session.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])  # moov atom at the end (default mp4 muxing) is gone
    code = main(["analyze", f"video:{cut}", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 65 and "cut.mp4" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("spec, needle", [
    ("video:{p}?client=0,0,0.6", "x0,y0,x1,y1"),
    ("video:{p}?client=0.6,0,0.5,1", "0 <= x0 < x1 <= 1"),
    ("client=video:{p}?therapist=0,0,1,1", "do not apply to one person's video"),
    ("video:{p}?roi=0,0,1,1", "roi= is for one person's file"),
    ("video:{p}?threshold=300", "threshold"),
    ("video:{p}?step=0", "step"),
])
def test_bad_video_options_exit_65_with_the_field(session_files, capsys, tmp_path, spec, needle):
    d, _, _ = session_files
    code = main(["analyze", spec.format(p=d / "session.mp4"), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 65 and needle in err and len(err.strip().splitlines()) == 1


def test_batch_manifest_paths_keep_the_video_regions(tmp_path):
    from coregulate.server.offline.batch.manifest import _resolve_spec
    from coregulate.sensors.spec import parse_spec

    text, paths = _resolve_spec("video:cams/s1.mp4?client=0,0,0.4,1&therapist=0.6,0,1,1", tmp_path)
    spec = parse_spec(text)
    assert paths == [tmp_path / "cams" / "s1.mp4"] and spec.fmt == "video"
    assert dict(spec.options) == {"client": "0,0,0.4,1", "therapist": "0.6,0,1,1"}


def test_corrupt_stretch_inside_a_video_exits_65_naming_the_frame(session_files, tmp_path, capsys):
    d, _, _ = session_files
    data = bytearray((d / "session.mp4").read_bytes())
    n = len(data)
    data[n // 3: n // 3 + 20000] = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    bad = tmp_path / "mid.mp4"
    bad.write_bytes(bytes(data))
    code = main(["analyze", f"video:{bad}", "--out", str(tmp_path / "out"), "--quiet", "--no-report"])
    err = capsys.readouterr().err.strip()
    assert code == 65 and len(err.splitlines()) == 1
    assert "mid.mp4" in err and "frame " in err and "cannot decode video" in err


def test_a_person_sitting_still_on_video_corroborates_hypoarousal(tmp_path, capsys):
    # the client moves in bouts through the 90-s baseline, then sits still while HR falls and HRV rises
    rng = np.random.default_rng(11)
    levels = np.r_[rng.integers(2, 9, 90), np.zeros(120, int)]
    write_dyad_video(tmp_path / "still.mp4", seconds=210, size=(160, 120), seed=7, client_levels=levels)
    rr = np.r_[800 + 25 * rng.standard_normal(115), 1030 + 45 * rng.standard_normal(130)]
    np.savetxt(tmp_path / "client_rr.txt", rr, fmt="%.1f")
    out = tmp_path / "out"
    assert main(["analyze", f"video:{tmp_path / 'still.mp4'}", f"client=rr:{tmp_path / 'client_rr.txt'}",
                 "--baseline", "0-90", "--out", str(out), "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    feats = [r for r in _rows(out / "features.csv") if r["participant"] == "client"]
    moving = [float(r["movement"]) for r in feats[5:85]]
    still = [float(r["movement"]) for r in feats[95:205] if r["movement"]]
    assert np.median(still) < 0.1 * np.median(moving)  # the script, seen through MEA
    zones = [r["zone"] for r in feats]
    assert "hypo" in zones and "hypo_candidate" not in zones[zones.index("hypo"):]
    entered = [e for e in _rows(out / "events.csv") if e["participant"] == "client" and e["label"].endswith("-> hypo")]
    assert entered and "movement" in entered[0]["rule"] and "movement" in entered[0]["evidence"]
