"""The one data unit that flows from sources to estimators: a :class:`Chunk` of one stream.

Every source (file replay, simulator, BLE strap, microphone, LSL inlet) turns device or file
time into *session time* once, at the edge, and yields chunks. Nothing downstream knows which
source produced them.

Session time is seconds since the session's origin (``t = 0``). Where the source knows absolute
time, :attr:`StreamInfo.utc_start` carries it, so that several files of one session can be
aligned and ``utc`` columns can be written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np


class StreamKind(str, enum.Enum):
    """What a stream carries, with its canonical unit (see :data:`CANONICAL_UNITS`)."""

    ECG = "ecg"  # regular, microvolts
    RR = "rr"  # irregular, one RR interval (ms) per beat, time = time of the beat ending it
    HR = "hr"  # beats per minute, regular or irregular
    PPG = "ppg"  # regular, arbitrary units (E4 BVP)
    EDA = "eda"  # regular, microsiemens
    ACC = "acc"  # regular, 3 channels x/y/z in milli-g
    RESP = "resp"  # regular, arbitrary units
    AUDIO = "audio"  # regular, float in [-1, 1]; never recorded unless the user opts in
    PROSODY = "prosody"  # irregular frames of prosody features, one column per channel name
    MOTION = "motion"  # regular, motion energy (arbitrary units), e.g. video MEA
    TEMP = "temp"  # regular, degrees Celsius
    MARKER = "marker"  # irregular, values are label strings (object array)


CANONICAL_UNITS: dict[StreamKind, str] = {
    StreamKind.ECG: "uV",
    StreamKind.RR: "ms",
    StreamKind.HR: "bpm",
    StreamKind.PPG: "au",
    StreamKind.EDA: "uS",
    StreamKind.ACC: "mg",
    StreamKind.RESP: "au",
    StreamKind.AUDIO: "fs",  # full scale
    StreamKind.PROSODY: "mixed",
    StreamKind.MOTION: "au",
    StreamKind.TEMP: "degC",
    StreamKind.MARKER: "label",
}


@dataclass(frozen=True)
class StreamInfo:
    """Static description of one stream, known before its first chunk.

    Parameters
    ----------
    participant : str
        The role of the person the stream belongs to (``"client"``, ``"therapist"``, ...).
    kind : StreamKind
        What the stream carries. Values are always in the canonical unit of the kind.
    rate : float or None
        Nominal sample rate in Hz for regular streams, ``None`` for irregular ones.
    channels : tuple of str
        Channel names for multi-channel streams (e.g. ``("x", "y", "z")``), empty for one channel.
    label : str
        Human-readable origin, e.g. ``"polar_ecg.txt"`` or ``"Polar H10 A1B2C3"``.
    utc_start : float or None
        Absolute time (Unix seconds, UTC) of stream time 0, when the source knows it.
    """

    participant: str
    kind: StreamKind
    rate: float | None = None
    channels: tuple[str, ...] = ()
    label: str = ""
    utc_start: float | None = None

    @property
    def unit(self) -> str:
        """The stream's canonical unit (one unit per kind, ``CANONICAL_UNITS``)."""
        return CANONICAL_UNITS[self.kind]

    @property
    def key(self) -> str:
        """Stable identifier of the stream within a session, e.g. ``"client/ecg"``."""
        return f"{self.participant}/{self.kind.value}"


