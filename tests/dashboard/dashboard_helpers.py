"""Helpers of the browser tests: a real server (uvicorn in a thread, free localhost port).
A uniquely named module: several test folders have a conftest.py."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


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


def open_idle_live_session(server, page) -> tuple[str, object]:
    """A created, never started simulator session open in the live view, and its hub.

    Every frame the page then shows is one the test submits to the hub itself.
    """
    r = server.http.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": 330}, "start": False})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    hub = server.server.config.app.state.manager.live[sid].hub
    page.goto(f"{server.url}/#token={SUP}")
    page.wait_for_selector(f"tr[data-session='{sid}']")
    page.goto(f"{server.url}/#/live/{sid}")
    page.wait_for_selector("section[data-person=client]")
    page.wait_for_function("() => document.querySelector('#conn-badge')?.textContent === 'Live'", timeout=15_000)
    return sid, hub
