"""CPU per dyad of a live session, without and with the provisional tier (issue #15), in one process.

The server's per-dyad cost is what a session's thread does: the simulator's chunks through
:class:`~coregulate.server.session.runner.SessionRunner` (recorder, estimators) into a real
:class:`~coregulate.server.web.hub.Hub` through its :class:`~coregulate.server.web.hub_sink.HubSink`
(no viewer: the sockets' share is ``bench_server.py``'s). The runner computes provisional values
only for a sink that takes them, so *off* is the same sink without ``on_provisional``: what a
session cost before the tier existed. Runs alternate off/on, at speed max, and CPU is the
process's own time (``time.process_time``), so other jobs on a shared machine slow a run down
but hardly change its figure; the ratio on/off is the issue's criterion (<= 1.30).

Kinds: ``audio`` (the capacity benches' dyad: simulator with two 16-kHz microphones, ECG and RR,
default heart sources) and ``ecg`` (beats from the 130-Hz ECG only, no audio: the provisional
tier's most expensive input, a streaming R-peak detector per person).

Usage:
  .venv/bin/python bench/bench_dyad_cpu.py                      # 360-s sessions, 2 runs per tier and kind
  .venv/bin/python bench/bench_dyad_cpu.py --seconds 120 --repeats 1 --kinds ecg
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def _sink(hub, provisional: bool):
    from coregulate.server.web.hub_sink import HubSink

    if provisional:
        return HubSink(hub)

    # HubSink's own methods, minus on_provisional (the runner asks hasattr(sink, "on_provisional")):
    # same per-call cost as the real sink, which a wrapper would not have
    methods = {k: v for k, v in vars(HubSink).items() if k not in ("on_provisional", "__dict__", "__weakref__")}
    FinalOnlySink = type("FinalOnlySink", (), methods)
    return FinalOnlySink(hub)


def one_run(kind: str, seconds: float, provisional: bool, folder: Path) -> dict:
    """CPU seconds of one session of ``seconds`` at speed max (its thread's work, in this process)."""
    from coregulate.models.config import PipelineConfig
    from coregulate.sensors.simulator import Simulator
    from coregulate.server.session.runner import open_session
    from coregulate.server.web.hub import Hub

    # the simulator's script needs its 300-s baseline; the run stops after `seconds`
    source = Simulator(seed=1, duration_s=max(seconds, 360.0), audio=(kind == "audio"), speed=None)
    config = PipelineConfig(options={"heart": {"beat_sources": ["ecg"]}}) if kind == "ecg" else PipelineConfig()
    hub = Hub(f"cpu-{kind}", loop=None)
    published: set[str] = set()
    publish = hub.publish

    def counted(type_, data, **kw):
        published.add(type_)
        return publish(type_, data, **kw)

    hub.publish = counted
    sink = _sink(hub, provisional)
    path = folder / f"{kind}-{int(provisional)}-{time.monotonic_ns()}.sqlite"
    cpu0, wall0 = time.process_time(), time.perf_counter()
    runner = open_session(source, config, path, path.stem, sinks=[sink])
    handle = runner.handle

    def until(chunk) -> None:
        handle(chunk)
        if chunk.t_end >= seconds:
            runner.stop()

    runner.handle = until
    asyncio.run(runner.run())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_s": cpu, "wall_s": wall, "provisional_frames": "provisional" in published}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=360.0, help="session time per run")
    ap.add_argument("--repeats", type=int, default=2, help="runs per tier and kind (alternating off, on)")
    ap.add_argument("--kinds", default="audio,ecg", help="audio, ecg")
    args = ap.parse_args()
    from coregulate.server.session.warm_up import preload_estimator_libraries

    preload_estimator_libraries()  # imports outside the timings
    print(f"# bench_dyad_cpu: cpus={os.cpu_count()} seconds={args.seconds} repeats={args.repeats} "
          f"load_avg_1min={os.getloadavg()[0]:.1f}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="coregulate-dyad-cpu-"))
    for kind in [k for k in args.kinds.split(",") if k]:
        one_run(kind, 30.0, True, folder)  # first-call caches (filter designs) outside the timings
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(args.repeats):
            for provisional in (False, True):
                runs[provisional].append(one_run(kind, args.seconds, provisional, folder))
        assert all(r["provisional_frames"] for r in runs[True]) and not any(r["provisional_frames"] for r in runs[False])
        per_s = {p: statistics.median(r["cpu_s"] for r in rs) / args.seconds for p, rs in runs.items()}
        print(json.dumps({
            "kind": kind, "session_s": args.seconds,
            "cpu_s_per_session_s_off": round(per_s[False], 5), "cpu_s_per_session_s_on": round(per_s[True], 5),
            "on_vs_off": round(per_s[True] / per_s[False], 3),
            "runs_cpu_s": {"off": [round(r["cpu_s"], 2) for r in runs[False]],
                           "on": [round(r["cpu_s"], 2) for r in runs[True]]},
            "load_avg_1min": round(os.getloadavg()[0], 1)}), flush=True)


if __name__ == "__main__":
    main()
