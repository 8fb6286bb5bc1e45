"""Stopping a session with a signal keeps everything, end to end, in real subprocesses.

`coregulate record` from a real LSL ECG outlet in this process (headless, and with the server),
and `coregulate replay --speed 1`: the first SIGINT or SIGTERM stops the sources, drains what
they already received into the session file, commits and closes it (status ``stopped``); the
exit code is 130 after SIGINT and 0 after SIGTERM. Every sample the outlet pushed before the
signal must be in the file. LSL stream names carry a random suffix, so parallel runs on one
machine never resolve each other's streams. How long the exit takes is measured in
``bench/stop_latency.py``, not asserted here (the suite must pass on a busy machine).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid

import numpy as np
import pylsl
import pytest

from coregulate.sensors.simulator import Simulator
from coregulate.server.session.store import SessionStore

pytestmark = pytest.mark.lsl

EXE = [sys.executable, "-m", "coregulate.server.cli.main"]
#: Generous bound for the process to exit once signalled: only a hang fails it.
EXIT_TIMEOUT_S = 20


def _ecg_outlet() -> tuple[str, pylsl.StreamOutlet]:
    name = f"cg-rec-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "ECG", 1, 130, "float32", f"src-{name}")
    ch = info.desc().append_child("channels").append_child("channel")
    ch.append_child_value("label", "ECG")
    ch.append_child_value("unit", "microvolts")
    return name, pylsl.StreamOutlet(info)


def _simulated_ecg(seconds: float) -> np.ndarray:
    return np.concatenate([c.values for c in Simulator(seed=2, duration_s=seconds, audio=False, rr=False).chunks()
                           if c.participant == "client" and c.kind.value == "ecg"])


def _push_in_real_time(outlet: pylsl.StreamOutlet, ecg: np.ndarray, seconds: float) -> int:
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:  # 0.05 s at a time, as a device would
        due = int((time.monotonic() - t0) * 130)
        if due > sent:
            outlet.push_chunk(ecg[sent:due].reshape(-1, 1).tolist())
            sent = due
        time.sleep(0.05)
    return sent


def _signal_and_wait(proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=EXIT_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()


def _recorded_ecg(path) -> tuple[str, np.ndarray]:
    with SessionStore(path) as st:
        return st.status(), np.concatenate([c.values for c in st.chunks("client/ecg")])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["sigint", "sigterm"])
def test_record_from_lsl_keeps_every_pushed_sample(tmp_path, sig, code):
    name, outlet = _ecg_outlet()
    ecg = _simulated_ecg(320)
    proc = subprocess.Popen([*EXE, "record", "--headless", "--lsl-in", f"client:type=ECG,name={name}",
                             "--data", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("recording to"), line + proc.stderr.read()
        # an LSL inlet only receives what is pushed after it connected
        assert outlet.wait_for_consumers(30), "the recorder never opened the stream"
        sent = _push_in_real_time(outlet, ecg, 14)  # past the first 12-s beat block
        time.sleep(1.0)
    finally:
        out, err = _signal_and_wait(proc, sig)
    assert proc.returncode == code, err
    assert "Traceback" not in err, err
    status, got = _recorded_ecg(next((tmp_path / "sessions").glob("live-*.sqlite")))
    assert status == "stopped"
    # everything pushed, in order, in µV: nothing left behind in liblsl's or the session's queues
    assert len(got) == sent
    np.testing.assert_allclose(got, ecg[:sent], rtol=1e-5, atol=0.01)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["sigint", "sigterm"])
def test_serve_with_a_live_session_keeps_every_pushed_sample(tmp_path, sig, code):
    name, outlet = _ecg_outlet()
    ecg = _simulated_ecg(320)
    proc = subprocess.Popen([*EXE, "record", "--lsl-in", f"client:type=ECG,name={name}", "--data", str(tmp_path),
                             "--port", str(_free_port())], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # the server prints the session it started once it runs
            if "session" in line and "started" in line:
                break
        else:
            pytest.fail("the server never started the live session: " + proc.stderr.read())
        assert outlet.wait_for_consumers(30), "the server's session never opened the stream"
        sent = _push_in_real_time(outlet, ecg, 5)
        time.sleep(1.0)
    finally:
        out, err = _signal_and_wait(proc, sig)
    assert proc.returncode == code, err
    assert "Traceback" not in err, err
    status, got = _recorded_ecg(next((tmp_path / "sessions").glob("*.sqlite")))
    assert status == "stopped"
    assert len(got) == sent
    np.testing.assert_allclose(got, ecg[:sent], rtol=1e-5, atol=0.01)


def test_replay_at_live_speed_stops_on_sigint_with_a_consistent_file(tmp_path):
    proc = subprocess.Popen([*EXE, "replay", "--headless", "--speed", "1", "sim?seed=2&duration=320&audio=0",
                             "--data", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("recording to"), line + proc.stderr.read()
        time.sleep(3.0)
    finally:
        out, err = _signal_and_wait(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    status, got = _recorded_ecg(next((tmp_path / "sessions").glob("replay-*.sqlite")))
    assert status == "stopped"
    # the file holds an unbroken prefix of the recording: what was replayed, nothing skipped
    assert len(got) > 0
    np.testing.assert_allclose(got, _simulated_ecg(320)[:len(got)], rtol=1e-6)
