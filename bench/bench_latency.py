"""Live latency as a supervisor sees it: from the moment a value describes to its arrival at a viewer.

One server (uvicorn, a separate process, the real app, Simulator/replay + SessionRunner + pipeline)
runs N dyads started over REST at x1; this process connects one websocket viewer per dyad and, for
every frame, computes

    lag = arrival wall time - (session origin in wall time + session time the value describes)

* ``final``: feature rows (``features`` frames); a row ``t_s`` describes the moment ``t_s``.
* ``provisional``: ``provisional`` frames' heart values (issue #15); a value describes its ``t`` (its newest beat).
* ``provisional_arousal``: the arousal/zone evidence inside provisional frames (when present).
* ``provisional_event``: zone changes pushed on provisional evidence (``provisional_event`` frames,
  state ``provisional``); an event describes its ``t_start``, the second its rule was met.
  ``final_event``: the final zone events (``events`` frames: leave_window, return_window,
  zone_change), the baseline the provisional events are compared with (``p50_vs_final_event``);
  ``event_settled``: when the confirmation or withdrawal of a provisional event arrived, from its
  ``t_start``. Zone changes need the baseline and then a sustained excursion: with
  ``--baseline-speed 20 --baseline 0-300`` the simulator's 300-s calm baseline plays at x20 and its
  hyperarousal (about 340 s) and return (about 460 s) fall within a 220-s run at x1; only
  frames describing the x1 part are counted then, and the session origin is estimated from them.
* ``provisional_voice``, ``provisional_eda``, ``provisional_movement``: the voice, skin-conductance and
  movement seconds of provisional frames (``family`` voice/eda/movement); a value describes its ``t``,
  the end of its second.
* ``wire``: ``sensors`` frames, which say how far the raw data has arrived (``t``, the end of the
  newest chunk); their lag is what the server and the socket cost, the floor any value can reach.

The baseline, measured in the same process and run, is the final tier: it is what a viewer got
before the provisional tier existed (the final rows are unchanged by it), and each provisional
tier is printed as a ratio to its median (``p50_vs_final``).

The session origin is estimated per dyad as min(publish time - t) over its ``sensors`` frames (a
chunk is released at ``origin + t_end`` by the pacing, never earlier). Frames that arrive after
the stop request are left out: a stop flushes the tail at once, which would flatter the figures.

Input kinds (each dyad has one): ``ecg`` (simulated Polar-H10 ECG at 130 Hz, beats from the ECG
only), ``rr`` (the strap's RR intervals only), ``audio`` (RR plus two 16-kHz microphones: the row
waits for the voice features too), ``ppg`` (NeuroKit2's resting PPG at 100 Hz replayed for both
people; needs the shared data folder, skipped without it), ``eda`` (NeuroKit2's 8-min resting
recording, ECG and EDA at 100 Hz, replayed for both people; needs the shared data folder), ``acc``
(the Polar Verity Sense export's PPG at 55 Hz and accelerometer at 52 Hz, replayed for both people;
needs the shared data folder). The simulator releases 1-s chunks.

The server's CPU time over the run (from /proc) is printed per dyad, as a share of one core.
``--frames`` as in bench_server.py: ``batched`` (default; frames grouped per message and merged
per hand-over, as the dashboard gets them), ``single`` (one frame per message, as before), ``both``.

Usage:
  .venv/bin/python bench/bench_latency.py --seconds 150       # 1 dyad per kind, then 32 dyads (kinds mixed)
  .venv/bin/python bench/bench_latency.py --levels 1 --kinds rr --seconds 40
  .venv/bin/python bench/bench_latency.py --levels 1 --kinds rr,ecg --seconds 220 --baseline 0-300 --baseline-speed 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_server import SUP, follow_session, free_port, stop_server, wait_up  # the same server and viewer as the capacity bench
KINDS = ("ecg", "rr", "audio", "ppg", "eda", "acc")
ZONE_EVENT_KINDS = ("leave_window", "return_window", "zone_change")  # models.provisional_events
DATA = Path(os.environ.get("COREGULATE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PPG_CSV = DATA / "neurokit_bio" / "bio_resting_5min_100hz.csv"
EDA_CSV = DATA / "neurokit_bio" / "bio_resting_8min_100hz.csv"  # ECG (mV) and EDA (uS) at 100 Hz
VERITY = DATA / "polar_verity_sense_ppg_biobss"  # Polar Sensor Logger: PPG 55 Hz, ACC 52 Hz (8.6 min)
VERITY_FILES = ("Polar_Sense_PPG.txt", "Polar_Sense_ACC.txt")
#: session seconds at the start left out of ``p99_after_warmup_s`` (the first chunks of a session
#: meet cold imports and caches; the other figures include them)
WARMUP_S = 20.0


def session_request(kind: str, data_dir: Path, baseline: tuple[float, float], baseline_speed: float | None = None) -> dict:
    """The REST body that starts one dyad whose live values come from ``kind``.

    A replayed file must sit in the server's data folder (the API confines SPECs to it): the PPG
    recording is copied into the bench's temporary one. ``baseline`` is shorter than the default
    5 minutes so that arousal (which needs it) exists within a short run.
    """
    base = {"speed": 1.0, "label": f"latency-{kind}", "start": False, "baseline": list(baseline)}
    if baseline_speed:
        base["baseline_speed"] = baseline_speed  # pacing only: the baseline plays faster, then x1
    if kind in ("ecg", "rr"):
        return {**base, "source": {"kind": "simulator", "duration_s": 1200, "audio": False},
                "options": {"heart": {"beat_sources": [kind]}}}
    if kind == "audio":
        return {**base, "source": {"kind": "simulator", "duration_s": 1200, "audio": True}}
    if kind == "ppg":
        specs = []
        for who in ("client", "therapist"):  # one file per person (a SPEC names each file once)
            local = data_dir / f"{who}-{PPG_CSV.name}"
            if not local.exists():
                shutil.copyfile(PPG_CSV, local)
            specs.append(f"{who}=csv:{local}?rate=100&ppg=PPG")
        return {**base, "source": {"kind": "files", "specs": specs}}
    if kind == "eda":
        specs = []
        for who in ("client", "therapist"):
            local = data_dir / f"{who}-{EDA_CSV.name}"
            if not local.exists():
                shutil.copyfile(EDA_CSV, local)
            specs.append(f"{who}=csv:{local}?rate=100&ecg=ECG:mV&eda=EDA:uS")
        return {**base, "source": {"kind": "files", "specs": specs}}
    if kind == "acc":
        specs = []
        for who in ("client", "therapist"):
            for name in VERITY_FILES:
                local = data_dir / f"{who}-{name}"
                if not local.exists():
                    shutil.copyfile(VERITY / name, local)
                specs.append(f"{who}={local}")
        return {**base, "source": {"kind": "files", "specs": specs}}
    raise ValueError(kind)


# -- server side ---------------------------------------------------------------------------------

def serve(args) -> None:
    """The real app with every estimator: bench_server's full mode."""
    import bench_server

    bench_server.serve(argparse.Namespace(mode="full", no_record=False, sync_off=False, profile="",
                                          port=args.port, data=args.data, frames=args.frames))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- viewer side ---------------------------------------------------------------------------------

