"""Batch throughput: 1 vs 2 local worker processes (scaling efficiency), the per-session
overhead of the Dask path against the local path, and the cost of a resumed (all skipped) run.

    .venv/bin/python bench/bench_batch.py [--sessions 6] [--duration 360] [--repeat 2]

All runs analyse the same simulated sessions (``sim?seed=N&duration=D&audio=0``) in the same
process, so the figures are ratios against the 1-worker local run. Cluster start-up is timed
separately and not charged to the sessions.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from coregulate.server.offline.batch import BatchSession, run_batch


def sessions(n: int, duration: float) -> list[BatchSession]:
    return [BatchSession(f"s{i:02d}", [f"sim?seed={i}&duration={duration:g}&audio=0"], source="bench") for i in range(n)]


def timed(label: str, fn, repeat: int = 1) -> float:
    """Best of ``repeat`` runs: the machine is shared, the minimum is the least disturbed run."""
    times, cpus = [], []
    for _ in range(repeat):
        c0, t0 = os.times(), time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
        c1 = os.times()
        # CPU of this process and of the reaped pool workers (not of Dask workers): insensitive to
        # other load on the machine, so it shows the parallel path's own overhead
        cpus.append(sum(c1[:4]) - sum(c0[:4]))
        assert not res.failed, res.failed
    dt = min(times)
    print(f"  {label:<34} {dt:7.2f} s  ({len(res.analysed)} analysed, {len(res.skipped)} skipped; "
          f"runs {', '.join(f'{t:.2f}' for t in times)}; CPU {min(cpus):.2f} s)")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=6)
    ap.add_argument("--duration", type=float, default=360.0)
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration (best is kept)")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    n = args.sessions
    batch = sessions(n, args.duration)
    print(f"load average {os.getloadavg()[0]:.1f}; {n} simulated sessions of {args.duration:g} s (audio off), report.html off, "
          f"{os.cpu_count()} cores visible")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        r = args.repeat
        t1 = timed("local, 1 worker", lambda: run_batch(batch, tmp / "j1", jobs=1, report=False, force=True), r)
        t2 = timed("local, 2 workers", lambda: run_batch(batch, tmp / "j2", jobs=2, report=False, force=True), r)
        tr = timed("local, 2 workers, resumed (skip)", lambda: run_batch(batch, tmp / "j2", jobs=2, report=False))
        print(f"throughput 1 worker : {n / t1 * 60:6.1f} sessions/min ({t1 / n:.2f} s/session)")
        print(f"throughput 2 workers: {n / t2 * 60:6.1f} sessions/min ({t2 / n:.2f} s/session)")
        print(f"speed-up {t1 / t2:.2f}x, scaling efficiency {t1 / (2 * t2):.0%}")
        print(f"resumed run: {tr / n * 1000:.0f} ms/session ({tr / t2:.1%} of a full 2-worker run)")
        if args.no_dask:
            return
        from dask.distributed import LocalCluster

        c0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            print(f"  {'dask LocalCluster start':<34} {time.perf_counter() - c0:7.2f} s (not charged)")
            td = timed("dask, 2 workers", lambda: run_batch(batch, tmp / "dk", dask=cluster.scheduler_address,
                                                            report=False, force=True), r)
        print(f"dask vs local (2 workers each): {td / t2:.2f}x, overhead {(td - t2) / n * 1000:+.0f} ms/session")


if __name__ == "__main__":
    main()
