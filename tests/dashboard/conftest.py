"""Fixtures of the browser tests."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from dashboard_helpers import SUP, VIEW, ServerThread, free_port, real_stack_available


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from coregulate.server.app import Settings, create_app

    backends = None
    if not real_stack_available():
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
        from server_fakes import fake_backends

        backends = fake_backends(duration_s=40)
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("data"), token=SUP, viewer_token=VIEW, backends=backends))
    with ServerThread(app, free_port()) as srv:
        srv.http = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {SUP}"}, timeout=30)
        srv.fake = backends is not None
        yield srv
        srv.http.close()
