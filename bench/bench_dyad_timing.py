"""Detection timing of the dyad's rupture and repair candidates against the simulator's script.

For each simulated session (the whole pipeline: heart and voice -> autonomic -> tolerance ->
dyad, at max speed), every scripted phase that should produce a candidate -- rupture at the
onsets of ``hyper`` and ``withdrawal``, repair at the onsets of ``coregulate`` and ``repair`` --
is matched with the candidate whose start lies nearest to it. Printed per phase: the candidate's
start (its dating) and end (for a repair, the second it was confirmed) relative to the scripted
onset, and the confirmed zone change from the tolerance estimator for comparison. "miss" = no
candidate starts within 60 s (the issue's criterion). Also counted: rupture candidates opened
(their first low-synchrony second) while the script has the pair coupled (``coregulate`` and
``repair``), which the script does not call for.

    .venv/bin/python bench/bench_dyad_timing.py [--seeds 0-5] [--audio-seeds 0-7] [--jobs 2]
        [--dyad '{"recovering_share": 10}']   # DyadParams overrides, e.g. to see a rule's effect
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np

EXPECTED = (("rupture_candidate", "hyper"), ("rupture_candidate", "withdrawal"),
            ("repair_candidate", "coregulate"), ("repair_candidate", "repair"))
ZONE_EVENT = {"rupture_candidate": "leave_window", "repair_candidate": "return_window"}


def seeds(text: str) -> list[int]:
    if not text:
        return []
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def one_session(seed: int, audio: bool, dyad: dict) -> tuple[list[tuple[str, float | None, float | None, float | None]], int]:
    from coregulate.models.config import PipelineConfig
    from coregulate.models.pipeline import SessionPipeline
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=seed, duration_s=1200, audio=audio)
    sp = SessionPipeline(sim.streams, PipelineConfig(options={"dyad": dyad}))
    events = []
    for out in [sp.update(chunk) for chunk in sim.chunks()] + [sp.finish()]:
        events += out.events
    rows = []
    for kind, phase in EXPECTED:
        onset = sim.truth.phase(phase).start
        cands = [e for e in events if e.kind == kind and abs(e.t_start - onset) <= 60]
        zone = [e.t_start - onset for e in events
                if e.kind == ZONE_EVENT[kind] and e.participant == "client" and e.t_start > onset]
        best = min(cands, key=lambda e: abs(e.t_start - onset)) if cands else None
        rows.append((phase, None if best is None else best.t_start - onset,
                     None if best is None else best.t_end - onset, min(zone) if zone else None))
    coupled = [sim.truth.phase(name) for name in ("coregulate", "repair")]
    unscripted = sum(1 for e in events if e.kind == "rupture_candidate"
                     and any(p.start <= e.evidence["low_sync_since_s"] < p.end for p in coupled))
    return rows, unscripted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-5", help="seeds without voice, e.g. 0-5")
    ap.add_argument("--audio-seeds", default="0-7", help="seeds with both microphones, e.g. 0-7")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--dyad", type=json.loads, default={}, help="DyadParams overrides as JSON")
    args = ap.parse_args()
    runs = [(s, False) for s in seeds(args.seeds)] + [(s, True) for s in seeds(args.audio_seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        out = list(pool.map(one_session, *zip(*runs), [args.dyad] * len(runs)))
    results = [rows for rows, _ in out]

    def fmt(v: float | None) -> str:
        return "miss" if v is None else f"{v:+.0f}"

    print(f"{'seed':>4} {'voice':>5}  " + "  ".join(f"{p:>24}" for _, p in EXPECTED))
    print(f"{'':>10}  " + "  ".join(f"{'start / end / zone (s)':>24}" for _ in EXPECTED))
    for (seed, audio), rows in zip(runs, results):
        cells = [f"{fmt(a)} / {fmt(b)} / {fmt(z)}" for _, a, b, z in rows]
        print(f"{seed:>4} {'yes' if audio else 'no':>5}  " + "  ".join(f"{c:>24}" for c in cells))
    print()
    for i, (kind, phase) in enumerate(EXPECTED):
        starts = [r[i][1] for r in results if r[i][1] is not None]
        ends = [r[i][2] for r in results if r[i][2] is not None]
        zones = [r[i][3] for r in results if r[i][3] is not None]
        found = f"{len(starts)}/{len(results)} within 60 s"
        if starts:
            found += (f"; start {min(starts):+.0f}..{max(starts):+.0f} (median {np.median(starts):+.0f}); "
                      f"end {min(ends):+.0f}..{max(ends):+.0f}; confirmed zone change "
                      f"{min(zones):+.0f}..{max(zones):+.0f}" if zones else "")
        print(f"{kind} at {phase} onset: {found}")
    print(f"rupture candidates opened in scripted coupled phases: {sum(n for _, n in out)} "
          f"in {len(runs)} sessions {[n for _, n in out]}")


if __name__ == "__main__":
    main()
