"""A real server (uvicorn in a thread, free localhost port) for the browser tests."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

SUP = "s" * 20 + "-browser-supervisor"
VIEW = "v" * 20 + "-browser-viewer"
OUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    def __init__(self, app, port: int):
        import uvicorn

        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                                      ws_per_message_deflate=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        t = time.time()
        while not self.server.started:
            if time.time() - t > 20:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def real_stack_available() -> bool:
    try:
        from coregulate.models import registry  # noqa: F401
        from coregulate.models.config import PipelineConfig
        from coregulate.models.pipeline import SessionPipeline
        from coregulate.sensors.simulator import Simulator

        sim = Simulator(duration_s=301, audio=True)
        SessionPipeline(sim.streams, PipelineConfig(), sim.utc0)
        return True
    except Exception:
        return False


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
