"""The runner sink that turns a session's output into hub frames.

Synchronous and cheap: it never blocks the session. Waveforms are reduced before they are
sent (ECG to a min/max envelope, audio to a level in dB); provisional values (issue #15) are
throttled per person and family (heart, voice, eda, movement: :class:`~coregulate.server.web.schemas.ProvisionalValue`),
merged so that no beat is lost; a family's values never stand in for another's. Fan-out, resume and slow viewers are
:class:`~coregulate.server.web.hub.Hub`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from .hub import RECORDS, Hub
from .schemas import ProvisionalEventUpdate

WAVE_HZ = 50.0  # points per second in the "signal alive" ECG strip (min/max pairs)
LEVEL_BLOCK_S = 0.1  # audio level block
FLUSH_S = 0.5  # session seconds per waveform frame
PROVISIONAL_MIN_S = 0.25  # session seconds between two provisional frames of one person (at most 4/s)


@dataclass
class _StreamState:
    t: list[float] = field(default_factory=list)
    v: list[float] = field(default_factory=list)
    first_t: float | None = None
    last_end: float = 0.0
    chunks: int = 0
    gaps: int = 0
    contact: bool | None = None
    silent: bool = False  # inside a silence the live source renews every second


class HubSink:
    """Runner sink that turns session output into hub frames. Synchronous and cheap: never blocks;
    safe to call from a session's own thread (frames are handed to the hub's loop).

    ECG is reduced to a min/max envelope at :data:`WAVE_HZ` points per second and audio to an
    RMS level (dBFS) per :data:`LEVEL_BLOCK_S`; raw audio never leaves the server.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.streams: dict[str, _StreamState] = {}
        self._last_sensor_push = -1.0
        # (person, family) -> session time of the last frame / merged values not yet sent
        self._provisional_sent: dict[tuple[str, str], float] = {}
        self._provisional_held: dict[tuple[str, str], dict[str, Any]] = {}

    def on_chunk(self, chunk: Any) -> None:
        """Reduce a chunk to waveform/level points and refresh its stream's status (gaps, contact)."""
        # a provisional value held back by the throttle goes out once its person's data moved on
        if self._provisional_held:
            now = float(chunk.t_end)
            self._send_provisional({k: now for k in self._provisional_held if k[0] == chunk.participant
                                    and now - self._provisional_sent.get(k, -1e9) >= PROVISIONAL_MIN_S})
        key = chunk.stream.key
        st = self.streams.setdefault(key, _StreamState())
        st.chunks += 1
        silent = bool(chunk.meta.get("silent"))
        # one silence is one gap, however many times the source renews its mark
        st.gaps += int(bool(chunk.gap_before) and not (silent and st.silent))
        st.silent = silent
        st.last_end = max(st.last_end, float(chunk.t_end))
        if "contact" in chunk.meta:
            st.contact = bool(chunk.meta["contact"])
        kind = chunk.stream.kind.value
        n = len(chunk)
        if n and chunk.t0 is not None and kind in ("ecg", "ppg", "audio"):
            rate = float(chunk.stream.rate)
            vals = np.asarray(chunk.values, dtype=float)
            if vals.ndim > 1:
                vals = vals[:, 0]
            if kind == "audio":
                k = max(1, int(round(rate * LEVEL_BLOCK_S)))
                m = n // k
                if m == 0:
                    return
                blocks = vals[: m * k].reshape(m, k)
                rms = np.sqrt(np.mean(blocks * blocks, axis=1))
                pts = 20.0 * np.log10(np.maximum(rms, 1e-6))
                ts = chunk.t0 + (np.arange(m) + 1) * k / rate
            else:
                k = max(1, int(round(2 * rate / WAVE_HZ)))
                m = n // k
                if m == 0:
                    return
                blocks = vals[: m * k].reshape(m, k)
                pts = np.column_stack([blocks.min(axis=1), blocks.max(axis=1)]).ravel()
                ts = np.repeat(chunk.t0 + (np.arange(m) + 0.5) * k / rate, 2)
            if st.first_t is None:
                st.first_t = float(ts[0])
            st.t.extend(np.round(ts, 3).tolist())
            finite = np.isfinite(pts)
            st.v.extend(np.round(pts, 1).tolist() if finite.all() else
                        [round(float(x), 1) if ok else None for x, ok in zip(pts, finite)])
            if st.t and st.t[-1] - st.t[0] >= FLUSH_S:
                # already JSON-safe (finite floats or None): skip the per-value cleaning
                self.hub.submit("level" if kind == "audio" else "wave",
                                 {"stream": key, "t": st.t, "v": st.v, "gap": bool(chunk.gap_before)}, clean=False)
                st.t, st.v = [], []
        now = max((s.last_end for s in self.streams.values()), default=0.0)
        if now - self._last_sensor_push >= 1.0:
            self._last_sensor_push = now
            self.hub.submit("sensors", {"t": now, "streams": {
                k: {"last_t": s.last_end, "chunks": s.chunks, "gaps": s.gaps, "contact": s.contact}
                for k, s in self.streams.items()}})

    def on_provisional(self, values: Iterable[dict[str, Any]]) -> None:
        """Provisional values, at most one frame per person and family per :data:`PROVISIONAL_MIN_S`
        of session time (throttled on the data's clock, so a source's chunking sets no frame rate);
        values held back are merged (newest scalars, all beats) and sent with the next frame. Voice
        and skin conductance come once a second, so only heart values are ever held. What is due
        from one call goes out in one frame (e.g. both people's voice seconds)."""
        due: dict[tuple[str, str], float] = {}
        for v in values:
            key = (v["participant"], v.get("family", "heart"))
            held = self._provisional_held.get(key)
            if held is None:
                self._provisional_held[key] = dict(v)
            else:
                beats = {k: list(held.get(k) or []) + list(v.get(k) or []) for k in ("beat_times", "beat_hr_bpm")}
                held.update(v)
                if beats["beat_times"]:
                    held.update(beats)
            if float(v["t"]) - self._provisional_sent.get(key, -1e9) >= PROVISIONAL_MIN_S:
                # due now; later values of this call join it (the throttle counts from this one)
                self._provisional_sent[key] = due[key] = float(v["t"])
        self._send_provisional(due)

    def _send_provisional(self, due: dict[tuple[str, str], float]) -> None:
        """Send the held values of these (person, family) keys in one frame; each key's ``now``
        is how far its data has come (session s)."""
        if due:
            self._provisional_sent.update(due)
            # cleaned and encoded in one pass by the hub (the same JSON as its general walk); the held
            # dicts are the sink's own copies, popped: nothing changes them once submitted
            self.hub.submit("provisional", [self._provisional_held.pop(key) for key in due], clean=RECORDS)

    def on_features(self, rows: Iterable[dict[str, Any]]) -> None:
        """Send final feature rows (kept frames; they replace provisional values)."""
        rows = [{k: v for k, v in r.items() if v is not None} for r in rows]
        if rows:
            self.hub.submit("features", rows)

    def on_dyad(self, rows: Iterable[dict[str, Any]]) -> None:
        """Send final dyad rows (kept frames)."""
        rows = [{k: v for k, v in r.items() if v is not None} for r in rows]
        if rows:
            self.hub.submit("dyad", rows)

    def on_events(self, events: Iterable[Any]) -> None:
        """Send events (kept frames)."""
        evs = [e.to_dict() if hasattr(e, "to_dict") else dict(e) for e in events]
        if evs:
            self.hub.submit("events", evs)

    def on_event_updates(self, updates: Iterable[dict[str, Any]]) -> None:
        """Send provisional events as they are pushed, confirmed or withdrawn (lossy frames of
        :class:`~coregulate.server.web.schemas.ProvisionalEventUpdate`; a few per session, so
        each is checked against the wire schema)."""
        items = [ProvisionalEventUpdate.model_validate(u).model_dump() for u in updates]
        if items:
            self.hub.submit("provisional_event", items)

    def on_annotation(self, ann: dict[str, Any]) -> None:
        """Send an annotation (kept frame)."""
        self.hub.submit("annotation", ann)

    def on_status(self, status: dict[str, Any]) -> None:
        """Send the session's status (kept frame)."""
        self.hub.submit("status", status)
