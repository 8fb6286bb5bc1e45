"""Replay of recorded files as a live source: readers aligned on one session clock, merged in
time order, and paced (×1, ×N or as fast as possible)."""

from __future__ import annotations

import heapq
from typing import AsyncIterator, Iterator

from .base import Reader, Source
from .chunk import Chunk, StreamInfo
from .pacing import FastForward, paced


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
    fast_forward : FastForward or None
        A faster pacing for the start of the session; pacing only, the chunks are the same.
    """

    def __init__(self, readers: list[Reader], speed: float | None = None, fast_forward: FastForward | None = None):
        self.readers = readers
        self.speed = speed
        self.fast_forward = fast_forward
        starts = [s.utc_start for r in readers for s in r.streams if s.utc_start is not None]
        self.utc0 = min(starts) if starts else None
        self.streams: list[StreamInfo] = [s for r in readers for s in r.streams]
        # each stream is shifted from its own origin onto the session's, once, here at the edge
        self._offset = {s.key: self._origin_offset(s) for s in self.streams}

    def _origin_offset(self, s: StreamInfo) -> float:
        if s.utc_start is None or self.utc0 is None:
            return 0.0
        return s.utc_start - self.utc0

    def _shifted(self, reader: Reader) -> Iterator[Chunk]:
        for chunk in reader.chunks():
            yield chunk.shifted(self._offset[chunk.stream.key])

    def chunks(self) -> Iterator[Chunk]:
        """All chunks of all readers merged by start time (deterministic order on ties)."""
        return heapq.merge(*(self._shifted(r) for r in self.readers), key=lambda c: c.start)

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """Every reader's annotations, shifted to the session clock and sorted by start."""
        out = []
        for r in self.readers:
            off = min((self._offset[s.key] for s in r.streams), default=0.0)
            for (a, b, text) in r.annotations():
                out.append((a + off, None if b is None else b + off, text))
        return sorted(out, key=lambda x: x[0])

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return paced(self.chunks(), self.speed, fast_forward=self.fast_forward)