@dataclass(frozen=True)
class Chunk:
    """A block of consecutive samples of one stream on the session clock.

    Regular streams give ``t0`` (time of the first sample) and ``rate``; irregular streams
    (beats, RR intervals, prosody frames, markers) give explicit ``times``. Either way
    :attr:`t_end` says up to which session time the stream is now complete: estimators use it
    as their watermark, so a chunk with zero samples may still advance time (e.g. a strap that
    reports "no beat yet").

    Parameters
    ----------
    stream : StreamInfo
        Which stream this is.
    values : numpy.ndarray
        Shape ``(n,)`` for one channel or ``(n, len(stream.channels))``; float64 in the canonical
        unit, object array of strings for markers.
    t0 : float or None
        Session time of the first sample of a regular stream.
    times : numpy.ndarray or None
        Session times of each sample of an irregular stream (strictly increasing).
    t_end : float or None
        Watermark; defaults to ``t0 + n / rate`` (regular) or the last time (irregular).
    gap_before : bool
        Data between the previous chunk's end and this chunk's start is missing (dropout,
        lost contact, reconnect). Estimators must not let a feature window span it silently.
    meta : Mapping
        Source-specific flags, e.g. ``{"contact": False}`` for a strap without skin contact,
        ``{"silent": True}`` for the empty chunk that marks a live stream's silence and
        ``{"late": True}`` for samples that arrived after it (recorded, never computed; see
        :class:`coregulate.sensors.live.SilenceWatch`).
    """

    stream: StreamInfo
    values: np.ndarray
    t0: float | None = None
    times: np.ndarray | None = None
    t_end: float | None = None
    gap_before: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.t0 is None) == (self.times is None):
            raise ValueError("a chunk has either t0 (regular stream) or times (irregular), not both")
        if self.times is not None and len(self.times) != len(self.values):
            raise ValueError("times and values differ in length")
        if self.t0 is not None and not self.stream.rate:
            raise ValueError("a regular chunk needs a stream with a rate")
        if self.t_end is None:
            object.__setattr__(self, "t_end", self._natural_end())
        elif self.times is not None and len(self.times) and self.t_end < self.times[-1]:
            raise ValueError("t_end (the watermark) lies before the last sample")

    def _natural_end(self) -> float:
        if self.t0 is not None:
            return self.t0 + len(self.values) / float(self.stream.rate)  # type: ignore[arg-type]
        if len(self.times):  # type: ignore[arg-type]
            return float(self.times[-1])  # type: ignore[index]
        raise ValueError("an empty irregular chunk needs an explicit t_end")

    @property
    def participant(self) -> str:
        """The role of the person the chunk belongs to (its stream's)."""
        return self.stream.participant

    @property
    def kind(self) -> StreamKind:
        """The kind of signal (its stream's)."""
        return self.stream.kind

    @property
    def rate(self) -> float | None:
        """Nominal sample rate (Hz) of the stream, ``None`` for irregular samples."""
        return self.stream.rate

    def __len__(self) -> int:
        return len(self.values)

    @property
    def start(self) -> float:
        """Session time of the first sample (or the watermark for an empty chunk)."""
        if self.t0 is not None:
            return self.t0
        return float(self.times[0]) if len(self.times) else float(self.t_end)  # type: ignore[index,arg-type]

    def sample_times(self) -> np.ndarray:
        """Session time of every sample (computed for regular streams)."""
        if self.times is not None:
            return self.times
        return self.t0 + np.arange(len(self.values)) / float(self.stream.rate)  # type: ignore[operator,arg-type]

    def shifted(self, dt: float) -> "Chunk":
        """The same chunk on a clock whose origin is ``dt`` seconds earlier (times grow by dt)."""
        if dt == 0:
            return self
        return replace(
            self,
            t0=None if self.t0 is None else self.t0 + dt,
            times=None if self.times is None else self.times + dt,
            t_end=self.t_end + dt,  # type: ignore[operator]
        )

    def split(self, at: float) -> tuple["Chunk | None", "Chunk | None"]:
        """Split into the samples before ``at`` and from ``at`` on (used by tests and pacing)."""
        st = self.sample_times()
        i = int(np.searchsorted(st, at, side="left"))
        if i <= 0:
            return None, self
        if i >= len(st):
            return self, None
        if self.t0 is not None:
            first = Chunk(self.stream, self.values[:i], t0=self.t0, gap_before=self.gap_before, meta=self.meta)
            second = Chunk(self.stream, self.values[i:], t0=float(st[i]), t_end=self.t_end, meta=self.meta)
        else:
            first = Chunk(self.stream, self.values[:i], times=st[:i], gap_before=self.gap_before, meta=self.meta)
            second = Chunk(self.stream, self.values[i:], times=st[i:], t_end=self.t_end, meta=self.meta)
        return first, second


def rechunk(chunks, seconds: float):
    """Re-cut a time-ordered iterable of chunks of ONE stream into pieces of about ``seconds``.

    Used by tests to show that estimator output does not depend on chunk boundaries.
    """
    for chunk in chunks:
        rest: Chunk | None = chunk
        while rest is not None and len(rest):
            head, rest = rest.split(rest.start + seconds)
            if head is None:  # the first sample is already past the cut: take one sample
                head, rest = rest.split(float(rest.sample_times()[1]) if len(rest) > 1 else float("inf"))
            yield head
        if rest is not None and not len(rest):
            yield rest
