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

Dyad events (``--dyad``: rupture, repair, co-regulation and therapist candidates,
:mod:`coregulate.models.provisional_dyad`), per kind: the same counts, and

* ``lead_s``: final event known - provisional event pushed (confirmed ones; a rupture's final event
  is written when it closes);
* ``open_lead_s`` (ruptures): the final tier opened the candidate (what a viewer saw before, in the
  dyad rows' ``dyad_event``) - provisional event pushed;
* ``repair_lead_s``, ``coreg_lead_s``, ``therapist_lead_s``: ``lead_s`` of that kind alone;
* ``offset_s``: final ``t_start`` - provisional ``t_start``.

Wall-clock lags at a viewer, through the real server, are ``bench_latency.py``'s job.

Usage:
  .venv/bin/python bench/bench_provisional_events.py --seeds 1,2,3 --kinds rr,ecg
  .venv/bin/python bench/bench_provisional_events.py --seeds 1,2,3 --kinds rr,ecg --dyad [--cpu]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.provisional_events import DYAD_EVENT_KINDS, MATCH_TOLERANCE_S, ZONE_EVENT_KINDS, EventState
from coregulate.sensors.simulator import Simulator


def run(seed: int, kind: str, duration_s: float, events: bool = True, dyad: bool = False, dyad_tier: bool = True) -> dict:
    """One simulated session with heart data from ``kind`` (``rr``, ``ecg``; ``audio``: rr and voices);
    ``events=False``: the provisional tier without its events (the CPU baseline); ``dyad``: report the
    dyad events instead of the zone changes; ``dyad_tier=False``: zone events only (the dyad's CPU baseline)."""
    sim = Simulator(seed=seed, duration_s=duration_s, audio=kind == "audio")
    options = {"heart": {"beat_sources": [kind]}} if kind in ("rr", "ecg") else {}
    pipe = SessionPipeline(sim.streams, PipelineConfig(options=options), sim.utc0, provisional=True)
    if not events:
        pipe.provisional_events = None
    if not dyad_tier:
        pipe.provisional_dyad = None
    kinds = DYAD_EVENT_KINDS if dyad else ZONE_EVENT_KINDS
    finals: list[tuple[float, object]] = []  # (known at, event)
    updates: list[tuple[float, object]] = []
    opened: dict[float, float] = {}  # rupture t_start -> when the final tier opened it (known at)
    cpu0 = time.process_time()
    t_end = 0.0
    for chunk in sim.chunks():
        t_end = max(t_end, float(chunk.t_end))
        out = pipe.update(chunk)
        finals += [(t_end, e) for e in out.events if e.kind in kinds]
        updates += [(t_end, u) for u in out.event_updates if u.event.kind in kinds]
        if dyad and pipe.provisional_dyad is not None:
            for e in pipe.provisional_dyad.dyad.open_candidates():
                opened.setdefault(e.t_start, t_end)
    out = pipe.finish()
    finals += [(t_end, e) for e in out.events if e.kind in kinds]
    updates += [(t_end, u) for u in out.event_updates if u.event.kind in kinds]
    cpu = time.process_time() - cpu0
    pushed = {u.pid: (t, u) for t, u in updates if u.state == EventState.PROVISIONAL}
    confirmed = [(t, u) for t, u in updates if u.state == EventState.CONFIRMED]
    withdrawn = [(t, u) for t, u in updates if u.state == EventState.WITHDRAWN]
    known_at = {id(e): t for t, e in finals}
    confirming = {id(u.final) for _, u in confirmed}
    # the baseline's unknown -> window comes with the baseline's freeze on final rows: no provisional tier can precede it
    counted = [(t, e) for t, e in finals if not e.label.startswith("unknown")]
    r = {
        "seed": seed, "kind": kind, "cpu_s": round(cpu, 2),
        "final": len(finals), "pushed": len(pushed), "confirmed": len(confirmed), "withdrawn": len(withdrawn),
        "missed": sum(1 for _, e in counted if id(e) not in confirming),
        "final_lag_s": [t - e.t_start for t, e in counted],
        "provisional_lag_s": [t - u.event.t_start for t, u in pushed.values()],
        "lead_s": [known_at[id(u.final)] - pushed[u.pid][0] for _, u in confirmed],
        "offset_s": [u.final.t_start - u.event.t_start for _, u in confirmed],
        "withdrawn_events": [f"{u.event.participant or u.event.kind} {u.event.label} @{u.event.t_start:g}" for _, u in withdrawn],
        "missed_events": [f"{e.participant or e.kind} {e.label} @{e.t_start:g}" for _, e in counted if id(e) not in confirming],
    }
    if dyad:
        r["by_kind"] = {k: {"final": sum(e.kind == k for _, e in finals), "pushed": sum(u.event.kind == k for _, u in pushed.values()),
                            "confirmed": sum(u.event.kind == k for _, u in confirmed),
                            "withdrawn": sum(u.event.kind == k for _, u in withdrawn)} for k in sorted(kinds)}
        r["open_lead_s"] = [opened[u.final.t_start] - pushed[u.pid][0] for _, u in confirmed
                            if u.event.kind == "rupture_candidate" and u.final.t_start in opened]
        r["repair_lead_s"] = [known_at[id(u.final)] - pushed[u.pid][0] for _, u in confirmed if u.event.kind == "repair_candidate"]
        for k, name in (("co_regulation", "coreg_lead_s"), ("therapist_dysregulated", "therapist_lead_s")):
            r[name] = [known_at[id(u.final)] - pushed[u.pid][0] for _, u in confirmed if u.event.kind == k]
    return r


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
    ap.add_argument("--dyad", action="store_true", help="report the dyad's rupture and repair candidates instead "
                    "of the zone changes")
    args = ap.parse_args()
    print(f"# bench_provisional_events: seeds={args.seeds} kinds={args.kinds} duration={args.duration:g} "
          f"tolerance={MATCH_TOLERANCE_S:g} s", flush=True)
    for kind in args.kinds.split(","):
        runs = [run(int(s), kind, args.duration, dyad=args.dyad) for s in args.seeds.split(",")]
        if args.cpu:
            # --dyad: the same with zone events only; else without any provisional events
            cpu_without = [run(int(s), kind, args.duration, events=args.dyad, dyad_tier=False)["cpu_s"]
                           for s in args.seeds.split(",")]
            with_ = sum(r["cpu_s"] for r in runs)
            print(json.dumps({"kind": kind, "cpu_s_with_events": round(with_, 1), "cpu_s_without": round(sum(cpu_without), 1),
                              "ratio": round(with_ / sum(cpu_without), 3)}), flush=True)
        for r in runs:
            print(json.dumps({k: v for k, v in r.items() if not isinstance(v, list) or k.endswith("_events")}), flush=True)
        total = {k: sum(r[k] for r in runs) for k in ("final", "pushed", "confirmed", "withdrawn", "missed")}
        if args.dyad:
            total["by_kind"] = {k: {c: sum(r["by_kind"][k][c] for r in runs) for c in ("final", "pushed", "confirmed", "withdrawn")}
                                for k in sorted(DYAD_EVENT_KINDS)}
        names = ["final_lag_s", "provisional_lag_s", "lead_s", "offset_s"] + (["open_lead_s", "repair_lead_s", "coreg_lead_s", "therapist_lead_s"] if args.dyad else [])
        lists = {k: summary([x for r in runs for x in r[k]]) for k in names}
        print(json.dumps({"kind": kind, "sessions": len(runs), **total, **lists}), flush=True)


if __name__ == "__main__":
    main()