class DyadLags:
    """Arrivals of one dyad's frames, turned into lags once the session origin is known."""

    def __init__(self, kind: str, x1_from: float = 0.0) -> None:
        self.kind = kind
        self.x1_from = x1_from  # session time from which the pacing is x1 (after a fast baseline)
        self.origin_candidates: list[float] = []
        self.arrivals: dict[str, list[tuple[float, float]]] = {"final": [], "provisional": [],
                                                               "provisional_arousal": [], "wire": [],
                                                               "provisional_event": [], "final_event": [],
                                                               "event_settled": [],
                                                               "provisional_voice": [], "provisional_eda": [],
                                                               "provisional_movement": []}
        self.connected = False

    def take(self, frame: dict, now: float) -> None:
        typ, data = frame.get("type"), frame.get("data")
        if typ == "sensors":
            t = float(data["t"])
            if t >= self.x1_from:
                self.origin_candidates.append(frame["ts"] - t)
            self.arrivals["wire"].append((now, t))
        elif typ == "provisional_event":
            for u in data:
                if u["event"]["kind"] not in ZONE_EVENT_KINDS:
                    continue  # dyad events are dated back from their rule's second: bench_provisional_events.py --dyad
                tier = "provisional_event" if u["state"] == "provisional" else "event_settled"
                self.arrivals[tier].append((now, float(u["event"]["t_start"])))
        elif typ == "events":
            for e in data:
                if e.get("kind") in ZONE_EVENT_KINDS:
                    self.arrivals["final_event"].append((now, float(e["t_start"])))
        elif typ == "features":
            for row in data:
                if row.get("hr_bpm") is not None or row.get("hr_inst_bpm") is not None or self.kind == "audio":
                    self.arrivals["final"].append((now, float(row["t_s"])))
        elif typ == "provisional":
            for v in data:
                family = v.get("family", "heart")
                if family in ("voice", "eda", "movement"):  # a second's values, once that second's data are in
                    self.arrivals[f"provisional_{family}"].append((now, float(v["t"])))
                elif v.get("hr_bpm") is not None or v.get("hr_inst_bpm") is not None:
                    self.arrivals["provisional"].append((now, float(v["t"])))
                if v.get("arousal") is not None:
                    self.arrivals["provisional_arousal"].append((now, float(v.get("t_arousal", v["t"]))))

    def lags(self, until: float, t_from: float = 0.0) -> dict[str, np.ndarray]:
        """Lags (s) of what arrived before ``until`` and describes session time ``t_from`` or later."""
        if not self.origin_candidates:
            return {k: np.zeros(0) for k in self.arrivals}
        origin = min(self.origin_candidates)
        t_from = max(t_from, self.x1_from)
        return {k: np.array([now - (origin + t) for now, t in v if now <= until and t >= t_from])
                for k, v in self.arrivals.items()}


