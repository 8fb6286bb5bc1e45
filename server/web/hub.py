"""Fan-out of one live session to its websocket viewers, with sequence numbers and resume.

Frames are JSON objects ``{"seq": N, "type": ..., "ts": unix_s, "data": ...}`` encoded once and
shared by every viewer. Two classes of frame:

* *kept* frames (features, dyad, events, annotations, status, end) get consecutive ``seq``
  numbers, go into a bounded replay buffer and are never dropped for a connected viewer. A
  viewer that reconnects with ``?since=N`` receives every kept frame after ``N`` -- no gaps -- or,
  when ``N`` has left the buffer, a ``resync`` frame telling it to refetch history over REST.
* *lossy* frames (waveform, audio level, sensor status, provisional values, hello, resync) carry
  the ``seq`` of the last kept frame and ``"lossy": true``; a slow viewer loses the oldest of them
  first. ``provisional`` frames (issue #15) hold values published before their second is final
  (``{"participant", "t", "hr_inst_bpm", "hr_bpm", "beat_times", "beat_hr_bpm", "arousal",
  "zone_provisional", ...}``, ``t`` = the session time they describe; ``family`` heart, voice,
  eda or movement: :class:`~coregulate.server.web.schemas.ProvisionalValue`); the ``features`` row of
  that second replaces them, so losing one costs nothing that stays. ``provisional_event``
  frames hold zone changes pushed on that evidence and what became of them
  (:class:`~coregulate.server.web.schemas.ProvisionalEventUpdate`: ``provisional``, then
  ``confirmed`` with the id of the final event in an ``events`` frame, or ``withdrawn``); a
  viewer that lost one learns the outcome from the ``events`` and ``features`` frames.

Frames handed over from a session's thread while the loop was busy are merged where that says
the same (provisional values, a stream's waveform points; only the newest ``sensors`` snapshot), and
a viewer that asks for ``?batch=1`` gets its queued frames as JSON arrays, one message per group:
:mod:`coregulate.server.web.frame_batching`.

A viewer never slows ingestion or other viewers: :meth:`Hub.publish` only appends to per-viewer
bounded queues. A viewer whose queue of kept frames overflows is disconnected with close code
:data:`CLOSE_TOO_SLOW`, so it reconnects and resumes from its last sequence number.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .frame_batching import SUPERSEDING, coalesce_submissions

#: Close code for a viewer that fell too far behind (application range 4000-4999).
CLOSE_TOO_SLOW = 4429
#: Close code sent to viewers when the session's hub shuts down for good.
CLOSE_SESSION_GONE = 4410

KEPT = frozenset({"features", "dyad", "events", "annotation", "status", "end"})


def _clean(v: Any) -> Any:
    """JSON-safe, compact values: NaN/inf become null, floats keep 4 decimals."""
    if isinstance(v, float):
        return round(v, 4) if math.isfinite(v) else None
    if isinstance(v, (np.floating,)):
        return _clean(float(v))
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


#: ``clean`` of :meth:`Hub.submit` for a list of flat records: cleaned and encoded in one pass (:func:`encode_records`)
RECORDS = "records"
_float_text, _string_text, _finite = float.__repr__, json.encoder.encode_basestring_ascii, math.isfinite
#: the JSON text of a plain str, int, bool or None as the json encoder writes it (C callables: no Python call each)
_SCALAR_TEXT = {str: _string_text, int: int.__repr__, bool: ("false", "true").__getitem__, type(None): "null".format}
_KEY_TEXT: dict[str, str] = {}  # a record key's JSON text and colon (provisional values have a few dozen keys)


def encode_records(records: Any) -> str | None:
    """``_dumps(_clean(records))`` for a list of flat records (dicts with str keys whose values are plain floats,
    strs, ints, bools, None or lists of them) without the cleaned copy; None for anything else. Provisional
    frames are such lists: cleaning them and walking the copy again was most of their cost. Each value is
    written as :func:`_clean` makes it and json writes that (``tests/server/web/test_hub.py`` compares)."""
    if type(records) is not list or {*map(type, records)} - {dict}:  # (map and set: no Python-level loop)
        return None
    for _ in range(2):
        try:  # a KeyError: a key seen first (made below, then once more), or a key or value of another type
            return "[" + ",".join(["{" + ",".join([_KEY_TEXT[key] + (
                (_float_text(round(x, 4)) if _finite(x) else "null") if type(x) is float else _SCALAR_TEXT[type(x)](x)
                if type(x) is not list else "[" + ",".join([(_float_text(round(y, 4)) if _finite(y) else "null")
                                                            if type(y) is float else _SCALAR_TEXT[type(y)](y) for y in x]) + "]")
                for key, x in record.items()]) + "}" for record in records]) + "]"
        except KeyError:
            new = {key for record in records for key in record if key not in _KEY_TEXT}
            if not new or any(type(key) is not str for key in new):
                return None
            _KEY_TEXT.update({key: _string_text(key) + ":" for key in new})
    return None  # pragma: no cover - every key is known the second time


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str)


@dataclass(slots=True)
class Frame:
    """One message for the viewers: its sequence number, type, JSON text, whether it must reach
    every viewer (kept) or may be dropped for a newer one (lossy), and when it was published
    (``perf_counter`` s, for the push latency).
    """

    seq: int
    type: str
    text: str
    kept: bool
    t_pub: float  # perf_counter at publish, for server-side push latency


class Viewer:
    """One connected websocket's outgoing queue; filled by :meth:`Hub.publish`, drained by its sender."""

    def __init__(self, hub: "Hub", max_kept: int, max_lossy: int) -> None:
        self.hub = hub
        # (arrival number, frame): the two queues are merged back in arrival order
        self.kept: deque[tuple[int, Frame]] = deque()
        self.lossy: deque[tuple[int, Frame]] = deque(maxlen=max_lossy)
        self.n = 0
        self.max_kept = self.base_max_kept = max_kept
        self.wake = asyncio.Event()
        self.overflow = asyncio.Event()  # set once: the socket handler disconnects the viewer
        self.overflowed = False
        self.closed = False
        self.dropped_lossy = 0
        self.last_seq = 0
        self.t_sub = time.perf_counter()  # frames older than this are replay, not push

    def push(self, frame: Frame, force: bool = False) -> None:
        """Queue a frame for this viewer.

        A kept frame that finds the queue full disconnects the viewer (it resumes by sequence number);
        a lossy frame pushes out the oldest lossy one. ``force`` queues even after :meth:`close`.
        """
        if (self.closed and not force) or self.overflowed:
            return
        if frame.kept:
            if len(self.kept) >= self.max_kept:
                # The viewer cannot keep up with frames that must not be lost: cut it loose
                # (it resumes by sequence) rather than buffer without bound or drop data.
                self.overflowed = True
                self.kept.clear()
                self.lossy.clear()
                self.overflow.set()
            else:
                self.n += 1
                self.kept.append((self.n, frame))
        else:
            if frame.type in SUPERSEDING:  # latest wins: the older snapshot is not worth sending
                for i, (_, old) in enumerate(self.lossy):
                    if old.type == frame.type:
                        del self.lossy[i]
                        self.dropped_lossy += 1
                        break
            if len(self.lossy) == self.lossy.maxlen:
                self.dropped_lossy += 1
            self.n += 1
            self.lossy.append((self.n, frame))
        self.wake.set()

    async def next_batch(self) -> list[Frame]:
        """Wait for frames; kept and lossy merged in publish order. Empty list: stop sending."""
        while not (self.kept or self.lossy or self.overflowed or self.closed):
            self.wake.clear()
            await self.wake.wait()
        if self.overflowed or (self.closed and not (self.kept or self.lossy)):
            return []
        out = [f for _, f in heapq.merge(self.kept, self.lossy, key=lambda x: x[0])] if self.lossy else [f for _, f in self.kept]
        self.kept.clear()
        self.lossy.clear()
        self.max_kept = self.base_max_kept
        return out

    def close(self) -> None:
        """No more frames: the sender finishes what is queued, then stops."""
        self.closed = True
        self.wake.set()


