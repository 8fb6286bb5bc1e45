"""Speed of session-video motion energy: decoding + MEA against real time, 720p at 25 fps.

A synthetic 720p (1280x720) 25 fps H.264 video is written first (libx264 ``veryfast``, CRF 23:
CABAC and B-frames, as a camera or a screen recorder writes them; textured background, two
textured people moving in bouts, sensor noise). Then, in the same process:

* baseline: PyAV decoding alone (every frame decoded, its luma plane touched), the floor any
  video input pays;
* ``VideoReader`` as ``analyze`` runs it (decode + MEA for two regions, chunks emitted), with
  the default pixel step 2 and with step 1 (every pixel).

Reported: wall seconds, real-time factor (video seconds per wall second; the issue asks >= 10),
CPU seconds (all threads) and video seconds per CPU second (what an unshared core would give,
decoding being multi-threaded), and the ratios reader / decode-only. The machine is shared, so
the load average is printed beside the figures.

    .venv/bin/python bench/bench_video.py [--seconds 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def write_720p(path: Path, seconds: int, fps: int = 25) -> None:
    import av

    rng = np.random.default_rng(0)
    w, h = 1280, 720
    background = rng.integers(40, 120, size=(h, w), dtype=np.uint8)
    people = [rng.integers(0, 256, size=(500, 330), dtype=np.uint8) for _ in range(2)]
    noise = rng.normal(0, 3, size=(8, h, w)).astype(np.int16)  # a few noise fields, cycled (speed)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        for k in range(seconds * fps):
            frame = background.copy()
            for i, (p, x0) in enumerate(zip(people, (150, 800))):
                bout = (k // (fps * 2) + i) % 3  # bouts of 0 / small / large movement
                dx = [0, 2, 8][bout] * (k % 2)
                frame[120:620, x0 + dx: x0 + dx + 330] = p
            grey = np.clip(frame.astype(np.int16) + noise[k % 8], 0, 255).astype(np.uint8)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(grey, format="gray")):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)


def decode_only(path: Path) -> int:
    import av

    n = 0
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        for frame in c.decode(vs):
            plane = frame.planes[0]
            np.frombuffer(plane, np.uint8)[:: 4096].sum()
            n += 1
    return n


def reader(path: Path, step: int) -> int:
    from coregulate.sensors.readers import open_reader
    from coregulate.sensors.spec import parse_spec

    r = open_reader(parse_spec(f"video:{path}?step={step}"))
    return sum(len(c.values) for c in r.chunks())


def timed(fn, *args) -> tuple[float, float, object]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - w0, time.process_time() - c0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=40, help="video length (default 40 s)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_720p.mp4"
        w, _, _ = timed(write_720p, path, args.seconds)
        print(f"wrote {args.seconds} s of 1280x720 25 fps H.264 ({path.stat().st_size / 1e6:.1f} MB) in {w:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        base_w, base_c, n = timed(decode_only, path)
        print(f"{'decode only (baseline)':34s} {base_w:6.2f} s wall {base_c:6.2f} s CPU  x{args.seconds / base_w:5.1f} real time"
              f" (x{args.seconds / base_c:5.1f} per CPU second)  ({n} frames)")
        for step in (2, 1):
            rw, rc, values = timed(reader, path, step)
            print(f"{f'VideoReader decode+MEA, step {step}':34s} {rw:6.2f} s wall {rc:6.2f} s CPU  x{args.seconds / rw:5.1f} real time"
                  f" (x{args.seconds / rc:5.1f} per CPU second)  ratio to decode-only {rw / base_w:4.2f} wall, "
                  f"{rc / base_c:4.2f} CPU  ({values} motion values)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
