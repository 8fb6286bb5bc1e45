"""Property-based requests generated from the OpenAPI schema: no input makes the server fail (5xx)
or answer outside its documented schema."""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from conftest import SUP, VIEW
from coregulate.server.app import Settings, create_app
from server_fakes import fake_backends

app = create_app(Settings(data_dir=tempfile.mkdtemp(prefix="coregulate-fuzz-"), token=SUP, viewer_token=VIEW,
                          backends=fake_backends(duration_s=3)))
schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers={"Authorization": f"Bearer {SUP}"})


@pytest.fixture(scope="module", autouse=True)
def _stop_generated_sessions():
    yield
    # generated sessions may run at tiny speeds: stop them (each runs in its own thread)
    for s in list(app.state.manager.live.values()):
        if s.loop is not None and s.runner is not None and not s.loop.is_closed():
            s.loop.call_soon_threadsafe(s.runner.stop)
    for s in list(app.state.manager.live.values()):
        if s.thread is not None:
            s.thread.join(timeout=10)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call(headers={"Authorization": f"Bearer {SUP}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
