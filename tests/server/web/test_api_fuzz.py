"""HTTP API fuzzing from the app's own OpenAPI schema (schemathesis), with a valid token.

The real server (uvicorn in a thread, real recorder/store/runner) is driven over HTTP with
generated requests for every operation. Whatever comes in, the answer is never a 5xx and
every documented response matches its schema and content type. A real recorded session is
planted so that generated requests also reach the data routes with a valid id.

Simulated sessions that the fuzzer creates run without audio and at ×1, so they cost little
while the test runs; the server's shutdown stops them. A second, in-process run on the fake
backends (the server tests' fakes, sessions of 3 s) checks the no-5xx rule where generated
sessions actually run to their end.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as oa_checks

from coregulate.models.config import PipelineConfig
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.server.web.app import Settings, create_app
from coregulate.server.session.recorder import Recorder
from coregulate.server.web.sessions import default_backends, start_warm_up
from server_fakes import fake_backends

SUP = "f" * 20 + "-supervisor-token"
VIEW = "g" * 20 + "-viewer-token"
KNOWN_ID = "fuzz-1"
MAX_EXAMPLES = 25

CHECKS = [st_checks.not_a_server_error, oa_checks.response_schema_conformance,
          oa_checks.content_type_conformance, oa_checks.response_headers_conformance]


def _plant(data: Path) -> None:
    ecg = StreamInfo("client", StreamKind.ECG, 100.0)
    rr = StreamInfo("therapist", StreamKind.RR)
    rec = Recorder(data / "sessions" / f"{KNOWN_ID}.sqlite", KNOWN_ID, [ecg, rr], PipelineConfig(), utc0=1.7e9)
    for k in range(10):
        rec.write_chunk(Chunk(ecg, np.sin(np.arange(100) / 5.0) * 500, t0=float(k)))
        rec.write_chunk(Chunk(rr, np.array([800.0]), times=np.array([k + 0.8]), t_end=k + 1.0))
    rec.write_features([{"t_s": t, "participant": p, "hr_bpm": 70.0 + t, "zone": "window"}
                        for t in range(1, 11) for p in ("client", "therapist")])
    rec.write_dyad([{"t_s": t, "sync_hr_z": 0.1 * t} for t in range(1, 11)])
    rec.add_annotation(2.0, "planted", "fuzz")
    rec.close()


def _capped_backends():
    """The real backends, but simulated sessions run without audio and at ×1."""
    real = default_backends()
    make = real.make_source

    def make_source(spec, speed):
        if spec.kind == "simulator":
            spec = spec.model_copy(update={"audio": False})
        return make(spec, 1.0)

    real.make_source = make_source
    return real


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Built at import: schemathesis needs the schema when the tests are collected (its fixture
# loader does not work with this pytest). create_app does no I/O beyond the temporary folder.
DATA = Path(tempfile.mkdtemp(prefix="coregulate-fuzz-")) / "data"
_plant(DATA)
APP = create_app(Settings(data_dir=DATA, token=SUP, viewer_token=VIEW, backends=_capped_backends()))
schema = schemathesis.openapi.from_dict(APP.openapi())


@pytest.fixture(scope="module")
def server():
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(APP, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                        lifespan="on"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert th.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    # the estimators' imports, started with the server: the first session start waits for them,
    # which on a busy machine can outlast a generated request's timeout
    start_warm_up(APP.state.manager.backends).result(timeout=300)
    yield APP, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(20)
    shutil.rmtree(DATA.parent, ignore_errors=True)


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    # half of the generated ids are the planted session, so the data routes run for real
    if path_parameters and "session_id" in path_parameters and hash(str(path_parameters)) % 2 == 0:
        path_parameters["session_id"] = KNOWN_ID
    return path_parameters


def _stop_started_sessions(app) -> None:
    """Ask every session a generated request started to stop (no waiting). Left running at ×1
    they pile up, one thread and one real pipeline each, for the rest of the module: the 25
    examples of POST /api/sessions once took 84 CPU-s and 390 s (bench/RESULTS.md)."""
    for s in list(app.state.manager.live.values()):
        if s.runner is not None and s.loop is not None and not s.loop.is_closed():
            s.loop.call_soon_threadsafe(s.runner.stop)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_matches_its_schema(case, server):
    app, base_url = server
    try:
        case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {SUP}"}, checks=CHECKS,
                               timeout=30)
    finally:
        _stop_started_sessions(app)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_viewer_token_never_writes(case, server):
    """Roles are enforced by the server, whatever the request: a viewer's write is refused."""
    _, base_url = server
    resp = case.call(base_url=base_url, headers={"Authorization": f"Bearer {VIEW}"}, timeout=30)
    assert resp.status_code < 500, (case.method, case.path, resp.status_code)
    if case.method.upper() == case.operation.method.upper() and case.method.upper() in ("POST", "PATCH", "DELETE", "PUT"):
        # 403, or refused even earlier as malformed (400/422): never carried out
        assert resp.status_code in (400, 403, 422), (case.method, case.path, resp.status_code, resp.text[:200])


def test_schema_covers_the_api(server):
    """The fuzzing above is only as good as the schema: every API route is in it."""
    app, _ = server
    ops = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert ("POST", "/api/sessions") in ops and ("GET", "/api/sessions/{session_id}/features") in ops
    from coregulate.server.web.routers import annotations, data, export, meta, sessions

    routes = {(m, r.path) for router in (meta.router, sessions.router, data.router, annotations.router, export.router)
              for r in router.routes if getattr(r, "include_in_schema", False)
              for m in getattr(r, "methods", ()) if m != "HEAD"}
    assert len(routes) >= 15
    assert routes <= ops, routes - ops


# -- the same rule in-process, on the fake backends ----------------------------------------------

FAKE_APP = create_app(Settings(data_dir=tempfile.mkdtemp(prefix="coregulate-fuzz-fake-"), token=SUP, viewer_token=VIEW,
                               backends=fake_backends(duration_s=3)))
fake_schema = schemathesis.openapi.from_asgi("/api/openapi.json", FAKE_APP, headers={"Authorization": f"Bearer {SUP}"})


@pytest.fixture(scope="module")
def _stop_fake_sessions():
    yield
    # generated sessions may run at tiny speeds: stop them (each runs in its own thread)
    for s in list(FAKE_APP.state.manager.live.values()):
        if s.loop is not None and s.runner is not None and not s.loop.is_closed():
            s.loop.call_soon_threadsafe(s.runner.stop)
    for s in list(FAKE_APP.state.manager.live.values()):
        if s.thread is not None:
            s.thread.join(timeout=10)


@fake_schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_on_fake_backends(case, _stop_fake_sessions):
    response = case.call(headers={"Authorization": f"Bearer {SUP}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