async def viewer(port: int, sid: str, lags: DyadLags, batch: bool = True) -> None:
    def take(f: dict, now: float) -> bool:
        lags.take(f, now)
        return f.get("type") == "end"

    await follow_session(port, sid, take, on_connect=lambda: setattr(lags, "connected", True), batch=batch)


async def run_level(port: int, pid: int, data_dir: Path, kinds: list[str], seconds: float,
                    baseline: tuple[float, float], baseline_speed: float | None = None, batch: bool = True) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {SUP}"},
                                 timeout=60) as http:
        sids, dyads = [], []
        for kind in kinds:
            r = await http.post("/api/sessions", json=session_request(kind, data_dir, baseline, baseline_speed))
            if r.status_code != 201:
                raise RuntimeError(f"cannot create a {kind} dyad: {r.status_code} {r.text}")
            sids.append(r.json()["id"])
            dyads.append(DyadLags(kind, baseline[1] + 5.0 if baseline_speed else 0.0))
        tasks = [asyncio.create_task(viewer(port, sid, d, batch)) for sid, d in zip(sids, dyads)]
        while sum(d.connected for d in dyads) < len(dyads):
            await asyncio.sleep(0.05)
        cpu0, wall0 = cpu_seconds(pid), time.time()
        for sid in sids:
            (await http.post(f"/api/sessions/{sid}/start")).raise_for_status()
        await asyncio.sleep(seconds)
        t_stop = time.time()
        cpu1 = cpu_seconds(pid)
        await asyncio.gather(*(http.post(f"/api/sessions/{sid}/stop") for sid in sids))
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    res: dict = {"dyads": len(kinds), "seconds": seconds,
                 "server_cpu_per_dyad_pct": round(100 * (cpu1 - cpu0) / (t_stop - wall0) / len(kinds), 2)}
    for kind in sorted(set(kinds)):
        per_tier: dict[str, list] = {}
        steady: dict[str, list] = {}
        for d in dyads:
            if d.kind != kind:
                continue
            for tier, arr in d.lags(t_stop).items():
                per_tier.setdefault(tier, []).append(arr)
            for tier, arr in d.lags(t_stop, WARMUP_S).items():
                steady.setdefault(tier, []).append(arr)
        out = {}
        final = np.concatenate(per_tier.get("final", [np.zeros(0)]))
        final_p50 = float(np.percentile(final, 50)) if final.size else None
        for tier, arrs in per_tier.items():
            a = np.concatenate(arrs)
            if not a.size:
                out[tier] = None
                continue
            p50, p99 = float(np.percentile(a, 50)), float(np.percentile(a, 99))
            out[tier] = {"n": int(a.size), "p50_s": round(p50, 3), "p99_s": round(p99, 3)}
            b = np.concatenate(steady[tier])
            if b.size:
                out[tier]["p99_after_warmup_s"] = round(float(np.percentile(b, 99)), 3)
            if tier.startswith("provisional") and final_p50:
                out[tier]["p50_vs_final"] = round(p50 / final_p50, 3)
        final_event = out.get("final_event")
        if out.get("provisional_event") and final_event:
            out["provisional_event"]["p50_vs_final_event"] = round(out["provisional_event"]["p50_s"] / final_event["p50_s"], 3)
        res[kind] = out
    return res


