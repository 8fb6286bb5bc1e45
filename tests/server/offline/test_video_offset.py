"""The video's offset found from sound: its soundtrack's per-second level against the session's
recorded loudness (both people), by cross-correlation."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from coregulate.models.alignment import envelope_offset, power_sum_db
from coregulate.server.web.app import Settings, create_app
from coregulate.server.cli.main import main

from server_helpers import SUP, VIEW, auth

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sensors" / "readers"))
from video_testkit import write_dyad_video  # noqa: E402

OFFSET_S = 37  # the camera was started 37 s into the recorded session


def test_envelope_offset_finds_a_shifted_copy_and_skips_missing_seconds():
    rng = np.random.default_rng(0)
    session = rng.normal(60, 6, 900)
    session[rng.random(900) < 0.3] = np.nan  # silent seconds: no loudness, never filled
    video = session[120:520] + rng.normal(0, 2, 400)
    video[np.isnan(video)] = rng.normal(40, 1, np.isnan(video).sum())  # the room is quieter, not silent
    found = envelope_offset(session, video)
    assert found.offset_s == pytest.approx(120, abs=0.3) and found.r > 0.8 > found.runner_up_r
    assert envelope_offset(session[:30], video[:30]) is None  # under the minimum overlap
    both = power_sum_db(np.array([[60.0, np.nan], [60.0, 60.0], [np.nan, np.nan]]))
    assert both[0] == pytest.approx(60) and both[1] == pytest.approx(63.01, abs=0.01) and np.isnan(both[2])


@pytest.fixture(scope="module")
def session_with_video(tmp_path_factory):
    """The simulator's session (with voices) and a camera video whose soundtrack follows the
    session's loudness from second 37 on; the session file is given the video's reference."""
    from coregulate.sensors.readers.video import VideoReader

    d = tmp_path_factory.mktemp("voff")
    assert main(["analyze", "sim?duration=320&seed=1", "--out", str(d / "sim"), "--quiet", "--no-report"]) == 0
    import csv

    with open(d / "sim" / "features.csv") as fh:
        rows = list(csv.DictReader(fh))
    people = sorted({r["participant"] for r in rows})
    levels = np.full((320, 2), np.nan)
    for r in rows:
        if r["loudness_db"]:
            levels[int(r["t_s"]) - 1, people.index(r["participant"])] = float(r["loudness_db"])
    env = power_sum_db(levels)
    amplitude = 10 ** (np.nan_to_num(env, nan=np.nanmin(env) - 20) / 20)
    write_dyad_video(d / "camera.mp4", seconds=240, fps=5, size=(160, 120),
                     audio_envelope=amplitude[OFFSET_S:OFFSET_S + 240] / amplitude.max())
    write_dyad_video(d / "mute.mp4", seconds=20, fps=5, size=(160, 120))
    data = d / "data" / "sessions"
    data.mkdir(parents=True)
    for name, video in (("cam", "camera.mp4"), ("mute", "mute.mp4")):
        shutil.copy(d / "sim" / "session.sqlite", data / f"{name}.sqlite")
        ref = VideoReader(d / video, "dyad").video_reference
        with sqlite3.connect(data / f"{name}.sqlite") as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES ('video', ?)", (json.dumps([ref]),))
    return d


def test_offset_found_from_the_video_sound(session_with_video):
    app = create_app(Settings(data_dir=session_with_video / "data", token=SUP, viewer_token=VIEW))
    with TestClient(app) as c:
        assert c.get("/api/sessions/cam/video/offset").status_code == 401
        r = c.get("/api/sessions/cam/video/offset", headers=auth(SUP)).json()
        assert r["found"] and r["offset_s"] == pytest.approx(OFFSET_S, abs=0.5), r
        assert r["r"] > r["runner_up_r"] and r["overlap_s"] >= 200
        assert c.get("/api/sessions/cam/video/offset", headers=auth(VIEW)).json() == {
            "found": False, "reason": "the session video is not shared with viewers"}
        mute = c.get("/api/sessions/mute/video/offset", headers=auth(SUP)).json()
        assert mute == {"found": False, "reason": "the video has no soundtrack"}


def test_the_soundtrack_is_decoded_once_per_file_version_in_a_bounded_cache(session_with_video, monkeypatch):
    from coregulate.sensors.readers import video as video_reader
    from coregulate.server.web.routers import video as video_route

    decoded = []
    real = video_reader.audio_envelope_db
    monkeypatch.setattr(video_reader, "audio_envelope_db", lambda path: decoded.append(path) or real(path))
    video_route._soundtrack_envelope.cache_clear()
    app = create_app(Settings(data_dir=session_with_video / "data", token=SUP, viewer_token=VIEW))
    with TestClient(app) as c:
        answers = [c.get("/api/sessions/cam/video/offset", headers=auth(SUP)).json() for _ in range(3)]
    assert len(decoded) == 1 and answers[0] == answers[1] == answers[2] and answers[0]["found"]
    assert video_route._soundtrack_envelope.cache_info().maxsize == 16
