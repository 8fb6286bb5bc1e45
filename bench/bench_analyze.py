"""Real-time factor of ``analyze`` on a simulated 50-minute dyadic session.

Baseline, in the same process: the time needed just to produce the session's chunks (the
simulator's generation, i.e. the cost of "reading the input"). Reported: wall time, real-time
factor (session seconds per wall second) and the ratio analyze / input-only.

    .venv/bin/python bench/bench_analyze.py [--minutes 50] [--no-audio] [--jobs 2]

With ``--jobs N`` (N > 1) the same session is analysed again with N processes and the outputs
are compared byte for byte; the ratio jobs-1 / jobs-N wall time is printed.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from coregulate.sensors.simulator import Simulator
from coregulate.server.offline.analysis import analyze_session


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=50.0)
    ap.add_argument("--no-audio", action="store_true")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    seconds = args.minutes * 60
    audio = not args.no_audio
    t = time.perf_counter()
    n = sum(len(c) for c in Simulator(seed=0, duration_s=seconds, audio=audio).chunks())
    t_input = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        spec = f"sim?seed=0&duration={seconds:g}&audio={int(audio)}"
        analyze_session([spec], Path(d) / "out", report=False)
        t_analyze = time.perf_counter() - t
        if args.jobs > 1:
            t = time.perf_counter()
            analyze_session([spec], Path(d) / "jobs", report=False, jobs=args.jobs)
            t_jobs = time.perf_counter() - t
            same = all((Path(d) / "out" / f).read_bytes() == (Path(d) / "jobs" / f).read_bytes()
                       for f in ("features.csv", "dyad.csv", "events.csv"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"session: {args.minutes:g} min dyad, audio={'on' if audio else 'off'}, {n} samples")
    print(f"input only (simulator generation): {t_input:.1f} s")
    print(f"analyze (everything, incl. input and recording): {t_analyze:.1f} s")
    print(f"real-time factor: {seconds / t_analyze:.0f}x faster than real time")
    print(f"ratio analyze / input-only: {t_analyze / t_input:.2f}")
    print(f"peak RSS: {rss:.0f} MiB")
    if args.jobs > 1:
        print(f"analyze --jobs {args.jobs}: {t_jobs:.1f} s; speed-up over --jobs 1: {t_analyze / t_jobs:.2f}x; "
              f"outputs identical: {same}")


if __name__ == "__main__":
    main()
