"""How long a newcomer waits for the demo's first zone: `coregulate demo` with its baseline played
fast (the default, --baseline-speed 20) against the same demo at x1 throughout, in one process.

Each run starts `coregulate demo` as a user does, and from the moment its API answers polls the
client's feature rows (what the dashboard shows) for the first second whose zone is known
(window, hyper, hypo...) and the first `hyper` second. Wall-clock seconds are printed with their
ratio to the x1 run. Only the pacing differs: the rows themselves are the same (checked).

Usage:
  .venv/bin/python bench/bench_demo_first_zone.py            # fast baseline, then the x1 reference (~6 min)
  .venv/bin/python bench/bench_demo_first_zone.py --no-x1    # fast baseline only (~1.5 min)
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx

TOKEN = "bench-demo-token-0123456789"
KNOWN = {"window", "hyper", "hypo", "hypo_candidate"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(baseline_speed: str, until_hyper: bool, timeout_s: float) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([sys.executable, "-m", "coregulate.server.cli.main", "demo", "--port", str(port), "--data", data,
                                 "--token", TOKEN, "--baseline-speed", baseline_speed],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        try:
            while True:
                try:
                    sessions = api.get("/api/sessions").json()
                    if sessions:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            t_open = time.monotonic()
            sid = sessions[0]["id"]
            out: dict = {"first_zone_s": None, "first_zone": None, "first_hyper_s": None, "rows": {}}
            t_from = 0
            while time.monotonic() - t_open < timeout_s:
                rows = api.get(f"/api/sessions/{sid}/features", params={"t_from": t_from}).json()["rows"]
                for r in rows:
                    if r["participant"] != "client":
                        continue
                    out["rows"][r["t_s"]] = (r["zone"], r["arousal"])
                    t_from = max(t_from, r["t_s"])
                    if out["first_zone_s"] is None and r["zone"] in KNOWN:
                        out["first_zone_s"], out["first_zone"], out["first_zone_t"] = time.monotonic() - t_open, r["zone"], r["t_s"]
                    if out["first_hyper_s"] is None and r["zone"] == "hyper":
                        out["first_hyper_s"], out["first_hyper_t"] = time.monotonic() - t_open, r["t_s"]
                if out["first_zone_s"] is not None and (not until_hyper or out["first_hyper_s"] is not None):
                    break
                time.sleep(0.25)
            return out
        finally:
            api.close()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-x1", action="store_true", help="skip the x1 reference run (about 5 min)")
    args = ap.parse_args()
    fast = run("20", until_hyper=True, timeout_s=240)
    print(f"demo, baseline x20 then x1: first zone ({fast['first_zone']}, session second {fast.get('first_zone_t')}) "
          f"{fast['first_zone_s']:.1f} s after the API answered; first hyper (session second {fast.get('first_hyper_t')}) "
          f"{fast['first_hyper_s']:.1f} s")
    if args.no_x1:
        return 0
    slow = run("1", until_hyper=False, timeout_s=480)
    print(f"demo at x1 throughout: first zone ({slow['first_zone']}, session second {slow.get('first_zone_t')}) "
          f"{slow['first_zone_s']:.1f} s after the API answered")
    print(f"ratio fast/x1 for the first zone: {fast['first_zone_s'] / slow['first_zone_s']:.3f}")
    same = [t for t in slow["rows"] if t in fast["rows"]]
    differ = [t for t in same if fast["rows"][t] != slow["rows"][t]]
    print(f"client rows compared: {len(same)}, differing (zone or arousal): {len(differ)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
