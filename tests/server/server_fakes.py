"""Small in-memory stand-ins for the recorder, store, runner and source.

They follow the documented interfaces of server/session/recorder.py and server/session/runner.py so that the
API and websocket behaviour can be tested quickly and deterministically; the integration tests
(test_integration.py) run the real ones.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np

from coregulate.models.base import Event
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.server.web.schemas import SourceSpec
from coregulate.server.web.sessions import Backends

DB: dict[str, dict] = {}


class FakeSource:
    def __init__(self, duration_s: float = 20.0, speed: float | None = None):
        self.duration_s = duration_s
        self.speed = speed
        self.utc0 = 1767261600.0
        self.streams = [StreamInfo(p, StreamKind.ECG, 100.0) for p in ("client", "therapist")] + \
                       [StreamInfo(p, StreamKind.AUDIO, 1000.0) for p in ("client", "therapist")]

    async def __aiter__(self):
        for k in range(int(self.duration_s * 4)):
            t0 = k * 0.25
            for s in self.streams:
                n = int(s.rate * 0.25)
                t = t0 + np.arange(n) / s.rate
                yield Chunk(s, np.sin(2 * math.pi * 1.2 * t) * (300 if s.kind == StreamKind.ECG else 0.1), t0=t0)
            await asyncio.sleep(0)


class FakeRecorder:
    def __init__(self, path, session_id, streams, config, utc0=None, keep_audio=False, participants=None, meta={}):
        self.path = str(path)
        Path(path).write_bytes(b"fake")
        DB[self.path] = {"info": {"id": session_id, "status": "running", "utc0": utc0, "duration": 0.0,
                                  "participants": sorted({s.participant for s in streams}),
                                  "streams": [{"key": s.key, "participant": s.participant, "kind": s.kind.value, "rate": s.rate}
                                              for s in streams], "config": {}, "meta": dict(meta)},
                         "features": [], "dyad": [], "events": [], "ann": {}, "next": 1}

    @property
    def db(self):
        return DB[self.path]

    def write_chunk(self, chunk):
        self.db["info"]["duration"] = max(self.db["info"]["duration"], float(chunk.t_end))

    def write_features(self, rows):
        self.db["features"].extend(rows)

    def write_dyad(self, rows):
        self.db["dyad"].extend(rows)

    def write_events(self, events):
        self.db["events"].extend(e.to_dict() for e in events)

    def add_annotation(self, t_s, text, author, t_end=None):
        i = self.db["next"]
        self.db["next"] += 1
        self.db["ann"][i] = {"id": i, "t_s": t_s, "t_end": t_end, "text": text, "author": author}
        return i

    def update_annotation(self, ann_id, **changes):
        self.db["ann"][ann_id].update(changes)

    def delete_annotation(self, ann_id):
        del self.db["ann"][ann_id]

    closed = False

    def close(self, status):
        self.db["info"]["status"] = status
        self.closed = True


class FakeStore(FakeRecorder):
    def __init__(self, path):
        self.path = str(path)
        self.meta = {"label": self.db["info"]["meta"].get("label", "")}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def info(self):
        return self.db["info"]

    def _in(self, t, t_from, t_to):
        return (t_from is None or t >= t_from) and (t_to is None or t <= t_to)

    def features(self, t_from=None, t_to=None, participant=None):
        return [r for r in self.db["features"] if self._in(r["t_s"], t_from, t_to)
                and (participant is None or r["participant"] == participant)]

    def dyad(self, t_from=None, t_to=None):
        return [r for r in self.db["dyad"] if self._in(r["t_s"], t_from, t_to)]

    def events(self, t_from=None, t_to=None):
        return [e for e in self.db["events"] if self._in(e["t_start"], t_from, t_to)]

    def annotations(self):
        return sorted(self.db["ann"].values(), key=lambda a: a["t_s"])

    def waveform(self, stream_key, t_from, t_to, max_points):
        t = np.linspace(t_from, t_to, min(max_points, 50))
        return {"stream": stream_key, "t": t.tolist(), "v": np.sin(t).tolist()}


class FakeRunner:
    """Feeds chunks to the recorder and sinks; one feature row per person and second."""

    def __init__(self, source, recorder, config, sinks=()):
        self.source, self.recorder, self.sinks = source, recorder, list(sinks)
        self.speed = source.speed
        self._stop = False

    def add_annotation(self, t_s, text, author="", t_end=None, source="user"):
        ann = {"id": self.recorder.add_annotation(t_s, text, author, t_end), "t_s": t_s, "t_end": t_end,
               "author": author, "text": text, "source": source}
        self._emit("on_annotation", ann)
        return ann

    def stop(self):
        self._stop = True

    def _emit(self, name, payload):
        for s in self.sinks:
            getattr(s, name)(payload)

    async def run(self):
        loop = asyncio.get_running_loop()
        start = loop.time()
        done_s = 0
        async for chunk in self.source:
            if self._stop:
                break
            if self.speed:
                delay = start + chunk.t_end / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.recorder.write_chunk(chunk)
            self._emit("on_chunk", chunk)
            while chunk.t_end >= done_s + 1:
                done_s += 1
                rows = []
                for i, p in enumerate(("client", "therapist")):
                    ar = (2.0 - i) * math.sin(done_s / 8)
                    rows.append({"t_s": done_s, "participant": p, "hr_bpm": 70 + 5 * math.sin(done_s / 3) + i * 5,
                                 "ln_rmssd": 3.5 - 0.3 * ar, "pns_index": -ar / 2, "sns_index": ar / 2, "arousal": ar,
                                 "zone": "hyper" if ar > 1 else "hypo" if ar < -1 else "window", "quality": "good",
                                 "vagal_reliable": True, "vocal_arousal": 0.5 * ar, "speaking": (done_s // 4 + i) % 2 == 0})
                self.recorder.write_features(rows)
                self._emit("on_features", rows)
                dy = [{"t_s": done_s, "sync_hr_z": 1.0, "leader": "therapist"}]
                self.recorder.write_dyad(dy)
                self._emit("on_dyad", dy)
                if done_s % 5 == 0:
                    ev = [Event("zone_change", float(done_s), participant="client", rule="fake", label=f"tick {done_s}")]
                    self.recorder.write_events(ev)
                    self._emit("on_events", [e.to_dict() for e in ev])
        status = "stopped" if self._stop else "complete"
        self.recorder.close(status)
        return status


def fake_backends(duration_s: float = 20.0, real_recorder: bool = True) -> Backends:
    """Fake source and runner (no estimators); the real SQLite recorder/store unless told."""
    def make_source(spec: SourceSpec, speed):
        if spec.kind != "simulator":
            raise ValueError("fake backends only simulate")
        return FakeSource(duration_s=min(spec.duration_s, duration_s), speed=speed)

    if real_recorder:
        from coregulate.server.session.recorder import Recorder
        from coregulate.server.session.store import SessionStore

        return Backends(make_source, Recorder, FakeRunner, SessionStore)
    return Backends(make_source, FakeRecorder, FakeRunner, FakeStore)
