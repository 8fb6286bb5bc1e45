"""SIGKILL of the real server process during a live session.

A ``coregulate serve`` subprocess runs a simulated dyad at ×20 (started through the REST API,
as a supervisor would). Once features are on disk the process is killed with SIGKILL. Then:
the session file opens, holds everything up to the last commit (at most about one wall
second, i.e. ~20 session seconds, is lost), is reported as ``interrupted`` -- by the file
reader and by a restarted server -- and replays through ``coregulate analyze`` to the same
features.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from coregulate.server.cli.main import main
from coregulate.server.session.store import SessionStore

from server_helpers import stop_process

EXE = [sys.executable, "-m", "coregulate.server.cli.main"]
TOKEN = "crash-test-supervisor-token-0123"
SPEED = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(data: Path) -> tuple[subprocess.Popen, httpx.Client]:
    port = _free_port()
    proc = subprocess.Popen([*EXE, "serve", "--port", str(port), "--data", str(data), "--token", TOKEN],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # generous: creating a session loads the estimators, >10 s on a busy machine (a ReadTimeout was seen at 10 s)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stderr.read()}")
        try:
            if client.get("/api/whoami").status_code == 200:
                return proc, client
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not come up within 60 s"
        time.sleep(0.2)


def _committed(path: Path) -> dict[str, float]:
    """What another process sees in the file right now (committed transactions only)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        feat = {p: t for p, t in con.execute("SELECT participant, MAX(t_s) FROM feature GROUP BY participant")}
        ecg = con.execute("SELECT MAX(c.t_end) FROM chunk c JOIN stream s ON s.id = c.stream_id "
                          "WHERE s.key = 'client/ecg'").fetchone()[0]
        return {"client": feat.get("client") or 0, "therapist": feat.get("therapist") or 0, "ecg": ecg or 0.0}
    except sqlite3.OperationalError:  # schema not committed yet
        return {"client": 0, "therapist": 0, "ecg": 0.0}
    finally:
        con.close()


def test_sigkill_of_the_server_keeps_the_session_up_to_the_last_commit(tmp_path):
    data = tmp_path / "data"
    proc, api = _start_server(data)
    try:
        r = api.post("/api/sessions", json={"source": {"kind": "simulator", "seed": 4, "duration_s": 1200, "audio": False},
                                            "speed": SPEED, "label": "crash test"})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        path = data / "sessions" / f"{sid}.sqlite"
        deadline = time.monotonic() + 120
        seen = {"client": 0}
        while seen["client"] < 90:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, f"no features after 120 s: {seen}"
            time.sleep(0.25)
            if path.exists():
                seen = _committed(path)
        # the server's own idea of where the session is, just before the kill
        live_t = api.get(f"/api/sessions/{sid}/status").json()["session_time_s"]
        before = _committed(path)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        api.close()
    assert proc.returncode == -signal.SIGKILL

    with SessionStore(path) as st:
        assert st.status() == "interrupted"
        # nothing that was committed is lost, and the rows are whole: consecutive seconds
        for who in ("client", "therapist"):
            secs = [r["t_s"] for r in st.features(participant=who)]
            assert secs == list(range(1, len(secs) + 1))
            assert secs[-1] >= before[who]
        ecg = list(st.chunks("client/ecg"))
        assert ecg[-1].t_end >= before["ecg"]
        # no hole inside the recording: every chunk starts where the previous one ended
        assert all(abs(b.start - a.t_end) < 1e-9 for a, b in zip(ecg, ecg[1:]))
        # at most about one wall second (the commit interval) of session time is lost
        assert ecg[-1].t_end >= live_t - SPEED * 1.5 - 1.0, (ecg[-1].t_end, live_t)
        recorded = {(r["participant"], r["t_s"]): r for r in st.features()}

    # a restarted server finds the session and says it was interrupted
    proc2, api2 = _start_server(data)
    try:
        listed = {s["id"]: s for s in api2.get("/api/sessions").json()}
        assert listed[sid]["status"] == "interrupted" and listed[sid]["live"] is False
        feats = api2.get(f"/api/sessions/{sid}/features", params={"participant": "client"}).json()
        assert len(feats["rows"]) == len([k for k in recorded if k[0] == "client"])
    finally:
        stop_process(proc2)
        api2.close()

    # and it replays: a session file is a SPEC; the re-analysis agrees second by second
    out = tmp_path / "replayed"
    assert main(["analyze", str(path), "--out", str(out), "--quiet", "--no-report"]) == 0
    with SessionStore(out / "session.sqlite") as st:
        again = {(r["participant"], r["t_s"]): r for r in st.features()}
    assert set(recorded) <= set(again)
    for k, row in recorded.items():
        for col in ("hr_bpm", "rmssd_ms", "sdnn_ms"):
            assert again[k][col] == row[col], (k, col)
