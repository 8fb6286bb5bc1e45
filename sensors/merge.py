"""Several live sources as one: each runs as its own task and feeds a shared queue, so a
silent strap never holds back a microphone (and a dead one does not stop the session)."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

from .base import Source
from .chunk import Chunk

_DONE = object()


class MergedSource(Source):
    """Union of ``sources`` (streams concatenated; keys must be unique).

    Parameters
    ----------
    sources : list of Source
        Live adapters sharing one session clock (``sensors.ble.adapter.session_clock``).
    utc0 : float, optional
        Absolute time of session time 0 (default: now, when the merged source is created, which
        is when the shared session clock started, to within the set-up time).
    """

    def __init__(self, sources: list[Source], utc0: float | None = None):
        self.sources = sources
        self.streams = [s for src in sources for s in src.streams]
        keys = [s.key for s in self.streams]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            from .errors import InputError

            raise InputError(f"two live sources give the same stream(s): {', '.join(sorted(dup))}",
                             expected="one source per person and signal")
        known = [src.utc0 for src in sources if src.utc0 is not None]
        self.utc0 = utc0 if utc0 is not None else (min(known) if known else time.time())
        self.queue_size = 1024

    async def _pump(self, src: Source, queue: asyncio.Queue) -> None:
        try:
            async for chunk in src:
                await queue.put(chunk)
        except BaseException as exc:  # noqa: BLE001 - surfaced to the session below
            await queue.put(exc)
        finally:
            await queue.put(_DONE)

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        queue: asyncio.Queue = asyncio.Queue(self.queue_size)
        tasks = [asyncio.create_task(self._pump(s, queue)) for s in self.sources]
        running = len(tasks)
        try:
            while running:
                item = await queue.get()
                if item is _DONE:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for t in tasks:
                t.cancel()

    async def aclose(self) -> None:
        for s in self.sources:
            await s.aclose()

    def annotations(self):
        return [a for s in self.sources for a in s.annotations()]
