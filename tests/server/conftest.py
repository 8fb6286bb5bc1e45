"""Fixtures of the server tests: an app on a temporary data dir with fixed tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from coregulate.server.app import Settings, create_app

from server_fakes import fake_backends

SUP = "s" * 20 + "-supervisor-token"
VIEW = "v" * 20 + "-viewer-token"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_app(tmp_path):
    def _make(backends=None, **kw):
        return create_app(Settings(data_dir=tmp_path / "data", token=SUP, viewer_token=VIEW,
                                   backends=backends or fake_backends(), **kw))
    return _make


@pytest.fixture
def client(make_app):
    with TestClient(make_app()) as c:
        yield c


class ServerThread:
    """uvicorn serving ``app`` on a free localhost port in a thread (real sockets, real TCP)."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, ws_per_message_deflate=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        import time

        self.thread.start()
        t = time.time()
        while not self.server.started:
            assert time.time() - t < 20, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)
