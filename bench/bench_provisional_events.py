"""Provisional zone events against the final ones, on the data's clock (issue #15, item 3).

Runs the simulator through the live pipeline (``SessionPipeline(provisional=True)``, as a server with
a viewer does) and, for every zone event (``leave_window``, ``return_window``, ``zone_change``),
prints when it became known in *session time* -- the end of the chunk whose arrival produced it --
so the figures do not depend on the machine's load:

* ``final_lag_s``: final event known - its ``t_start`` (the baseline: what a viewer got before);
* ``provisional_lag_s``: provisional event pushed - its ``t_start``;
* ``lead_s``: how much earlier the provisional event came than the final one it was confirmed by;
* ``offset_s``: final ``t_start`` - provisional ``t_start`` of confirmed events;
* counts of pushed, confirmed and withdrawn provisional events, and of final zone events that
  were never pushed provisionally (``missed``).

Wall-clock lags at a viewer, through the real server, are ``bench_latency.py``'s job.

Usage:
  .venv/bin/python bench/bench_provisional_events.py --seeds 1,2,3 --kinds rr,ecg
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.provisional_events import MATCH_TOLERANCE_S, ZONE_EVENT_KINDS, EventState
from coregulate.sensors.simulator import Simulator


def run(seed: int, kind: str, duration_s: float, events: bool = True) -> dict:
    """One simulated session with heart data from ``kind`` (``rr``, ``ecg``; ``audio``: rr and voices);
    ``events=False``: the provisional tier without its zone events (the CPU baseline)."""
    sim = Simulator(seed=seed, duration_s=duration_s, audio=kind == "audio")
    options = {"heart": {"beat_sources": [kind]}} if kind in ("rr", "ecg") else {}
    pipe = SessionPipeline(sim.streams, PipelineConfig(options=options), sim.utc0, provisional=True)
    if not events:
        pipe.provisional_events = None
    finals: list[tuple[float, object]] = []  # (known at, event)
    updates: list[tuple[float, object]] = []
    cpu0 = time.process_time()
    t_end = 0.0
    for chunk in sim.chunks():
        t_end = max(t_end, float(chunk.t_end))
        out = pipe.update(chunk)
        finals += [(t_end, e) for e in out.events if e.kind in ZONE_EVENT_KINDS]
        updates += [(t_end, u) for u in out.event_updates]
    out = pipe.finish()
    finals += [(t_end, e) for e in out.events if e.kind in ZONE_EVENT_KINDS]
    updates += [(t_end, u) for u in out.event_updates]
    cpu = time.process_time() - cpu0
    pushed = {u.pid: (t, u) for t, u in updates if u.state == EventState.PROVISIONAL}
    confirmed = [(t, u) for t, u in updates if u.state == EventState.CONFIRMED]
    withdrawn = [(t, u) for t, u in updates if u.state == EventState.WITHDRAWN]
    known_at = {id(e): t for t, e in finals}
    confirming = {id(u.final) for _, u in confirmed}
    return {
        "seed": seed, "kind": kind, "cpu_s": round(cpu, 2),
        "final": len(finals), "pushed": len(pushed), "confirmed": len(confirmed), "withdrawn": len(withdrawn),
        # the baseline's unknown -> window comes with the baseline's freeze on final rows: no provisional tier can precede it
        "missed": sum(1 for _, e in finals if id(e) not in confirming and not e.label.startswith("unknown")),
        "final_lag_s": [t - e.t_start for t, e in finals if not e.label.startswith("unknown")],
        "provisional_lag_s": [t - u.event.t_start for t, u in pushed.values()],
        "lead_s": [known_at[id(u.final)] - pushed[u.pid][0] for _, u in confirmed],
        "offset_s": [u.final.t_start - u.event.t_start for _, u in confirmed],
        "withdrawn_events": [f"{u.event.participant} {u.event.label} @{u.event.t_start:g}" for _, u in withdrawn],
        "missed_events": [f"{e.participant} {e.label} @{e.t_start:g}" for _, e in finals
                          if id(e) not in confirming and not e.label.startswith("unknown")],
    }


def summary(values: list[float]) -> dict:
    a = np.asarray(values, float)
    if not a.size:
        return {"n": 0}
    return {"n": int(a.size), "p50": round(float(np.median(a)), 2), "min": round(float(a.min()), 2),
            "max": round(float(a.max()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--kinds", default="rr,ecg", help="rr, ecg, audio (rr beats and both voices)")
    ap.add_argument("--duration", type=float, default=1200.0)
    ap.add_argument("--cpu", action="store_true", help="also run each session without provisional events "
                    "(same process, alternating) and print the CPU ratio")
    args = ap.parse_args()
    print(f"# bench_provisional_events: seeds={args.seeds} kinds={args.kinds} duration={args.duration:g} "
          f"tolerance={MATCH_TOLERANCE_S:g} s", flush=True)
    for kind in args.kinds.split(","):
        runs = [run(int(s), kind, args.duration) for s in args.seeds.split(",")]
        if args.cpu:
            cpu_without = [run(int(s), kind, args.duration, events=False)["cpu_s"] for s in args.seeds.split(",")]
            with_ = sum(r["cpu_s"] for r in runs)
            print(json.dumps({"kind": kind, "cpu_s_with_events": round(with_, 1), "cpu_s_without": round(sum(cpu_without), 1),
                              "ratio": round(with_ / sum(cpu_without), 3)}), flush=True)
        for r in runs:
            print(json.dumps({k: v for k, v in r.items() if not isinstance(v, list) or k.endswith("_events")}), flush=True)
        total = {k: sum(r[k] for r in runs) for k in ("final", "pushed", "confirmed", "withdrawn", "missed")}
        lists = {k: summary([x for r in runs for x in r[k]]) for k in ("final_lag_s", "provisional_lag_s", "lead_s", "offset_s")}
        print(json.dumps({"kind": kind, "sessions": len(runs), **total, **lists}), flush=True)


if __name__ == "__main__":
    main()
