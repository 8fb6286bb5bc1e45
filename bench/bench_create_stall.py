"""Event-loop stall of the server while sessions are created (`POST /api/sessions`, issue #15).

The real app (default backends: Simulator + SessionRunner + pipeline) runs under uvicorn in this
process's event loop, with one simulated session running at x1. A probe task on that loop sleeps
10 ms over and over and records how late it wakes up: everything the loop does between two wake-ups
(a push to a viewer, a request handler) shows up as lag, and so does a handler that blocks the loop.
The requests are sent from worker threads (blocking ``urllib``), so the client never runs on the
server's loop.

Two windows of the same process and run, both with the first session running:

* ``baseline``: ``--seconds`` without requests;
* ``posts``: ``--posts`` simulated sessions created over REST, one every ``--seconds / --posts`` s
  (each ``start: false`` and discarded at once, so only the creation is measured; ``--start``
  starts them instead, and they keep running until the end).

Printed per window: the worst and the p99 wake-up lag (ms) and their ratio to the baseline's, the
POSTs' own response times, and the load average.

Usage:
  .venv/bin/python bench/bench_create_stall.py                  # 8 POSTs over 8 s
  .venv/bin/python bench/bench_create_stall.py --posts 8 --seconds 8 --start
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from bench_server import SUP, VIEW, free_port  # the capacity bench's tokens and port picking

PROBE_S = 0.010


def call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
    """One blocking request with the supervisor token: (status, JSON answer, seconds it took)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {SUP}", "Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read()), time.perf_counter() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), time.perf_counter() - t0


class LagProbe:
    """Sleeps :data:`PROBE_S` in a loop on the running event loop; keeps (wake-up time, lag) pairs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop:
            t0 = loop.time()
            await asyncio.sleep(PROBE_S)
            now = loop.time()
            self.samples.append((now, now - t0 - PROBE_S))

    def stop(self) -> None:
        self._stop = True

    def window(self, t_from: float, t_to: float) -> np.ndarray:
        """Lags (s) of the wake-ups in [t_from, t_to] (loop time)."""
        return np.array([lag for t, lag in self.samples if t_from <= t <= t_to])


def summary(lags: np.ndarray) -> dict[str, float]:
    return {"n": int(lags.size), "worst_ms": float(lags.max() * 1e3), "p99_ms": float(np.percentile(lags, 99) * 1e3)}


async def bench(args) -> dict:
    import uvicorn

    from coregulate.server.web.app import Settings, create_app

    data = Path(tempfile.mkdtemp(prefix="coreg-stall-")) / "data"
    app = create_app(Settings(data_dir=data, token=SUP, viewer_token=VIEW))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                           ws_per_message_deflate=False))
    loop = asyncio.get_running_loop()
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    sim = {"kind": "simulator", "duration_s": 1200, "audio": True}
    status, first, _ = await asyncio.to_thread(call, port, "POST", "/api/sessions", {"source": sim, "speed": 1.0})
    assert status == 201 and first["status"] == "running", first
    await asyncio.sleep(args.settle)  # warm-up imports and the first chunks are over
    probe = LagProbe()
    probing = asyncio.create_task(probe.run())

    t0 = loop.time()
    await asyncio.sleep(args.seconds)
    baseline = probe.window(t0, loop.time())

    every = args.seconds / args.posts
    post_s: list[float] = []
    t1 = loop.time()
    for k in range(args.posts):
        due = t1 + k * every
        if loop.time() < due:
            await asyncio.sleep(due - loop.time())
        body = {"source": {**sim, "seed": k + 1}, "speed": 1.0, "start": args.start}
        status, d, took = await asyncio.to_thread(call, port, "POST", "/api/sessions", body)
        assert status == 201, d
        post_s.append(took)
        if not args.start:  # a created, not started session is discarded by stop (whose answer,
            # describing a session that no longer exists, is a 404)
            await asyncio.to_thread(call, port, "POST", f"/api/sessions/{d['id']}/stop")
    t_end = max(loop.time(), t1 + args.seconds)
    if loop.time() < t_end:
        await asyncio.sleep(t_end - loop.time())
    posts = probe.window(t1, t_end)

    probe.stop()
    await probing
    server.should_exit = True
    await serving
    b, p = summary(baseline), summary(posts)
    return {"posts": args.posts, "start": args.start, "window_s": args.seconds, "load": os.getloadavg(),
            "baseline": b, "during_posts": p,
            "ratio_worst": p["worst_ms"] / b["worst_ms"], "ratio_p99": p["p99_ms"] / b["p99_ms"],
            "post_response_s": {"median": float(np.median(post_s)), "max": float(max(post_s))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=8, help="sessions created in the second window")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each window")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds after the first session starts")
    ap.add_argument("--start", action="store_true", help="start the created sessions (they keep running)")
    args = ap.parse_args()
    r = asyncio.run(bench(args))
    print(f"load average {r['load'][0]:.2f} {r['load'][1]:.2f} {r['load'][2]:.2f}; "
          f"{r['posts']} POSTs over {r['window_s']:g} s, start={r['start']}")
    print(f"{'window':<14}{'samples':>8}{'worst ms':>10}{'p99 ms':>9}")
    for name in ("baseline", "during_posts"):
        s = r[name]
        print(f"{name:<14}{s['n']:>8}{s['worst_ms']:>10.1f}{s['p99_ms']:>9.1f}")
    print(f"ratio (posts / baseline): worst x{r['ratio_worst']:.2f}, p99 x{r['ratio_p99']:.2f}")
    print(f"POST response: median {r['post_response_s']['median']:.3f} s, max {r['post_response_s']['max']:.3f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
