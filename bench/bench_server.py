"""Supervisor-server push benchmark: concurrent dyad sessions at x1, each watched over websockets.

One server (uvicorn, a separate process) runs N sessions at x1 in its event loop, each with V
viewers; this process runs the viewers. For every kept frame (features, dyad, events, ...) a
viewer checks the sequence (a gap or a missing end frame is a lost frame) and measures
end-to-end latency (receive time minus the server's publish timestamp). The server's own
push latency (publish -> handed to the socket) comes from each session's hub statistics.

Modes:
  push  (default) real Recorder + a scripted runner that emits realistic per-second rows,
        ECG 130 Hz and 16 kHz audio chunks for two people: measures the server's recording
        and push path, not the estimators.
  full  the real Simulator + SessionRunner + pipeline (estimator cost included).

The server's CPU time while all the level's sessions run (from /proc, from the last start to the
stop request) is printed per dyad, as a share of one core.
``--provisional both`` runs every level twice, without and then with the provisional tier (issue
#15; a fresh server each), and prints the CPU ratio: the baseline is measured in the same run.
``--frames`` says how frames travel: ``batched`` (default) as the dashboard takes them (``?batch=1``:
a JSON array of frames per message, and the server merging what piled up in a hand-over,
``server/web/frame_batching.py``), ``single`` as before that (one frame per message, nothing
merged), ``both`` each level both ways (single first). Lossy frames received are also counted by type.

Usage:
  .venv/bin/python bench/bench_server.py                       # levels 10,25,50 dyads x 2 viewers, then 1 x 100
  .venv/bin/python bench/bench_server.py --levels 50 --seconds 30 --mode full
  .venv/bin/python bench/bench_server.py --mode full --levels 40 --fanout 0 --provisional both
  .venv/bin/python bench/bench_server.py --mode full --levels 40 --fanout 0 --provisional on --frames both
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SUP = "bench-supervisor-token-0123456789"
VIEW = "bench-viewer-token-0123456789"


# -- server side ---------------------------------------------------------------------------------

def _push_backends():
    from coregulate.models.base import Event
    from coregulate.sensors.base import Source
    from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
    from coregulate.sensors.pacing import paced
    from coregulate.server.session.recorder import Recorder
    from coregulate.server.session.store import SessionStore
    from coregulate.server.web.sessions import Backends

    rng = np.random.default_rng(0)
    ecg_block = rng.normal(0, 200, 65)
    audio_block = rng.normal(0, 0.05, 8000)

    class BenchSource(Source):
        def __init__(self, duration_s, speed):
            self.duration_s, self.speed, self.utc0 = duration_s, speed, 1767261600.0
            self.streams = []
            for p in ("client", "therapist"):
                self.streams += [StreamInfo(p, StreamKind.ECG, 130.0), StreamInfo(p, StreamKind.AUDIO, 16000.0)]

        def chunks(self):
            for k in range(int(self.duration_s * 2)):
                t0 = k * 0.5
                for s in self.streams:
                    yield Chunk(s, ecg_block if s.kind == StreamKind.ECG else audio_block, t0=t0)

        def __aiter__(self):
            return paced(self.chunks(), self.speed)

    class ScriptRunner:
        """Recorder + sinks like SessionRunner, with scripted rows instead of the estimators."""

        def __init__(self, source, recorder, config, sinks=()):
            self.source, self.recorder, self.sinks, self._stop = source, recorder, list(sinks), False

        def stop(self):
            self._stop = True

        def add_annotation(self, t_s, text, author="", t_end=None, source="user"):
            ann = {"id": self.recorder.add_annotation(t_s, text, author, t_end), "t_s": t_s, "t_end": t_end,
                   "author": author, "text": text, "source": source}
            for s in self.sinks:
                s.on_annotation(ann)
            return ann

        async def run(self):
            done = 0
            status = "complete"
            async for chunk in self.source:
                self.recorder.write_chunk(chunk)
                for s in self.sinks:
                    s.on_chunk(chunk)
                while chunk.t_end >= done + 1:
                    done += 1
                    rows = [{"t_s": done, "participant": p, "hr_bpm": 70 + 5 * math.sin(done / 9 + i), "ln_rmssd": 3.4,
                             "rmssd_ms": 30.0, "sdnn_ms": 40.0, "pns_index": 0.1, "sns_index": -0.2,
                             "arousal": math.sin(done / 20 + i), "zone": "window", "quality": "good", "vagal_reliable": True,
                             "vocal_arousal": 0.2, "speaking": bool((done // 5 + i) % 2), "loudness_db": -30.0}
                            for i, p in enumerate(("client", "therapist"))]
                    dy = [{"t_s": done, "sync_hr_z": 1.2, "sync_arousal_z": 0.4, "leader": "therapist"}]
                    self.recorder.write_features(rows)
                    self.recorder.write_dyad(dy)
                    for s in self.sinks:
                        s.on_features(rows)
                        s.on_dyad(dy)
                    if done % 10 == 0:
                        ev = [Event("zone_change", float(done), participant="client", rule="bench")]
                        ids = self.recorder.write_events(ev)
                        for s in self.sinks:
                            s.on_events([dict(e.to_dict(), id=i) for e, i in zip(ev, ids)])
                if self._stop:
                    status = "stopped"
                    break
            self.recorder.close(status)
            for s in self.sinks:
                s.on_status({"status": status})
            return status

    def make_source(spec, speed):
        return BenchSource(spec.duration_s, speed)

    return Backends(make_source, Recorder, ScriptRunner, SessionStore)


def serve(args) -> None:
    import uvicorn

    from coregulate.server.web.app import Settings, create_app

    backends = _push_backends() if args.mode == "push" else None
    if getattr(args, "provisional", "on") == "off":  # the runner computes the tier only for a sink that takes it
        from coregulate.server.web.hub_sink import HubSink

        del HubSink.on_provisional
    if getattr(args, "frames", "batched") == "single":  # frames as before frame_batching: nothing merged
        import coregulate.server.web.hub as hub_mod

        hub_mod.coalesce_submissions = lambda items: items
    if args.no_record and backends is not None:
        class NullRecorder:
            commit_interval_s = 1.0

            def __init__(self, path, *a, **k):
                Path(path).touch()

            def __getattr__(self, name):
                return lambda *a, **k: 0

        backends.recorder_cls = NullRecorder
    if args.sync_off:
        import coregulate.server.session.recorder as rec_mod

        orig = rec_mod._connect

        def _connect(path):
            con = orig(path)
            con.execute("PRAGMA synchronous=OFF")
            return con

        rec_mod._connect = _connect
    app = create_app(Settings(data_dir=Path(args.data), token=SUP, viewer_token=VIEW, backends=backends))
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                                            ws_per_message_deflate=False))
    stop_file = Path(args.data) / "STOP"

    def watch() -> None:  # a stop request without a signal (uvicorn re-raises signals on exit)
        while not stop_file.exists():
            time.sleep(0.2)
        server.should_exit = True

    import threading

    threading.Thread(target=watch, daemon=True).start()
    server.run()
    if args.profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").dump_stats(args.profile)


# -- viewers -------------------------------------------------------------------------------------

class ViewerStats:
    def __init__(self):
        self.lat_ms: list[float] = []
        self.when: list[float] = []
        self.kept = 0
        self.lossy = 0
        self.gaps = 0
        self.ended = False
        self.last_seq = 0
        self.closed_code = None
        self.connected = False
        self.lossy_types: dict[str, int] = {}
        self.messages = 0


async def follow_session(port: int, sid: str, on_frame, on_connect=None, since: int | None = None,
                         batch: bool = True, on_message=None) -> int | None:
    """Be one websocket viewer of session ``sid`` (viewer token) until it closes.

    ``on_connect()`` is called once connected; ``on_frame(frame, now)`` gets every frame (parsed
    JSON) with its arrival time (``time.time()``, taken before parsing) and stops the viewer by
    returning True. ``batch``: ask for frames grouped into JSON arrays (``?batch=1``), as the
    dashboard does; ``on_message()`` is called once per websocket message. Returns the close code,
    if the server closed the socket. Shared by this capacity bench and bench_latency.py, so both
    measure the same client.
    """
    import websockets

    query = ([] if since is None else [f"since={since}"]) + (["batch=1"] if batch else [])
    url = f"ws://127.0.0.1:{port}/api/sessions/{sid}/ws" + ("?" + "&".join(query) if query else "")
    async with websockets.connect(url, subprotocols=["coregulate", f"token.{VIEW}"], max_size=1 << 22,
                                  compression=None) as ws:
        if on_connect is not None:
            on_connect()
        code = None
        try:
            async for msg in ws:
                now = time.time()
                if on_message is not None:
                    on_message()
                frames = json.loads(msg)
                for frame in frames if isinstance(frames, list) else [frames]:
                    if on_frame(frame, now):
                        return None
        except websockets.ConnectionClosed as exc:
            code = exc.code
        return code or ws.close_code or None


async def viewer(port: int, sid: str, st: ViewerStats, batch: bool = True) -> None:
    def take(f: dict, now: float) -> None:
        if f.get("lossy"):
            st.lossy += 1
            st.lossy_types[f["type"]] = st.lossy_types.get(f["type"], 0) + 1
            return
        if f["seq"] != st.last_seq + 1:
            st.gaps += f["seq"] - st.last_seq - 1
        st.last_seq = f["seq"]
        st.kept += 1
        st.lat_ms.append((now - f["ts"]) * 1000.0)
        st.when.append(now)
        if f["type"] == "end":
            st.ended = True

    def message() -> None:
        st.messages += 1

    st.closed_code = await follow_session(port, sid, take, on_connect=lambda: setattr(st, "connected", True), since=0,
                                          batch=batch, on_message=message)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(port: int, n_sessions: int, n_viewers: int, seconds: float, mode: str, pid: int,
                    batch: bool = True) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {SUP}"},
                                 timeout=60) as http:
        sids = []
        for _ in range(n_sessions):
            r = await http.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": 1200, "audio": True},
                                                       "speed": 1.0, "label": "bench", "start": False})
            r.raise_for_status()
            sids.append(r.json()["id"])
        stats = {sid: [ViewerStats() for _ in range(n_viewers)] for sid in sids}
        # viewers first, then the sessions: every kept frame is a live push (no replay backlog)
        tasks = [asyncio.create_task(viewer(port, sid, st, batch)) for sid in sids for st in stats[sid]]
        while sum(st.connected for v in stats.values() for st in v) < len(tasks):
            await asyncio.sleep(0.05)
        for sid in sids:
            (await http.post(f"/api/sessions/{sid}/start")).raise_for_status()
        # CPU of the running sessions: from the last start (warm-up and pipeline builds excluded)
        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(seconds)
        t_stop = time.perf_counter()
        cpu_pct = 100 * (cpu_seconds(pid) - cpu0) / (t_stop - wall0) / n_sessions
        await asyncio.gather(*(http.post(f"/api/sessions/{sid}/stop") for sid in sids))
        stop_s = time.perf_counter() - t_stop
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        hubs = [(await http.get(f"/api/sessions/{sid}/status")).json() for sid in sids]
    all_lat = np.array([x for v in stats.values() for st in v for x in st.lat_ms]) if stats else np.zeros(0)
    if os.environ.get("BENCH_DEBUG"):
        when = np.array([x for v in stats.values() for st in v for x in st.when])
        t0 = when.min()
        for lo in range(0, int(seconds) + 5, 2):
            m = (when - t0 >= lo) & (when - t0 < lo + 2)
            if m.any():
                print(f"  t={lo:3d}s n={m.sum():5d} p99={np.percentile(all_lat[m], 99):8.1f} max={all_lat[m].max():8.1f}", file=sys.stderr)
    lost = 0
    for sid, hub in zip(sids, hubs):
        for st in stats[sid]:
            lost += st.gaps + (hub["hub"]["seq"] - st.last_seq) + (0 if st.ended else 1)
    p99s = [h["hub"]["push_p99_ms"] for h in hubs if h["hub"]["push_p99_ms"] is not None]
    return {
        "mode": mode, "sessions": n_sessions, "viewers_per_session": n_viewers, "seconds": seconds,
        "kept_frames_received": int(sum(st.kept for v in stats.values() for st in v)),
        "lossy_frames_received": int(sum(st.lossy for v in stats.values() for st in v)),
        "lossy_by_type": {k: sum(st.lossy_types.get(k, 0) for v in stats.values() for st in v)
                          for k in sorted({k for v in stats.values() for st in v for k in st.lossy_types})},
        "messages_received": int(sum(st.messages for v in stats.values() for st in v)),
        "lost_kept_frames": int(lost),
        "server_push_p99_ms_worst_session": round(max(p99s), 1) if p99s else None,
        # the worst session's p99 is one stall of one session; the median session's says what most saw
        "server_push_p99_ms_median_session": round(float(np.median(p99s)), 1) if p99s else None,
        "server_push_p50_ms_median_session": round(float(np.median([h["hub"]["push_p50_ms"] for h in hubs])), 2) if hubs else None,
        "e2e_p50_ms": round(float(np.percentile(all_lat, 50)), 1) if all_lat.size else None,
        "e2e_p99_ms": round(float(np.percentile(all_lat, 99)), 1) if all_lat.size else None,
        "slow_disconnects": int(sum(h["hub"]["disconnected_slow"] for h in hubs)),
        "stop_all_s": round(stop_s, 2),
        "server_cpu_per_dyad_pct": round(cpu_pct, 2),
        "load_avg_1min": round(os.getloadavg()[0], 1),
    }


def stop_server(proc: subprocess.Popen, data: str) -> None:
    """Stop a bench server started with ``--serve --data DATA``: its STOP file asks it to shut down
    cleanly; terminated if it has not exited after 30 s."""
    Path(data, "STOP").touch()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_up(port: int, proc) -> None:
    import httpx

    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("server process exited")
        try:
            async with httpx.AsyncClient() as c:
                r = await c.get(f"http://127.0.0.1:{port}/api/whoami", headers={"Authorization": f"Bearer {VIEW}"})
                if r.status_code == 200:
                    return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def bench(args) -> list[dict]:
    results = []
    plan = [(int(n), 2) for n in args.levels.split(",") if n] + ([(1, args.fanout)] if args.fanout else [])
    tiers = ("off", "on") if args.provisional == "both" else (args.provisional,)
    framings = ("single", "batched") if args.frames == "both" else (args.frames,)
    plan = [(n, v, tier, framing) for n, v in plan for tier in tiers for framing in framings]
    cpu_off: dict[tuple[int, int, str], float] = {}
    for n_sessions, n_viewers, tier, framing in plan:
        # a fresh server per level: one level's leftovers never weigh on the next
        port = free_port()
        data = tempfile.mkdtemp(prefix="coregulate-bench-")
        cmd = [sys.executable, __file__, "--serve", "--mode", args.mode, "--port", str(port), "--data", data]
        if args.no_record:
            cmd.append("--no-record")
        if args.sync_off:
            cmd.append("--sync-off")
        if args.profile:
            cmd += ["--profile", args.profile]
        cmd += ["--provisional", tier, "--frames", framing]
        proc = subprocess.Popen(cmd)
        try:
            await wait_up(port, proc)
            res = await run_level(port, n_sessions, n_viewers, args.seconds, args.mode, proc.pid,
                                  batch=framing == "batched")
        finally:
            stop_server(proc, data)
        ok = res["lost_kept_frames"] == 0 and (res["server_push_p99_ms_worst_session"] or 0) < 250
        res["meets_target"] = ok
        res["provisional"] = tier
        res["frames"] = framing
        if tier == "off":
            cpu_off[(n_sessions, n_viewers, framing)] = res["server_cpu_per_dyad_pct"]
        elif (n_sessions, n_viewers, framing) in cpu_off:
            res["cpu_vs_provisional_off"] = round(res["server_cpu_per_dyad_pct"] / cpu_off[(n_sessions, n_viewers, framing)], 3)
        print(json.dumps(res), flush=True)
        results.append(res)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("push", "full"), default="push")
    ap.add_argument("--levels", default="10,25,50", help="numbers of concurrent dyad sessions (2 viewers each)")
    ap.add_argument("--fanout", type=int, default=100, help="viewers of one session in the last run (0: skip)")
    ap.add_argument("--seconds", type=float, default=25.0, help="x1 session time per level")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--data", default="", help=argparse.SUPPRESS)
    ap.add_argument("--no-record", action="store_true", help="push mode without the SQLite recorder (diagnosis)")
    ap.add_argument("--sync-off", action="store_true", help="SQLite synchronous=OFF (diagnosis only)")
    ap.add_argument("--profile", default="", help="write the server's cProfile stats to this file (last level)")
    ap.add_argument("--provisional", choices=("on", "off", "both"), default="on",
                    help="the live provisional tier (issue #15); both: each level off, then on (CPU ratio)")
    ap.add_argument("--frames", choices=("batched", "single", "both"), default="batched",
                    help="frames grouped per message and merged per hand-over as the dashboard gets them "
                         "(batched), one per message as before (single), or both (single first)")
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return
    print(f"# bench_server: mode={args.mode} cpus={os.cpu_count()} seconds/level={args.seconds}", flush=True)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