class Hub:
    """Sequenced broadcast of one session's frames.

    Parameters
    ----------
    session_id : str
    buffer_frames : int
        Kept frames remembered for resume (about 1 h at the usual 3-5 kept frames per second).
    max_kept : int
        Kept frames a viewer may have queued before it is disconnected as too slow.
    max_lossy : int
        Lossy frames a viewer may have queued; older ones are dropped first.
    """

    def __init__(self, session_id: str, buffer_frames: int = 16384, max_kept: int = 2048, max_lossy: int = 32,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.session_id = session_id
        #: The server's event loop, which owns viewers and sequence numbers; frames produced in
        #: a session's own thread are handed over to it (see :meth:`submit`).
        self.loop = loop
        self._pending: deque[tuple] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self.seq = 0
        self.buffer: deque[Frame] = deque(maxlen=buffer_frames)
        self.viewers: set[Viewer] = set()
        self.max_kept = max_kept
        self.max_lossy = max_lossy
        self.ended = False
        self.latencies_ms: deque[float] = deque(maxlen=200_000)
        self.sent = 0
        self.disconnected_slow = 0

    # -- publishing -------------------------------------------------------------------------
    def submit(self, type_: str, data: Any, *, clean: bool | str = True) -> None:
        """:meth:`publish` from any thread: in the hub's loop directly, else handed over in batches."""
        t_pub, wall = time.perf_counter(), time.time()
        if self.loop is None or _running_loop() is self.loop:
            self.publish(type_, data, clean=clean, t_pub=t_pub, wall=wall)
            return
        with self._lock:
            self._pending.append((type_, data, clean, t_pub, wall))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the server loop is closed: nobody is watching any more
            pass

    def _drain(self) -> None:
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        # what piled up while the loop was busy goes out in fewer frames (fewer sends per viewer)
        for type_, data, clean, t_pub, wall in coalesce_submissions(items):
            self.publish(type_, data, clean=clean, t_pub=t_pub, wall=wall)

    def publish(self, type_: str, data: Any, *, clean: bool | str = True, t_pub: float | None = None,
                wall: float | None = None) -> Frame:
        """Send a frame to every viewer (hub loop only); ``clean=False`` for JSON-safe data,
        :data:`RECORDS` for a list of flat records (the same frame as ``clean=True``, cheaper).

        ``t_pub``/``wall`` are when the frame was produced (perf_counter / Unix time): push
        latency counts from there, including the hand-over from a session thread.
        """
        kept = type_ in KEPT
        if kept:
            self.seq += 1
        ts = round(wall or time.time(), 3)
        text = encode_records(data) if clean == RECORDS else None
        if text is not None and type(type_) is str and type(ts) is float and math.isfinite(ts):
            # the text _dumps gives of the object below (seq the hub's int, ts a finite float)
            text = (f'{{"seq":{self.seq},"type":{_string_text(type_)},"ts":{_float_text(ts)},"data":{text}'
                    + ("}" if kept else ',"lossy":true}'))
        else:
            obj: dict[str, Any] = {"seq": self.seq, "type": type_, "ts": ts, "data": _clean(data) if clean else data}
            if not kept:
                obj["lossy"] = True
            text = _dumps(obj)
        frame = Frame(self.seq, type_, text, kept, t_pub or time.perf_counter())
        if kept:
            self.buffer.append(frame)
            if type_ == "end":
                self.ended = True
        for v in self.viewers:
            v.push(frame)
        return frame

    def control(self, type_: str, data: Any) -> Frame:
        """A lossy frame for one viewer only (hello, resync); not broadcast."""
        obj = {"seq": self.seq, "type": type_, "ts": round(time.time(), 3), "data": _clean(data), "lossy": True}
        return Frame(self.seq, type_, _dumps(obj), False, time.perf_counter())

    # -- viewers ----------------------------------------------------------------------------
    def subscribe(self, since: int | None, hello: dict[str, Any] | None = None) -> Viewer:
        """Register a viewer and queue what it missed.

        ``since=None``: live from now. ``since=N``: every kept frame with ``seq > N`` if the
        buffer still holds them, else a ``resync`` frame (refetch over REST, then go live).
        Runs synchronously in the event loop, so no frame can slip between replay and live.
        """
        v = Viewer(self, self.max_kept, self.max_lossy)
        v.push(self.control("hello", {"session": self.session_id, "seq": self.seq, "ended": self.ended, **(hello or {})}))
        if since is not None:
            oldest = self.buffer[0].seq if self.buffer else self.seq + 1
            if since > self.seq or since + 1 < oldest:
                v.push(self.control("resync", {"since": since, "seq": self.seq, "oldest": oldest,
                                                "reason": "requested frames are no longer buffered; refetch over REST"}))
            else:
                start = len(self.buffer) - (self.seq - since)
                replay = list(self.buffer)[max(start, 0):]
                # Replay may exceed the live queue bound (it is bounded by the buffer itself);
                # the bound applies again once the backlog is handed to the socket.
                for f in replay:
                    v.n += 1
                    v.kept.append((v.n, f))
                v.max_kept = v.base_max_kept + len(replay)
        if self.ended:
            v.close()  # nothing more will come: the sender drains the queue, then closes
        else:
            self.viewers.add(v)
        return v

    def unsubscribe(self, v: Viewer) -> None:
        """Forget a viewer and close its queue."""
        self.viewers.discard(v)
        v.close()

    def record_sent(self, frame: Frame, viewer: Viewer | None = None) -> None:
        """Count a frame handed to a socket; push latency only for frames produced while the
        viewer was connected (a resumed backlog is old by design)."""
        self.sent += 1
        if viewer is None or frame.t_pub >= viewer.t_sub:
            self.latencies_ms.append((time.perf_counter() - frame.t_pub) * 1000.0)

    def close(self) -> None:
        """Close every viewer's queue (end of session or server)."""
        for v in list(self.viewers):
            v.close()

    def stats(self) -> dict[str, Any]:
        """Counters of the hub: last sequence number, viewers, frames sent, push latency p50/p99 (ms), drops."""
        lat = np.fromiter(self.latencies_ms, float) if self.latencies_ms else np.zeros(0)
        return {
            "seq": self.seq,
            "viewers": len(self.viewers),
            "frames_sent": self.sent,
            "push_p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
            "push_p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
            "lossy_dropped": sum(v.dropped_lossy for v in self.viewers),
            "disconnected_slow": self.disconnected_slow,
        }
