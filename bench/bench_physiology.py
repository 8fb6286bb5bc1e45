"""Cost of the physiology core (heart -> autonomic -> tolerance) for a client-therapist pair.

Reported:
* live: cost of one one-second update for two people with ECG at 130 Hz (both HeartEstimators
  fed that second's chunks, plus the row estimators for any rows that became final), p50/p99/max;
* offline: a whole ``--minutes`` (default 50) dyadic ECG session, and its real-time factor;
* baseline in the same process: the naive approach that recomputes ``neurokit2.hrv()`` on every
  60-s window every second from the same beats. It is timed on ``--naive-windows`` evenly spaced
  windows and extrapolated to the whole session (said so in the output); on those windows the
  incremental features are compared with neurokit2 (time domain from ``hrv()``, HF from
  ``hrv_frequency(normalize=False, interpolation_rate=4)``) and the largest relative
  difference is printed.

    .venv/bin/python bench/bench_physiology.py [--minutes 50] [--naive-windows 40]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

from coregulate.models.autonomic import AutonomicEstimator
from coregulate.models.config import PipelineConfig
from coregulate.models.heart import HeartEstimator
from coregulate.models.tolerance import ToleranceEstimator
from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.simulator import Simulator


def run_session(chunks, streams, participants, cfg, record_beats=False, timed=False):
    heart = {}
    beats: dict[str, list[float]] = {p: [] for p in participants}
    for p in participants:
        heart[p] = HeartEstimator(p, [s for s in streams if s.participant == p], cfg)
        if record_beats:
            orig = heart[p]._final_beats

            def rec(bs, _orig=orig, _p=p):
                beats[_p].extend(t for t, _ in bs)
                return _orig(bs)

            heart[p]._final_beats = rec
    rows = {p: [] for p in participants}
    row_est = {p: (AutonomicEstimator(p, cfg), ToleranceEstimator(p, cfg)) for p in participants}

    def rowify(p, secs):
        a, tol = row_est[p]
        for t, r in secs:
            r = dict(r, t_s=t)
            r.update(a.update(r)[0])
            r.update(tol.update(r)[0])
            rows[p].append(r)

    costs = []
    latency: list[float] = []  # session time at emission minus the second's end
    by_second: dict[int, list] = {}
    for c in chunks:
        by_second.setdefault(int(math.floor(c.start + 1e-9)), []).append(c)
    for s in sorted(by_second):
        t0 = time.process_time()
        for c in by_second[s]:
            secs = heart[c.participant].update(c)
            latency += [float(c.t_end) - t for t, _ in secs]
            rowify(c.participant, secs)
        costs.append(time.process_time() - t0)
    for p in participants:
        rowify(p, heart[p].finish())
    run_session.latency = np.array(latency)
    return rows, beats, np.array(costs)


def naive_window(peaks_us):
    import neurokit2 as nk

    return nk.hrv(peaks_us, sampling_rate=1_000_000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=50)
    ap.add_argument("--naive-windows", type=int, default=40)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import neurokit2 as nk  # noqa: F401  (import cost outside the timings)

    dur = args.minutes * 60
    sim = Simulator(seed=0, duration_s=dur, audio=False, rr=False)
    chunks = list(sim.chunks())
    streams = [s for s in sim.streams if s.kind == StreamKind.ECG]
    parts = list(sim.participants)
    cfg = PipelineConfig()

    t0, c0 = time.perf_counter(), time.process_time()
    rows, beats, costs = run_session(chunks, streams, parts, cfg, record_beats=True)
    wall, offline = time.perf_counter() - t0, time.process_time() - c0
    n_sec = len(rows[parts[0]])
    print(f"session: {args.minutes:g} min dyad, ECG 130 Hz x 2, {n_sec} seconds per person, "
          f"{sum(len(b) for b in beats.values())} beats")
    print(f"offline (ECG -> beats -> correction -> HRV -> PNS/SNS -> zones, 2 people): {offline:.2f} s CPU "
          f"({wall:.2f} s wall on a shared machine) = {dur / offline:.0f} x real time")
    us = costs * 1e6
    print(f"live one-second update, 2 people (CPU): p50 {np.percentile(us, 50):.0f} us, p99 {np.percentile(us, 99):.0f} us, "
          f"max {us.max():.0f} us")

    lat = run_session.latency
    print(f"latency of a finished second (ECG): median {np.median(lat):.1f} s, max {lat.max():.1f} s")

    # RR-interval input (the strap's own beats): no ECG detection
    sim_rr = Simulator(seed=0, duration_s=dur, audio=False, rr=True)
    rr_chunks = [c for c in sim_rr.chunks() if c.kind == StreamKind.RR]
    rr_streams = [s for s in sim_rr.streams if s.kind == StreamKind.RR]
    c0 = time.process_time()
    run_session(rr_chunks, rr_streams, parts, cfg)
    lat = run_session.latency
    print(f"offline from device RR instead of ECG: {time.process_time() - c0:.2f} s CPU; "
          f"latency median {np.median(lat):.1f} s, max {lat.max():.1f} s")

    # naive baseline on the same beats (neurokit2 imported above, outside the timings)

    p = parts[0]
    b = np.array(beats[p])
    secs = np.linspace(int(cfg.window_s) + 5, n_sec, args.naive_windows).astype(int)
    t_naive = 0.0
    worst: dict[str, float] = {}
    by_t = {r["t_s"]: r for r in rows[p]}
    for t in secs:
        inside = np.flatnonzero((b > t - cfg.window_s) & (b <= t))
        peaks = np.round(b[inside[0] - 1 : inside[-1] + 1] * 1e6).astype(np.int64)
        t1 = time.process_time()
        ref = naive_window(peaks)
        t_naive += time.process_time() - t1
        hf = nk.hrv_frequency(peaks, sampling_rate=1_000_000, normalize=False, interpolation_rate=4)["HRV_HF"].iloc[0]
        mine = by_t[int(t)]
        pairs = {
            "hr_bpm": 60000 / ref["HRV_MeanNN"].iloc[0], "rmssd_ms": ref["HRV_RMSSD"].iloc[0],
            "sdnn_ms": ref["HRV_SDNN"].iloc[0], "pnn50": ref["HRV_pNN50"].iloc[0],
            "sd1_ms": ref["HRV_SD1"].iloc[0], "sd2_ms": ref["HRV_SD2"].iloc[0], "hf_ms2": hf,
        }
        for k, v in pairs.items():
            if mine[k] is not None and v:
                worst[k] = max(worst.get(k, 0.0), abs(mine[k] - v) / abs(v))
    per_window = t_naive / len(secs)
    naive_hrv_total = per_window * n_sec * len(parts)
    print(f"naive baseline: neurokit2 hrv() on one 60-s window: {per_window * 1e3:.0f} ms "
          f"(mean of {len(secs)} windows), extrapolated to every second of both people: {naive_hrv_total:.0f} s")
    print(f"ratio naive / incremental (whole offline run incl. beat detection): {naive_hrv_total / offline:.0f} x")
    print("largest relative difference vs neurokit2 on those windows: "
          + ", ".join(f"{k} {v * 100:.3f}%" for k, v in worst.items()))


if __name__ == "__main__":
    main()
