"""Where a live session's first seconds go: the slowest chunks of its first 40 s, cold vs warmed up.

Each run is a fresh Python process (cold imports, as a server that has just started): it opens a
session the way the server does (:func:`~coregulate.server.session.runner.open_session`, a sink
that takes provisional values, as a viewer's hub), runs it at speed max for ``--seconds`` of
session time, and times every ``SessionRunner.handle`` (one chunk through recorder, estimators
and sinks: in a paced session, how long the session's thread holds the GIL for that chunk).
*cold*: nothing imported beforehand (what a server session met before issue #15's fix);
*warm*: :func:`~coregulate.server.session.warm_up.preload_estimator_libraries` first (what the
server now does when it starts). The baseline is the cold run of the same kind, in the same run
of this script.

Kinds: ``ecg`` (simulator, beats from the 130-Hz ECG only), ``ppg`` (NeuroKit2's resting PPG at
100 Hz, one person; needs the shared data folder), ``audio`` (simulator with microphones, ECG
and RR; default heart sources).

Usage:
  .venv/bin/python bench/bench_session_start.py                 # kinds ecg,ppg,audio
  .venv/bin/python bench/bench_session_start.py --kinds ecg --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(os.environ.get("COREGULATE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PPG_CSV = DATA / "neurokit_bio" / "bio_resting_5min_100hz.csv"


def child(kind: str, seconds: float, warm: bool) -> dict:
    """One session's first ``seconds`` in this (fresh) process; the timings as a dict."""
    import asyncio
    import tempfile

    t0 = time.perf_counter()
    if warm:
        from coregulate.server.session.warm_up import preload_estimator_libraries

        preload_estimator_libraries()
    warm_s = time.perf_counter() - t0
    from coregulate.models.config import PipelineConfig
    from coregulate.server.session.runner import open_session

    if kind == "ppg":
        from coregulate.server.session.sources import build_source

        source = build_source([f"client=csv:{PPG_CSV}?rate=100&ppg=PPG"], None)
        config = PipelineConfig()
    else:
        from coregulate.sensors.simulator import Simulator

        source = Simulator(seed=0, duration_s=360, audio=(kind == "audio"), speed=None)
        config = PipelineConfig(options={"heart": {"beat_sources": ["ecg"]}}) if kind == "ecg" else PipelineConfig()

    class ViewerSink:  # the runner computes provisional values for a sink that takes them
        def on_provisional(self, values):
            pass

    t1 = time.perf_counter()
    runner = open_session(source, config, Path(tempfile.mkdtemp()) / "s.sqlite", "start", sinks=[ViewerSink()])
    open_s = time.perf_counter() - t1
    handle, took = runner.handle, []

    def timed(chunk) -> None:
        t = time.perf_counter()
        handle(chunk)
        took.append((time.perf_counter() - t, float(chunk.t_end), chunk.kind.value))
        if chunk.t_end >= seconds:
            runner.stop()

    runner.handle = timed
    asyncio.run(runner.run())
    slowest = sorted(took, reverse=True)[:3]
    return {"kind": kind, "warm": warm, "warm_up_s": round(warm_s, 2), "open_session_s": round(open_s, 3),
            "chunks": len(took), "slowest_handle_s": [[round(d, 3), t, k] for d, t, k in slowest],
            "sum_handle_s": round(sum(d for d, _, _ in took), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="ecg,ppg,audio")
    ap.add_argument("--seconds", type=float, default=40.0, help="session time per run")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    ap.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.seconds, args.warm)), flush=True)
        return
    print(f"# bench_session_start: cpus={os.cpu_count()} seconds={args.seconds}", flush=True)
    for kind in [k for k in args.kinds.split(",") if k]:
        if kind == "ppg" and not PPG_CSV.exists():
            print(f"# ppg skipped: {PPG_CSV} not found", flush=True)
            continue
        for warm in (False, True):
            cmd = [sys.executable, __file__, "--child", kind, "--seconds", str(args.seconds)] + (["--warm"] if warm else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            res = json.loads(out)
            res["load_avg_1min"] = round(os.getloadavg()[0], 1)
            print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
