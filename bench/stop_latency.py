"""How fast `coregulate record` exits after Ctrl-C, and whether it kept every sample.

A real LSL ECG outlet in this process feeds `coregulate record --headless --lsl-in` (a
subprocess) for 14 s in real time; 1 s after the last push the recorder gets SIGINT. Printed per
run: seconds from the signal to the process's exit, its exit code, samples pushed and samples in
the session file. Baseline in the same process and conditions: a bare Python child that sleeps
and exits on SIGINT (signal delivery, interpreter exit and reaping on this machine). Runs idle,
then with one core kept busy (as `make test-under-load` does).

    python bench/stop_latency.py [--runs 2] [--push-s 14]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from under_load import BURN  # noqa: E402

from coregulate.sensors.simulator import Simulator  # noqa: E402
from coregulate.server.session.store import SessionStore  # noqa: E402

ECG = np.concatenate([c.values for c in Simulator(seed=2, duration_s=320, audio=False, rr=False).chunks()
                      if c.participant == "client" and c.kind.value == "ecg"])


def baseline_exit_s() -> float:
    proc = subprocess.Popen([sys.executable, "-c", "import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n"
                             "    pass\n"])
    time.sleep(1.0)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    return time.monotonic() - t


def record_run(push_s: float = 14.0) -> tuple[float, int, int, int]:
    name = f"cg-bench-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "ECG", 1, 130, "float32", f"src-{name}")
    info.desc().append_child("channels").append_child("channel").append_child_value("unit", "microvolts")
    outlet = pylsl.StreamOutlet(info)
    data = Path(tempfile.mkdtemp(prefix="cg_stop_bench"))
    proc = subprocess.Popen([sys.executable, "-m", "coregulate.server.cli.main", "record", "--headless", "--lsl-in",
                             f"client:type=ECG,name={name}", "--data", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()
    if not outlet.wait_for_consumers(30):
        proc.kill()
        raise RuntimeError("the recorder never connected")
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < push_s:
        due = int((time.monotonic() - t0) * 130)
        if due > sent:
            outlet.push_chunk(ECG[sent:due].reshape(-1, 1).tolist())
            sent = due
        time.sleep(0.05)
    time.sleep(1.0)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    exit_s = time.monotonic() - t
    with SessionStore(next((data / "sessions").glob("*.sqlite"))) as st:
        kept = sum(len(c) for c in st.chunks("client/ecg"))
    return exit_s, proc.returncode, sent, kept


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--push-s", type=float, default=14.0,
                        help="seconds of ECG pushed before the signal (12: the signal lands while the first "
                             "12-s beat block is being processed)")
    args = parser.parse_args()
    for load in (False, True):
        burner = subprocess.Popen([sys.executable, "-c", BURN, str(__import__("os").getpid())]) if load else None
        try:
            base = [baseline_exit_s() for _ in range(args.runs)]
            runs = [record_run(args.push_s) for _ in range(args.runs)]
        finally:
            if burner is not None:
                burner.terminate()
                burner.wait()
        label = "one core busy" if load else "idle"
        for exit_s, code, sent, kept in runs:
            print(f"[{label}] record: exit {exit_s:.2f} s after SIGINT, code {code}, samples pushed {sent}, "
                  f"in file {kept}")
        med, med_base = statistics.median(r[0] for r in runs), statistics.median(base)
        print(f"[{label}] median exit {med:.2f} s vs bare Python child {med_base:.2f} s "
              f"(ratio {med / med_base:.1f}); all samples kept: {all(r[2] == r[3] for r in runs)}", flush=True)


if __name__ == "__main__":
    main()
