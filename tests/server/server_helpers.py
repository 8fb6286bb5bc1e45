"""Shared constants and helpers of the server tests (a uniquely named module: several test
folders have a conftest.py, so tests never import from "conftest")."""

from __future__ import annotations

import json
import signal
import subprocess

SUP = "s" * 20 + "-supervisor-token"
VIEW = "v" * 20 + "-viewer-token"

#: The simulated session that several modules analyse once and then only read (tests/server/conftest.py).
ANALYZED_S = 480
ANALYZED_SIM = f"sim?duration={ANALYZED_S}&audio=0&seed=3"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def read_until_end(ws, frames: list[dict]) -> list[dict]:
    """Append a TestClient websocket's frames (parsed) to ``frames`` up to the session's "end"
    frame or until the server closes the socket; returns ``frames``."""
    from starlette.websockets import WebSocketDisconnect

    try:
        while True:
            frames.append(json.loads(ws.receive_text()))
            if frames[-1]["type"] == "end":
                return frames
    except WebSocketDisconnect:
        return frames


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Ctrl-C a server subprocess (its clean shutdown path); kill it if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
            assert time.time() - t < 60, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)
