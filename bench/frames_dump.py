"""Every frame text a viewer receives over simulated live sessions, to show that a change leaves them identical.

``outputs_dump.py`` checks the pipeline's outputs; this checks what reaches a viewer after them: the real
:class:`~coregulate.server.session.runner.SessionRunner`, :class:`~coregulate.server.web.hub_sink.HubSink` and
:class:`~coregulate.server.web.hub.Hub`, with one viewer that keeps every frame's text. The hub's wall clock is
pinned, so a frame's ``ts`` is the same in every run. Sessions: ECG-only heart sources (1200 s, and 700 s with
every chunk re-cut at 0.7 s), the default sources (700 s) and voices (500 s). ``compare`` names the first
frame that differs.

Usage (the "before" side from another checkout, or from ``git archive`` through ``PYTHONPATH``)::

  PYTHONHASHSEED=0 .venv/bin/python bench/frames_dump.py dump /tmp/frames-before.pkl   # on the old code
  PYTHONHASHSEED=0 .venv/bin/python bench/frames_dump.py dump /tmp/frames-after.pkl    # on the new code
  .venv/bin/python bench/frames_dump.py compare /tmp/frames-before.pkl /tmp/frames-after.pkl  # exit 1 if any differ
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import pickle
import sys
import tempfile
import time
from pathlib import Path

#: (name, simulator seed, seconds, audio); a name starting with "ecg" uses the ECG alone for beats,
#: "ecg07" also re-cuts every chunk at 0.7 s
SESSIONS = [("ecg", 1, 1200.0, False), ("default", 4, 700.0, False), ("audio", 2, 500.0, True),
            ("ecg07", 2, 700.0, False)]


class _PinnedClock:
    """The hub's ``time`` module with ``time()`` fixed (a frame's ``ts``); ``perf_counter`` real."""

    perf_counter = staticmethod(time.perf_counter)

    @staticmethod
    def time() -> float:
        return 1_700_000_000.0


class _Collector:
    """A viewer that keeps the text of every frame pushed to it."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def push(self, frame, force: bool = False) -> None:
        self.texts.append(frame.text)


def run(name: str, seed: int, seconds: float, audio: bool) -> list[str]:
    """The frame texts of one simulated session at speed max, in the order the viewer got them."""
    from coregulate.models.config import PipelineConfig
    from coregulate.sensors.chunk import rechunk
    from coregulate.sensors.simulator import Simulator
    from coregulate.server.session.runner import open_session
    from coregulate.server.web import hub as hub_module
    from coregulate.server.web.hub import Hub
    from coregulate.server.web.hub_sink import HubSink

    source = Simulator(seed=seed, duration_s=seconds, audio=audio, speed=None)
    if name == "ecg07":
        chunks = source.chunks
        source.chunks = lambda: (c for whole in chunks() for c in rechunk([whole], 0.7))
    config = PipelineConfig(options={"heart": {"beat_sources": ["ecg"]}} if name.startswith("ecg") else {})
    hub = Hub("frames", loop=None)
    viewer = _Collector()
    hub.viewers.add(viewer)
    path = Path(tempfile.mkdtemp(prefix="coregulate-frames-")) / "session.sqlite"
    hub_module.time = _PinnedClock
    try:
        asyncio.run(open_session(source, config, path, "frames", sinks=[HubSink(hub)]).run())
    finally:
        hub_module.time = time
    return viewer.texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("out")
    compare = sub.add_parser("compare")
    compare.add_argument("before")
    compare.add_argument("after")
    args = ap.parse_args()
    if args.command == "dump":
        texts = {}
        for session in SESSIONS:
            texts[session] = run(*session)
            frames = texts[session]
            digest = hashlib.sha256("\n".join(frames).encode()).hexdigest()[:16]
            provisional = sum('"type":"provisional"' in t for t in frames)
            print(session, len(frames), "frames,", provisional, "provisional, sha256", digest, flush=True)
        with open(args.out, "wb") as f:
            pickle.dump(texts, f)
        return
    with open(args.before, "rb") as f:
        before = pickle.load(f)
    with open(args.after, "rb") as f:
        after = pickle.load(f)
    differ = 0
    for session, old in before.items():
        new = after.get(session) or []
        if old == new:
            print("identical", session, len(old), "frames")
            continue
        differ += 1
        i = next((i for i, (x, y) in enumerate(zip(old, new)) if x != y), min(len(old), len(new)))
        print("DIFFERS", session, "at frame", i, "of", len(old), "/", len(new), old[i:i + 1], new[i:i + 1])
    print("ALL FRAMES IDENTICAL" if not differ else f"{differ} sessions differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
