"""Soak: a long simulated session through the real server with websocket viewers, and capacity.

Soak (default): ``coregulate serve`` in a subprocess runs a 2-hour simulated dyad (ECG + RR for
both people; audio off so that x60 stays within two shared cores -- the voice front end at
2 x 16 kHz x 60 would need ~2 M samples/s) replayed at x60, i.e. ~2 minutes of wall time, with
3 websocket viewers. Reported:

* the server's RSS (psutil) at session time ~5 min (start), ~60 min (middle) and the end, its
  peak, and the growth from middle to end (a flat line means no leak per session hour);
* per viewer: kept frames received, lost kept frames (sequence gaps, missing tail, missing
  ``end`` frame), reconnects (a viewer closed as too slow resumes with ``?since=``);
* whether the server kept the x60 pace (wall time vs session time / 60).

Capacity (``--capacity``): reuses the server worker's ``bench/bench_server.py`` (concurrent
dyads at x1, each watched by 2 viewers, real simulator + pipeline with ``--mode full``) on
increasing levels and reports the knee: the largest level whose worst per-session p99 push
latency stays under 250 ms with no lost frame.

Usage::

    .venv/bin/python bench/bench_soak.py                       # 2 h at x60, 3 viewers
    .venv/bin/python bench/bench_soak.py --hours 0.25 --speed 60
    .venv/bin/python bench/bench_soak.py --skip-soak --capacity --levels 2,4,8,16
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SUP = "soak-supervisor-token-0123456789"



async def _wait_ready(http) -> None:
    """Poll the freshly started server until it answers (at most 30 s)."""
    import httpx

    for _ in range(300):
        try:
            if (await http.get("/api/whoami")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)

def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server; kill it if it has not exited after 20 s."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Viewer:
    name: str
    last_seq: int = 0
    kept: int = 0
    kept_bytes: int = 0
    lossy: int = 0
    gaps: int = 0
    reconnects: int = 0
    resyncs: int = 0
    ended: bool = False
    lat_ms: list[float] = field(default_factory=list)
    # (receive wall time, t_s) of every feature row: how old the data is when it arrives
    rows: list[tuple[float, int]] = field(default_factory=list)


async def run_viewer(port: int, sid: str, v: Viewer, token: str) -> None:
    """Follow the session to its end frame; resume by sequence after a too-slow close."""
    import websockets

    while not v.ended:
        since = f"?since={v.last_seq}" if v.last_seq else ""
        url = f"ws://127.0.0.1:{port}/api/sessions/{sid}/ws{since}"
        try:
            async with websockets.connect(url, subprotocols=["coregulate", f"token.{token}"], max_size=1 << 22,
                                          compression=None) as ws:
                async for msg in ws:
                    now = time.time()
                    f = json.loads(msg)
                    if f.get("type") == "resync":
                        v.resyncs += 1
                    if f.get("lossy"):
                        v.lossy += 1
                        continue
                    if f["seq"] <= v.last_seq:
                        continue  # replayed after a resume: already counted
                    v.gaps += f["seq"] - v.last_seq - 1
                    v.last_seq = f["seq"]
                    v.kept += 1
                    v.kept_bytes += len(msg)
                    v.lat_ms.append((now - f["ts"]) * 1000.0)
                    if f["type"] == "features":
                        v.rows.extend((now, int(r["t_s"])) for r in f["data"])
                    if f["type"] == "end":
                        v.ended = True
        except websockets.ConnectionClosed:
            pass
        except (OSError, websockets.InvalidStatus) as exc:
            if v.reconnects > 20:
                raise RuntimeError(f"viewer {v.name} cannot connect: {exc}") from None
            await asyncio.sleep(0.2)
        if not v.ended:
            v.reconnects += 1


async def soak(args) -> dict:
    import httpx
    import psutil

    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="coregulate-soak-"))
    if args.hub_buffer:
        # diagnosis: the same server with a smaller resume buffer, to attribute memory growth
        code = ("import sys, uvicorn; from coregulate.server.web.app import Settings, create_app; "
                "app = create_app(Settings(data_dir=sys.argv[1], token=sys.argv[2], "
                "hub_options={'buffer_frames': int(sys.argv[4])})); "
                "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[3]), log_level='warning')")
        cmd = [sys.executable, "-c", code, str(data), SUP, str(port), str(args.hub_buffer)]
    else:
        cmd = [sys.executable, "-m", "coregulate.server.cli.main", "serve", "--port", str(port), "--data", str(data),
               "--token", SUP]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(data / "server.log", "w"))
    ps = psutil.Process(proc.pid)
    duration = args.hours * 3600.0
    samples: list[tuple[float, float, float]] = []  # (wall, session t, rss MB)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": f"Bearer {SUP}"}, timeout=60) as http:
            await _wait_ready(http)
            rss_idle = ps.memory_info().rss / 2**20
            r = await http.post("/api/sessions", json={
                "source": {"kind": "simulator", "seed": 11, "duration_s": duration, "audio": args.audio},
                "speed": args.speed, "label": "soak", "start": False})
            r.raise_for_status()
            sid = r.json()["id"]
            viewers = [Viewer(f"v{i}") for i in range(args.viewers)]
            viewer_token = json.loads((data / "token.json").read_text())["viewer"]
            tasks = [asyncio.create_task(run_viewer(port, sid, v, viewer_token)) for v in viewers]
            await asyncio.sleep(0.5)
            (await http.post(f"/api/sessions/{sid}/start")).raise_for_status()
            t0 = time.perf_counter()
            status = {}
            while not all(v.ended for v in viewers):
                await asyncio.sleep(1.0)
                try:
                    status = (await http.get(f"/api/sessions/{sid}/status")).json()
                except httpx.HTTPError:
                    continue
                t_sess = float(status.get("session_time_s") or status.get("duration_s") or 0.0)
                samples.append((time.perf_counter() - t0, t_sess, ps.memory_info().rss / 2**20))
                if not args.quiet and len(samples) % 10 == 0:
                    print(f"  wall {samples[-1][0]:6.0f} s  session {t_sess:7.0f} s  rss {samples[-1][2]:7.1f} MB  "
                          f"kept {[v.kept for v in viewers]}", file=sys.stderr, flush=True)
                if time.perf_counter() - t0 > duration / args.speed * 3 + 120:
                    raise RuntimeError("the session did not finish within 3x its paced duration")
            wall = time.perf_counter() - t0
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            final = (await http.get(f"/api/sessions/{sid}/status")).json()
            with_file = (await http.get(f"/api/sessions/{sid}/features", params={"participant": "client"})).json()
    finally:
        _stop(proc)

    seq = final.get("seq") or (final.get("hub") or {}).get("seq")
    arr = np.array(samples)

    def rss_at(t_session: float) -> float:
        i = int(np.argmin(np.abs(arr[:, 1] - t_session)))
        return round(float(arr[i, 2]), 1)

    mid, end = duration / 2, duration
    lat = np.array([x for v in viewers for x in v.lat_ms])
    return {
        "session_h": args.hours, "speed": args.speed, "audio": args.audio, "viewers": args.viewers,
        "wall_s": round(wall, 1), "paced_wall_s": round(duration / args.speed, 1),
        "status": final.get("status"), "feature_rows_client": len(with_file.get("rows", [])),
        "rss_mb": {"idle": round(rss_idle, 1), "start_5min": rss_at(300.0), "middle": rss_at(mid), "end": rss_at(end),
                   "peak": round(float(arr[:, 2].max()), 1),
                   "growth_middle_to_end_mb": round(rss_at(end) - rss_at(mid), 1)},
        "last_seq": seq,
        # the hub keeps the last 16384 kept frames for resume: RSS grows with them until the cap
        "kept_frames_mb": round(viewers[0].kept_bytes / 2**20, 1) if viewers else None,
        "per_viewer": [{"kept": v.kept, "lossy": v.lossy, "gaps": v.gaps, "missing_tail": (seq or v.last_seq) - v.last_seq,
                        "ended": v.ended, "reconnects": v.reconnects, "resyncs": v.resyncs} for v in viewers],
        "lost_kept_frames": int(sum(v.gaps + ((seq or v.last_seq) - v.last_seq) + (0 if v.ended else 1) for v in viewers)),
        "e2e_p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
        "e2e_p99_ms": round(float(np.percentile(lat, 99)), 1) if lat.size else None,
        "server_push_p99_ms": (final.get("hub") or {}).get("push_p99_ms"),
    }


def capacity(args) -> dict:
    """Knee of concurrent x1 dyads, measured by bench_server.py (not duplicated here)."""
    spec = importlib.util.spec_from_file_location("bench_server", HERE / "bench_server.py")
    bs = importlib.util.module_from_spec(spec)
    sys.modules["bench_server"] = bs
    spec.loader.exec_module(bs)
    ns = argparse.Namespace(mode=args.capacity_mode, levels=args.levels, fanout=0, seconds=args.capacity_seconds,
                            no_record=False, sync_off=False, profile="")
    t0 = time.perf_counter()
    results = asyncio.run(bs.bench(ns))
    ok = [r["sessions"] for r in results if r["meets_target"]]
    bad = [r["sessions"] for r in results if not r["meets_target"]]
    return {"mode": args.capacity_mode, "levels": [
        {k: r[k] for k in ("sessions", "server_push_p99_ms_worst_session", "e2e_p99_ms", "lost_kept_frames", "meets_target")}
        for r in results],
        "knee_dyads": max(ok) if ok else 0, "first_failing": min(bad) if bad else None,
        "wall_s": round(time.perf_counter() - t0, 1)}


async def _age_level(n: int, seconds: float, audio: bool) -> dict:
    """n simulated dyads at x1 on a fresh ``coregulate serve``, 2 viewers each, for ``seconds``."""
    import httpx

    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="coregulate-cap-"))
    proc = subprocess.Popen([sys.executable, "-m", "coregulate.server.cli.main", "serve", "--port", str(port),
                             "--data", str(data), "--token", SUP], stdout=subprocess.DEVNULL,
                            stderr=open(data / "server.log", "w"))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": f"Bearer {SUP}"}, timeout=60) as http:
            await _wait_ready(http)
            token = json.loads((data / "token.json").read_text())["viewer"]
            sids = []
            for i in range(n):
                r = await http.post("/api/sessions", json={"source": {"kind": "simulator", "seed": i, "duration_s": 1200,
                                                                      "audio": audio}, "speed": 1.0, "start": False})
                r.raise_for_status()
                sids.append(r.json()["id"])
            viewers = {sid: [Viewer(f"{sid}/{k}") for k in range(2)] for sid in sids}
            tasks = [asyncio.create_task(run_viewer(port, sid, v, token)) for sid in sids for v in viewers[sid]]
            await asyncio.sleep(0.5)
            started = {}
            for sid in sids:
                (await http.post(f"/api/sessions/{sid}/start")).raise_for_status()
                started[sid] = time.time()
            await asyncio.sleep(seconds)
            await asyncio.gather(*(http.post(f"/api/sessions/{sid}/stop") for sid in sids))
            end_timeout = False
            try:
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
            except asyncio.TimeoutError:  # overloaded: end frames still queued a minute after stop
                end_timeout = True
                for t in tasks:
                    t.cancel()
            hubs = [(await http.get(f"/api/sessions/{sid}/status")).json().get("hub") or {} for sid in sids]
    finally:
        _stop(proc)
    # age of a feature row = arrival - wall time of the end of its second; the estimators' own
    # look-ahead (R peaks, windows) is in it, so compare levels: growth means falling behind
    ages, early, late = [], [], []
    for sid in sids:
        for v in viewers[sid]:
            for w, t in v.rows:
                a = w - (started[sid] + t)
                ages.append(a)
                (early if t <= seconds / 2 else late).append(a)
    lat = np.array([x for vs in viewers.values() for v in vs for x in v.lat_ms])
    p99s = [h.get("push_p99_ms") for h in hubs if h.get("push_p99_ms") is not None]
    lost = sum(v.gaps for vs in viewers.values() for v in vs)
    return {"dyads": n, "audio": audio, "rows": len(ages),
            "age_p50_s": round(float(np.median(ages)), 2) if ages else None,
            "age_p99_s": round(float(np.percentile(ages, 99)), 2) if ages else None,
            "age_growth_s": round(float(np.median(late) - np.median(early)), 2) if early and late else None,
            "push_p99_ms_worst": round(max(p99s), 1) if p99s else None,
            "e2e_p99_ms": round(float(np.percentile(lat, 99)), 1) if lat.size else None, "lost": int(lost),
            "end_timeout": end_timeout}


def capacity_age(args) -> dict:
    """Own capacity run that also measures how old the data is on arrival (pipeline lag)."""
    out = []
    for n in (int(x) for x in args.levels.split(",") if x):
        res = asyncio.run(_age_level(n, args.capacity_seconds, args.audio))
        res["meets_target"] = bool(res["lost"] == 0 and not res["end_timeout"] and (res["push_p99_ms_worst"] or 0) < 250
                                   and (res["age_growth_s"] is not None and res["age_growth_s"] < 1.0))
        print("  " + json.dumps(res), file=sys.stderr, flush=True)
        out.append(res)
    ok = [r["dyads"] for r in out if r["meets_target"]]
    bad = [r["dyads"] for r in out if not r["meets_target"]]
    return {"levels": out, "knee_dyads": max(ok) if ok else 0, "first_failing": min(bad) if bad else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=2.0, help="simulated session length (default 2 h)")
    ap.add_argument("--speed", type=float, default=60.0, help="replay speed (default x60)")
    ap.add_argument("--viewers", type=int, default=3)
    ap.add_argument("--audio", action="store_true", help="include the two 16 kHz microphones (CPU-heavy at x60)")
    ap.add_argument("--hub-buffer", type=int, default=0,
                    help="diagnosis: run the server with this many kept frames in the resume buffer")
    ap.add_argument("--skip-soak", action="store_true")
    ap.add_argument("--capacity", action="store_true", help="also find the x1 capacity knee with bench_server.py")
    ap.add_argument("--capacity-mode", choices=("push", "full"), default="full")
    ap.add_argument("--levels", default="2,4,8,16", help="concurrent dyads per capacity level")
    ap.add_argument("--capacity-seconds", type=float, default=20.0)
    ap.add_argument("--capacity-age", action="store_true",
                    help="own capacity run measuring the age of feature rows on arrival (pipeline lag), "
                         "with --audio for real voice processing")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    print(f"# bench_soak: cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}", flush=True)
    if not args.skip_soak:
        print("soak " + json.dumps(asyncio.run(soak(args))), flush=True)
    if args.capacity:
        print("capacity " + json.dumps(capacity(args)), flush=True)
    if args.capacity_age:
        print("capacity_age " + json.dumps(capacity_age(args)), flush=True)


if __name__ == "__main__":
    main()
