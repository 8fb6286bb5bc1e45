"""Paths and uploads: no route reads outside the data directory, whatever the id or path looks
like, and request bodies are bounded.

Two real session files are planted where a traversal would land: ``DATA/secret.sqlite`` (next
to ``DATA/sessions``) and ``TMP/outside.sqlite`` (outside the data directory). Every route that
takes a session id, stream, format or file path is then tried with ``../``, absolute paths,
URL-encoded and double-encoded forms, backslashes, NUL bytes and overlong ids: the answer must
be a 4xx that leaks nothing of either file, never a 5xx.
"""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from coregulate.models.config import PipelineConfig
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.server.web.app import Settings, create_app
from coregulate.server.session.recorder import Recorder

SUP = "p" * 20 + "-supervisor-token"
VIEW = "q" * 20 + "-viewer-token"
H = {"Authorization": f"Bearer {SUP}"}
MARK = "SECRET-MARKER-7f3a"  # text only the planted files contain


def _plant(path, session_id: str, secret: bool = True) -> None:
    ecg = StreamInfo("client", StreamKind.ECG, 100.0)
    rec = Recorder(path, session_id, [ecg], PipelineConfig(), utc0=1.7e9, meta={"label": MARK if secret else "ok"})
    rec.write_chunk(Chunk(ecg, np.full(300, 1234.5 if secret else 10.0), t0=0.0))
    rec.write_features([{"t_s": 1, "participant": "client", "hr_bpm": 61.0}])
    rec.add_annotation(0.5, MARK if secret else "fine", "x")
    rec.close()


@pytest.fixture
def env(tmp_path):
    data = tmp_path / "data"
    _plant(data / "secret.sqlite", MARK)
    _plant(tmp_path / "outside.sqlite", MARK)
    _plant(data / "sessions" / "ok-1.sqlite", "ok-1", secret=False)  # a legitimate session, for contrast
    outside_rr = tmp_path / "outside_rr.txt"
    outside_rr.write_text("\n".join(str(800 + i % 7) for i in range(400)) + "\n")
    app = create_app(Settings(data_dir=data, token=SUP, viewer_token=VIEW))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, tmp_path, data


# (bare "." and ".." are normalised away by the HTTP client itself; their encoded forms are not)
BAD_IDS = [
    "...", "..%2Fsecret", "..%2F..%2Foutside", "%2e%2e%2fsecret", "%2E%2E%2F%2E%2E%2Foutside",
    "%252e%252e%252fsecret", "..%5Csecret", "..\\secret", "%2Ftmp%2Foutside", "%2F%2Fetc%2Fpasswd",
    "secret%00", "ok-1%00", "ok-1%00.sqlite", "%00", "ok-1%0a", "ok-1%0d%0a", "secret.sqlite", ".secret",
    "-secret", "ok-1.sqlite%2F..%2F..%2Fsecret", "a" * 65, "a" * 5000, "%C0%AE%C0%AE%2Fsecret", "ｓｅｃｒｅｔ",
    "..%252F..%252Foutside", "ok-1%3B..%2Fsecret", "%20..%2Fsecret",
]

ID_ROUTES = [
    ("GET", "/api/sessions/{id}", None),
    ("GET", "/api/sessions/{id}/status", None),
    ("GET", "/api/sessions/{id}/participants", None),
    ("GET", "/api/sessions/{id}/features", None),
    ("GET", "/api/sessions/{id}/dyad", None),
    ("GET", "/api/sessions/{id}/events", None),
    ("GET", "/api/sessions/{id}/waveform?stream=client/ecg&t_to=3", None),
    ("GET", "/api/sessions/{id}/annotations", None),
    ("POST", "/api/sessions/{id}/annotations", {"t_s": 1, "text": "probe"}),
    ("PATCH", "/api/sessions/{id}/annotations/1", {"text": "probe"}),
    ("DELETE", "/api/sessions/{id}/annotations/1", None),
    ("GET", "/api/sessions/{id}/export?fmt=csv", None),
    ("POST", "/api/sessions/{id}/start", None),
    ("POST", "/api/sessions/{id}/stop", None),
]


def _leaks(resp) -> bool:
    return MARK.encode() in resp.content or b"1234.5" in resp.content


def test_the_legitimate_session_is_readable(env):
    c, _, _ = env
    assert c.get("/api/sessions/ok-1/features", headers=H).json()["rows"][0]["hr_bpm"] == 61.0
    assert c.get("/api/sessions/ok-1/annotations", headers=H).status_code == 200
    assert "ok-1" in {s["id"] for s in c.get("/api/sessions", headers=H).json()}


