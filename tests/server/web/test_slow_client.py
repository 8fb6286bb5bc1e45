"""A viewer that stops reading is cut loose (close 4429) without slowing ingestion or the others."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time

from websockets.sync.client import connect

from server_helpers import SUP, VIEW, ServerThread
from coregulate.server.web.hub import CLOSE_TOO_SLOW
from server_fakes import fake_backends


def _raw_ws_that_never_reads(port: int, path: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: coregulate, token.{VIEW}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def _close_code_in(stream: bytes) -> int | None:
    """Walk server->client websocket frames (unmasked) and return the close code, if any."""
    i = 0
    while i + 2 <= len(stream):
        op, ln = stream[i] & 0x0F, stream[i + 1] & 0x7F
        j = i + 2
        if ln == 126:
            ln, j = int.from_bytes(stream[j:j + 2], "big"), j + 2
        elif ln == 127:
            ln, j = int.from_bytes(stream[j:j + 8], "big"), j + 8
        if op == 8:
            return int.from_bytes(stream[j:j + 2], "big")
        i = j + ln
    return None


def test_slow_viewer_is_disconnected_and_fast_viewer_gets_everything(make_app):
    app = make_app(backends=fake_backends(duration_s=600), hub_options={"max_kept": 40})
    with ServerThread(app) as srv:
        import httpx

        http = httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", headers={"Authorization": f"Bearer {SUP}"})
        sid = http.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": 600}, "start": False}).json()["id"]
        hub = app.state.manager.live[sid].hub
        path = f"/api/sessions/{sid}/ws?since=0"
        slow = _raw_ws_that_never_reads(srv.port, path)
        got: list[dict] = []

        def fast_reader():
            with connect(f"ws://127.0.0.1:{srv.port}{path}", subprotocols=["coregulate", f"token.{VIEW}"]) as ws:
                for msg in ws:
                    f = json.loads(msg)
                    got.append(f)
                    if f["type"] == "end":
                        return

        reader = threading.Thread(target=fast_reader, daemon=True)
        reader.start()
        t = time.time()
        while len(hub.viewers) < 2:
            assert time.time() - t < 60
            time.sleep(0.02)
        pad = "x" * 20_000
        n = 600  # 12 MB of frames that must not be lost: more than the socket buffers hold
        worst = 0.0
        for i in range(n):
            t0 = time.perf_counter()
            hub.submit("features", [{"t_s": i + 1, "participant": "client", "pad": pad}])
            worst = max(worst, time.perf_counter() - t0)
            if i % 10 == 9:
                time.sleep(0.005)  # bursts of 10, as a session thread would produce them
        hub.submit("end", {"status": "complete"})
        reader.join(timeout=30)
        assert not reader.is_alive(), "the fast viewer was held up"
        kept = [f["seq"] for f in got if not f.get("lossy")]
        assert kept == list(range(1, n + 2))
        # publishing never waits on a viewer: one that did would wait for a socket nobody reads
        # (seconds at least); 1 s is far above any scheduling hiccup of a busy machine
        assert worst < 1.0
        t = time.time()
        while hub.disconnected_slow < 1:
            assert time.time() - t < 60, "the slow viewer was not cut"
            time.sleep(0.05)
        # the slow client finds the close code at the end of what was sent to it
        slow.settimeout(10)
        data = b""
        while True:
            try:
                chunk = slow.recv(1 << 20)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            if _close_code_in(data) is not None:
                break
        assert _close_code_in(data) == CLOSE_TOO_SLOW
        slow.close()
        http.close()
