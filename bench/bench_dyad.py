"""Cost of the dyad estimators for one client-therapist pair.

Reported:
* per-second ``DyadPipeline.update`` cost (p50/p99/max, µs) with all four signals present
  (hr, arousal, vocal, motion: 4 × (1 genuine + 20 surrogate pairings) × 11 lags);
* whole-session offline cost for ``--minutes`` (default 50) and its real-time factor;
* baselines in the same process: the same windowed cross-lagged correlation recomputed from
  scratch every second (``O(window × lags)``, one signal, no surrogates), and the incremental
  estimator for that one signal without surrogates, so the ratios show what the running sums and
  the surrogates cost.

    .venv/bin/python bench/bench_dyad.py [--minutes 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.signal import lfilter

from coregulate.models.dyad import DyadPipeline
from coregulate.models.dyad_summary import summarize_dyad
from coregulate.models.synchrony import SyncParams, WindowedCrossCorrelation, wclc_reference

SIGNAL_COLUMNS = ("hr_inst_bpm", "arousal", "vocal_arousal", "movement")


def make_rows(n: int, seed: int = 0) -> list[dict[str, dict]]:
    rng = np.random.default_rng(seed)
    rows = []
    series = {}
    for col in SIGNAL_COLUMNS:
        th = lfilter([1.0], [1.0, -0.9], rng.standard_normal(n + 3))
        own = lfilter([1.0], [1.0, -0.9], rng.standard_normal(n + 3))
        series[col] = (np.roll(th, 2) + own, th)
    zones = np.where((np.arange(n) // 300) % 4 == 1, "hyper", "window")
    for t in range(n):
        rows.append({
            "client": {c: float(series[c][0][t]) for c in SIGNAL_COLUMNS} | {"zone": str(zones[t])},
            "therapist": {c: float(series[c][1][t]) for c in SIGNAL_COLUMNS} | {"zone": "window"},
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=50.0)
    args = ap.parse_args()
    n = int(args.minutes * 60)
    rows = make_rows(n)

    dp = DyadPipeline(["client", "therapist"])
    per = np.empty(n)
    cpu = np.empty(n)
    out = []
    t_all = time.perf_counter()
    for t, r in enumerate(rows, start=1):
        t0, c0 = time.perf_counter(), time.thread_time()
        o, _ = dp.update(t, r)
        per[t - 1] = time.perf_counter() - t0
        cpu[t - 1] = time.thread_time() - c0
        out.append(o)
    dp.finish()
    summary = summarize_dyad(out)
    t_session = time.perf_counter() - t_all

    x = np.array([r["client"]["arousal"] for r in rows])
    y = np.array([r["therapist"]["arousal"] for r in rows])
    p = SyncParams()
    m = min(n, 600)  # the from-scratch baseline is slow: time 600 s and scale
    t0 = time.perf_counter()
    for t in range(m):
        wclc_reference(x, y, t, p)
    scratch = (time.perf_counter() - t0) / m
    est = WindowedCrossCorrelation(p)
    t0 = time.perf_counter()
    for a, b in zip(x, y):
        est.update(a, b)
    incr = (time.perf_counter() - t0) / n

    us = per * 1e6
    print(f"session: {args.minutes:g} min, one dyad, 4 signals, 20 surrogates each, window 30 s, lags ±5 s")
    cus = cpu * 1e6
    print(f"DyadPipeline.update per second, wall: p50 {np.percentile(us, 50):.0f} µs, p99 {np.percentile(us, 99):.0f} µs, "
          f"max {us.max():.0f} µs")
    print(f"DyadPipeline.update per second, thread CPU (no preemption by other processes): "
          f"p50 {np.percentile(cus, 50):.0f} µs, p99 {np.percentile(cus, 99):.0f} µs")
    print(f"whole session offline (update + finish + summary): {t_session:.2f} s = "
          f"{n / t_session:.0f}x faster than real time")
    print(f"baseline, one signal, WCLC from scratch per second: {scratch * 1e6:.0f} µs")
    print(f"one signal incremental WCLC (no surrogates): {incr * 1e6:.0f} µs "
          f"(from-scratch / incremental: {scratch / incr:.1f})")
    print(f"all dyad estimators / one-signal from-scratch WCLC: {np.median(per) / scratch:.2f}")
    print(f"significant share in the bench session: {summary['significant_share']:.2f}")


if __name__ == "__main__":
    main()