@pytest.mark.parametrize("method,route,body", ID_ROUTES, ids=[f"{m} {r}" for m, r, _ in ID_ROUTES])
def test_no_session_id_reaches_outside_the_sessions_folder(env, method, route, body):
    c, _, data = env
    before = sorted(p.name for p in data.rglob("*"))
    for bad in BAD_IDS:
        r = c.request(method, route.replace("{id}", bad), headers=H, json=body)
        assert 400 <= r.status_code < 500, (bad, r.status_code, r.text[:200])
        assert not _leaks(r), (bad, r.text[:200])
    # nothing was created or modified by the probes (no annotation landed in a planted file)
    assert sorted(p.name for p in data.rglob("*")) == before


def test_the_session_list_shows_only_the_sessions_folder(env):
    c, _, _ = env
    r = c.get("/api/sessions", headers=H)
    assert r.status_code == 200 and not _leaks(r)
    assert [s["id"] for s in r.json()] == ["ok-1"]


@pytest.mark.parametrize("query", [
    "stream=../../secret", "stream=..%2F..%2Fsecret", "stream=%2Ftmp%2Foutside", "stream=client%2F..%2Fecg",
    "stream=client/ecg%00", "stream=" + "x" * 5000,
])
def test_waveform_stream_names_are_not_paths(env, query):
    c, _, _ = env
    r = c.get(f"/api/sessions/ok-1/waveform?{query}&t_to=3", headers=H)
    assert 400 <= r.status_code < 500 and not _leaks(r), (query, r.status_code)


@pytest.mark.parametrize("fmt", ["../../secret", "csv/../../x", "%2e%2e", "csv%00", "zip"])
def test_export_format_is_a_closed_list(env, fmt):
    c, _, _ = env
    r = c.get(f"/api/sessions/ok-1/export?fmt={fmt}", headers=H)
    assert r.status_code == 422 and not _leaks(r)


def test_export_zip_holds_only_relative_names(env):
    import io
    import zipfile

    c, _, _ = env
    r = c.get("/api/sessions/ok-1/export?fmt=csv", headers=H)
    assert r.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert names and all(not n.startswith(("/", "\\")) and ".." not in n.split("/") for n in names)


@pytest.mark.parametrize("path", [
    "/static/../pyproject.toml", "/static/..%2f..%2fpyproject.toml", "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%5c..%5cpyproject.toml", "/static/%2e%2e%2f%2e%2e%2fserver%2fauth.py", "/static//etc/passwd",
    "/static/%00", "/static/index.html%00.js", "/..%2f..%2fdata%2ftoken.json", "/static/../data/token.json",
])
def test_static_files_stay_in_the_static_folder(env, path):
    c, _, data = env
    r = c.get(path)
    assert r.status_code in (400, 404, 405), (path, r.status_code)
    token = (data / "token.json").read_text()
    assert b"[project]" not in r.content and b"root:" not in r.content and token.encode() not in r.content


def test_file_sources_outside_the_data_directory_are_refused(env):
    """A supervisor may replay recordings the operator put under DATA, not any file the server
    process can read (``/etc``, other users' homes, another study's folder)."""
    c, tmp, data = env
    outside = tmp / "outside_rr.txt"
    inside = data / "imports" / "rr.txt"
    inside.parent.mkdir(parents=True)
    inside.write_text(outside.read_text())
    for spec in (f"client=rr:{outside}", f"client=rr:{data}/../outside_rr.txt", f"client=rr:{data}/imports/../../outside_rr.txt",
                 f"session:{tmp}/outside.sqlite", f"{tmp}/outside.sqlite",
                 "client=rr:/etc/hostname", "client=rr:../outside_rr.txt", "client=rr:/proc/self/environ"):
        r = c.post("/api/sessions", headers=H, json={"source": {"kind": "files", "specs": [spec]}, "start": False})
        assert r.status_code in (403, 422), (spec, r.status_code, r.text[:200])
        assert not _leaks(r) and "root:" not in r.text, spec
    # inside DATA, only recordings: the token file read as a recording leaks nothing
    for fmt in ("rr", "csv", "hrvlogger"):
        r = c.post("/api/sessions", headers=H, json={"source": {"kind": "files", "specs": [f"client={fmt}:{data}/token.json"]},
                                                     "start": False})
        assert r.status_code == 422 and SUP not in r.text and VIEW not in r.text, (fmt, r.text[:300])
    # a symlink inside DATA that points outside is outside
    link = data / "imports" / "link_rr.txt"
    link.symlink_to(outside)
    r = c.post("/api/sessions", headers=H, json={"source": {"kind": "files", "specs": [f"client=rr:{link}"]}, "start": False})
    assert r.status_code in (403, 422), r.text
    # while a recording under DATA is accepted
    r = c.post("/api/sessions", headers=H, json={"source": {"kind": "files", "specs": [f"client=rr:{inside}"]}, "start": False})
    assert r.status_code == 201, r.text
    assert [s["key"] for s in r.json()["streams"]] == ["client/rr"]


