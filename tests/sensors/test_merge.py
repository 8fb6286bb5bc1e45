import asyncio

import numpy as np
import pytest

from coregulate.sensors.base import Source
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.merge import MergedSource


class Ticker(Source):
    def __init__(self, who, n, delay, fail_after=None):
        self.streams = [StreamInfo(who, StreamKind.RR)]
        self.n, self.delay, self.fail_after = n, delay, fail_after

    async def __aiter__(self):
        for i in range(self.n):
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("strap vanished")
            await asyncio.sleep(self.delay)
            yield Chunk(self.streams[0], np.array([800.0]), times=np.array([float(i)]))


async def test_a_slow_source_does_not_hold_back_a_fast_one():
    merged = MergedSource([Ticker("client", 3, 0.2), Ticker("therapist", 10, 0.001)], utc0=0.0)
    order = [c.participant async for c in merged]
    assert order.count("client") == 3 and order.count("therapist") == 10
    assert order[:10].count("therapist") >= 9


async def test_failure_of_one_source_surfaces():
    merged = MergedSource([Ticker("client", 5, 0.001, fail_after=2), Ticker("therapist", 50, 0.01)], utc0=0.0)
    with pytest.raises(RuntimeError, match="vanished"):
        async for _ in merged:
            pass


def test_duplicate_streams_are_refused():
    with pytest.raises(InputError, match="client/rr"):
        MergedSource([Ticker("client", 1, 0), Ticker("client", 1, 0)])
