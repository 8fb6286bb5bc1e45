"""Replay of recorded files as a live source: readers aligned on one session clock, merged in
time order, and paced (×1, ×N or as fast as possible)."""

from __future__ import annotations

import heapq
from typing import AsyncIterator, Iterator

from .base import Reader, Source
from .chunk import Chunk, StreamInfo
from .pacing import paced


class ReplaySource(Source):
    """Several readers (one or more per person) as one source on a shared session clock.

    The session origin is the earliest absolute start among the streams that know one; each
    stream is shifted onto it once, here at the edge. Streams without absolute time start at
    session time 0.

    Parameters
    ----------
    readers : list of Reader
        Opened (and header-validated) readers.
    speed : float or None
        1.0 = live pacing, N = N× real time, None = as fast as possible.
    """

    def __init__(self, readers: list[Reader], speed: float | None = None):
        self.readers = readers
        self.speed = speed
        starts = [s.utc_start for r in readers for s in r.streams if s.utc_start is not None]
        self.utc0 = min(starts) if starts else None
        self._offset: dict[int, float] = {}
        self.streams: list[StreamInfo] = []
        for i, r in enumerate(readers):
            utcs = [s.utc_start for s in r.streams if s.utc_start is not None]
            self._offset[i] = (min(utcs) - self.utc0) if (utcs and self.utc0 is not None) else 0.0
            self.streams.extend(r.streams)
        self._stream_offset = {}
        for r in readers:
            for s in r.streams:
                self._stream_offset[s.key] = (s.utc_start - self.utc0) if (s.utc_start is not None and self.utc0 is not None) else 0.0

    def _shifted(self, reader: Reader) -> Iterator[Chunk]:
        for chunk in reader.chunks():
            yield chunk.shifted(self._stream_offset.get(chunk.stream.key, 0.0))

    def chunks(self) -> Iterator[Chunk]:
        """All chunks of all readers merged by start time (deterministic order on ties)."""
        return heapq.merge(*(self._shifted(r) for r in self.readers), key=lambda c: c.start)

    def annotations(self) -> list[tuple[float, float | None, str]]:
        out = []
        for i, r in enumerate(self.readers):
            off = self._offset[i]
            for (a, b, text) in r.annotations():
                out.append((a + off, None if b is None else b + off, text))
        return sorted(out, key=lambda x: x[0])

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return paced(self.chunks(), self.speed)