# -- size limits ---------------------------------------------------------------------------------

def test_annotation_fields_are_bounded(env):
    c, _, _ = env
    url = "/api/sessions/ok-1/annotations"
    assert c.post(url, headers=H, json={"t_s": 1, "text": "x" * 2000}).status_code == 201
    assert c.post(url, headers=H, json={"t_s": 1, "text": "x" * 2001}).status_code == 422
    assert c.post(url, headers=H, json={"t_s": 1, "text": "ok", "author": "a" * 101}).status_code == 422
    assert c.post(url, headers=H, json={"t_s": 1, "text": ""}).status_code == 422
    assert c.patch(f"{url}/1", headers=H, json={"text": "y" * 2001}).status_code == 422
    assert c.post(url, headers=H, json={"t_s": 1, "text": "ok", "extra": "no"}).status_code == 422
    assert c.post("/api/sessions", headers=H, json={"source": {"kind": "simulator"}, "label": "l" * 201,
                                                     "start": False}).status_code == 422


def test_large_request_bodies_are_refused_before_they_are_parsed(env):
    c, _, data = env
    big = {"source": {"kind": "simulator", "duration_s": 400}, "start": False,
           "options": {"heart": {f"k{i}": "v" * 100 for i in range(20_000)}}}  # ~2.4 MB of JSON
    r = c.post("/api/sessions", headers=H, json=big)
    assert r.status_code == 413, (r.status_code, r.text[:200])
    r = c.post("/api/sessions/ok-1/annotations", headers=H, json={"t_s": 1, "text": "x" * 3_000_000})
    assert r.status_code == 413
    # a chunked body (no Content-Length) is counted as it arrives
    def chunks():
        yield b'{"t_s": 1, "text": "'
        for _ in range(30):
            yield b"x" * 100_000
        yield b'"}'

    r = c.post("/api/sessions/ok-1/annotations", headers={**H, "Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413
    assert not list((data / "sessions").glob("2*.sqlite"))


def test_a_crafted_participant_name_cannot_write_outside_the_export(env):
    """Participant codes come from the session file; one crafted as a path must not make the
    export write elsewhere (found in review: ``../../x`` wrote ``/x_rr.txt``)."""
    import io
    import zipfile

    c, tmp, data = env
    target = tmp / "escaped"
    who = "../" * 30 + str(target).lstrip("/")
    rr = StreamInfo(who, StreamKind.RR)
    rec = Recorder(data / "sessions" / "crafted-1.sqlite", "crafted-1", [rr], PipelineConfig(), utc0=1.7e9)
    rec.write_chunk(Chunk(rr, np.array([800.0, 810.0]), times=np.array([0.8, 1.61]), t_end=2.0))
    rec.close()
    r = c.get("/api/sessions/crafted-1/export?fmt=rr", headers=H)
    assert r.status_code == 200
    assert not list(tmp.glob("escaped*"))
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert len(names) == 1 and ".." not in names[0] and names[0].endswith("escaped_rr.txt")


def test_annotations_with_invisible_text_or_absurd_times_are_refused(env):
    """Found by the API fuzzer: a control character as text, or t_s = 5.8e207, gave a 500."""
    c, _, _ = env
    url = "/api/sessions/ok-1/annotations"
    for body in ({"t_s": 5.0, "text": "\u001c"}, {"t_s": 5.0, "text": " \t\n"}, {"t_s": 5.8e207, "text": "ok"},
                 {"t_s": 1.0, "t_end": 1e300, "text": "ok"}):
        r = c.post(url, headers=H, json=body)
        assert r.status_code == 422, (body, r.status_code, r.text[:200])
    assert c.post(url, headers=H, json={"t_s": 5.0, "text": "visible"}).status_code == 201