async def bench(args) -> None:
    kinds = [k for k in args.kinds.split(",") if k]
    baseline = tuple(float(x) for x in args.baseline.split("-", 1))
    if "ppg" in kinds and not PPG_CSV.exists():
        print(f"# ppg skipped: {PPG_CSV} not found", flush=True)
        kinds.remove("ppg")
    if "eda" in kinds and not EDA_CSV.exists():
        print(f"# eda skipped: {EDA_CSV} not found", flush=True)
        kinds.remove("eda")
    if "acc" in kinds and not all((VERITY / name).exists() for name in VERITY_FILES):
        print(f"# acc skipped: {VERITY} not found", flush=True)
        kinds.remove("acc")
    for kind, csv, rate in (("ppg", PPG_CSV, 100.0), ("eda", EDA_CSV, 100.0), ("acc", VERITY / VERITY_FILES[1], 52.0)):
        # a recording that ends inside the fast-played baseline has no second at x1 to measure
        if kind in kinds and args.baseline_speed:
            with open(csv) as f:
                length_s = (sum(1 for _ in f) - 1) / rate
            if length_s <= baseline[1]:
                print(f"# {kind} skipped: its recording ({length_s:.0f} s) ends inside the fast-played baseline "
                      f"(0-{baseline[1]:g} s)", flush=True)
                kinds.remove(kind)
    if not kinds:
        print("# no input kind left to measure", flush=True)
        return
    plan: list[list[str]] = []
    for n in (int(x) for x in args.levels.split(",") if x):
        if n == 1:
            plan += [[k] for k in kinds]  # one dyad alone, each kind in turn
        else:
            plan.append([kinds[i % len(kinds)] for i in range(n)])  # kinds mixed, round robin
    framings = ("single", "batched") if args.frames == "both" else (args.frames,)
    for level in plan:
        for framing in framings:
            port = free_port()
            data = tempfile.mkdtemp(prefix="coregulate-latency-")
            proc = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--data", data,
                                     "--frames", framing])
            try:
                await wait_up(port, proc)
                res = await run_level(port, proc.pid, Path(data), level, args.seconds, baseline, args.baseline_speed,
                                      batch=framing == "batched")
            finally:
                stop_server(proc, data)
            print(json.dumps({"frames": framing, **res}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,32", help="numbers of concurrent dyads (1: each kind alone)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="input kinds, comma-separated: " + ", ".join(KINDS))
    ap.add_argument("--seconds", type=float, default=60.0, help="x1 session time per level")
    ap.add_argument("--baseline", default="0-90", help="arousal baseline START-END in session seconds "
                    "(provisional arousal exists from its end + the final lag on)")
    ap.add_argument("--baseline-speed", type=float, default=None,
                    help="play the baseline at this speed, then x1 (pacing only; counts only the x1 part)")
    ap.add_argument("--frames", choices=("batched", "single", "both"), default="batched",
                    help="as in bench_server.py: grouped and merged as the dashboard gets them, one per message, or both")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--data", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return
    print(f"# bench_latency: cpus={os.cpu_count()} seconds/level={args.seconds} levels={args.levels} "
          f"baseline={args.baseline} baseline_speed={args.baseline_speed}", flush=True)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
