"""`coregulate record` end to end without hardware: a real LSL ECG outlet in this process, the
real command in a subprocess (headless), stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pylsl

from coregulate.sensors.simulator import Simulator
from coregulate.server.recorder import SessionStore


def test_record_from_lsl_until_interrupted(tmp_path):
    name = f"cg-rec-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "ECG", 1, 130, "float32", f"src-{name}")
    ch = info.desc().append_child("channels").append_child("channel")
    ch.append_child_value("label", "ECG")
    ch.append_child_value("unit", "microvolts")
    outlet = pylsl.StreamOutlet(info)
    ecg = np.concatenate([c.values for c in Simulator(seed=2, duration_s=320, audio=False, rr=False).chunks()
                          if c.participant == "client"])
    proc = subprocess.Popen([sys.executable, "-m", "coregulate.server.cli", "record", "--headless",
                             "--lsl-in", f"client:type=ECG,name={name}", "--data", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("recording to"), line + proc.stderr.read()
        # an LSL inlet only receives what is pushed after it connected
        assert outlet.wait_for_consumers(30), "the recorder never opened the stream"
        sent, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 12:  # push 12 s of ECG in real time, 0.1 s at a time
            due = int((time.monotonic() - t0) * 130)
            if due > sent:
                outlet.push_chunk(ecg[sent:due].reshape(-1, 1).tolist())
                sent = due
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err, err
    path = next((tmp_path / "sessions").glob("live-*.sqlite"))
    with SessionStore(path) as st:
        assert st.status() in ("stopped", "complete")
        got = np.concatenate([c.values for c in st.chunks("client/ecg")])
    # everything pushed after the recorder connected arrived, in order, in µV
    assert len(got) == sent
    np.testing.assert_allclose(got[-200:], ecg[sent - 200:sent], rtol=1e-5, atol=0.01)
