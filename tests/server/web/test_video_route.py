"""The session video route: token required, a short-lived signed URL for the <video> element,
HTTP range requests, viewers only when allowed, and a clear answer for a moved or changed file."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from coregulate.server.offline.analysis import analyze_session
from coregulate.server.web.app import Settings, create_app

from server_helpers import SUP, VIEW, auth

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sensors" / "readers"))
from video_testkit import write_dyad_video  # noqa: E402


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    d = tmp_path_factory.mktemp("vroute")
    write_dyad_video(d / "session.mp4", seconds=8, size=(160, 120))
    analyze_session([f"video:{d / 'session.mp4'}?offset=2"], d / "out", report=False)
    return d


def _app(tmp_path, analysed, **kw):
    data = tmp_path / "data"
    (data / "sessions").mkdir(parents=True)
    shutil.copy(analysed / "out" / "session.sqlite", data / "sessions" / "vid.sqlite")
    return create_app(Settings(data_dir=data, token=SUP, viewer_token=VIEW, **kw))


def test_signed_url_serves_the_video_with_ranges(tmp_path, analysed):
    video = (analysed / "session.mp4").read_bytes()
    with TestClient(_app(tmp_path, analysed)) as c:
        assert c.get("/api/sessions/vid/video").status_code == 401  # token required
        info = c.get("/api/sessions/vid/video", headers=auth(SUP)).json()
        assert info["available"] and info["offset_s"] == 2.0 and info["name"] == "session.mp4"
        assert info["regions"] == {"client": "0,0,0.5,1", "therapist": "0.5,0,1,1"}
        url = info["url"]
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == video
        assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
        part = c.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == video[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(video)}"
        # the signature binds session, expiry and role: any change is refused
        q = parse_qs(urlparse(url).query)
        forged = url.replace(f"exp={q['exp'][0]}", f"exp={int(q['exp'][0]) + 3600}")
        assert c.get(forged).status_code == 401
        assert c.get(url.replace("sig=", "sig=0")).status_code == 401
        assert c.get(url.replace("/vid/", "/other/")).status_code == 401
        expired = int(time.time()) - 1
        assert c.get(url.replace(f"exp={q['exp'][0]}", f"exp={expired}")).status_code == 401
        assert c.get(url.split("?")[0]).status_code == 401  # no link, no token
        assert c.get(url.split("?")[0], headers=auth(SUP)).content == video  # a bearer header works too


def test_viewers_see_video_only_when_allowed(tmp_path, analysed):
    with TestClient(_app(tmp_path, analysed)) as c:
        info = c.get("/api/sessions/vid/video", headers=auth(VIEW)).json()
        assert info == {"available": False, "reason": "the session video is not shared with viewers"}
        assert c.get("/api/sessions/vid/video/stream", headers=auth(VIEW)).status_code == 403
        sup_url = c.get("/api/sessions/vid/video", headers=auth(SUP)).json()["url"]
        # the role is signed: a supervisor's link does not become a viewer's, nor the reverse
        assert c.get(sup_url.replace("role=supervisor", "role=viewer")).status_code == 401


def test_viewers_may_see_video_when_the_server_allows(tmp_path, analysed):
    with TestClient(_app(tmp_path, analysed, viewers_see_video=True)) as c:
        info = c.get("/api/sessions/vid/video", headers=auth(VIEW)).json()
        assert info["available"] and c.get(info["url"], headers={"Range": "bytes=0-9"}).status_code == 206


def test_moved_or_changed_video_is_reported_and_replay_data_still_served(tmp_path, analysed):
    moved = tmp_path / "copy"
    moved.mkdir()
    src = analysed / "session.mp4"
    with TestClient(_app(tmp_path, analysed)) as c:
        url = c.get("/api/sessions/vid/video", headers=auth(SUP)).json()["url"]
        shutil.move(src, moved / "session.mp4")
        try:
            info = c.get("/api/sessions/vid/video", headers=auth(SUP)).json()
            assert not info["available"] and "moved or deleted" in info["reason"]
            assert c.get(url).status_code == 404
            assert c.get("/api/sessions/vid/features", headers=auth(SUP)).status_code == 200  # replay still works
            data = (moved / "session.mp4").read_bytes()
            src.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, other content
            info = c.get("/api/sessions/vid/video", headers=auth(SUP)).json()
            assert not info["available"] and "content differs" in info["reason"]
        finally:
            shutil.move(moved / "session.mp4", src)
        assert c.get("/api/sessions/vid/video", headers=auth(SUP)).json()["available"]


def test_session_without_video_says_so(tmp_path, analysed):
    from coregulate.server.cli.main import main

    out = tmp_path / "sim"
    assert main(["analyze", "sim?duration=320&audio=0", "--out", str(out), "--quiet", "--no-report"]) == 0
    data = tmp_path / "data"
    (data / "sessions").mkdir(parents=True)
    shutil.copy(out / "session.sqlite", data / "sessions" / "sim.sqlite")
    with TestClient(create_app(Settings(data_dir=data, token=SUP, viewer_token=VIEW))) as c:
        info = c.get("/api/sessions/sim/video", headers=auth(SUP)).json()
        assert info == {"available": False, "reason": "this session has no video"}


def test_each_persons_video_is_served_and_a_reanalysis_keeps_the_references(tmp_path):
    import json

    from coregulate.server.session.store import SessionStore

    for who, seed in (("client", 1), ("therapist", 2)):
        write_dyad_video(tmp_path / f"{who}_cam.mp4", seconds=6, size=(96, 64), seed=seed)
    analyze_session([f"client=video:{tmp_path / 'client_cam.mp4'}",
                     f"therapist=video:{tmp_path / 'therapist_cam.mp4'}?offset=1"], tmp_path / "out", report=False)
    # analysing the session file again keeps pointing at the same videos (and offsets)
    analyze_session([f"session:{tmp_path / 'out' / 'session.sqlite'}"], tmp_path / "again", report=False)
    with SessionStore(tmp_path / "out" / "session.sqlite") as a, SessionStore(tmp_path / "again" / "session.sqlite") as b:
        first, second = json.loads(a.meta["video"]), json.loads(b.meta["video"])
    assert len(first) == 2 and second == first
    data = tmp_path / "data"
    (data / "sessions").mkdir(parents=True)
    shutil.copy(tmp_path / "again" / "session.sqlite", data / "sessions" / "two.sqlite")
    with TestClient(create_app(Settings(data_dir=data, token=SUP, viewer_token=VIEW))) as c:
        info = c.get("/api/sessions/two/video", headers=auth(SUP)).json()
        videos = info["videos"]
        assert [(v["index"], v["roles"], v["name"], v["offset_s"]) for v in videos] == [
            (0, ["client"], "client_cam.mp4", 0.0), (1, ["therapist"], "therapist_cam.mp4", 1.0)]
        assert info["url"] == videos[0]["url"]  # the top level is the first video, as for one camera
        for v, who in zip(videos, ("client", "therapist")):
            assert c.get(v["url"]).content == (tmp_path / f"{who}_cam.mp4").read_bytes()
        # the signature binds the video: the client's link does not open the therapist's
        assert c.get(videos[0]["url"].replace("i=0", "i=1")).status_code == 401
        assert c.get("/api/sessions/two/video/stream?i=2", headers=auth(SUP)).status_code == 404
        assert c.get("/api/sessions/two/video/stream?i=1", headers=auth(SUP)).content == (
            tmp_path / "therapist_cam.mp4").read_bytes()
