"""Fast-forwarded pacing (the demo's baseline): only delivery times change, never the chunks."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from coregulate.sensors import pacing
from coregulate.sensors.pacing import FastForward, paced


def _chunks(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(t_end=float(i + 1), payload=i) for i in range(n)]


def _deliver(chunks, speed, fast_forward, monkeypatch) -> tuple[list, list[float]]:
    """Run ``paced`` with a sleep that records the delays it was asked for instead of waiting."""
    asked: list[float] = []

    async def no_wait(delay: float) -> None:
        asked.append(delay)

    monkeypatch.setattr(pacing.asyncio, "sleep", no_wait)

    async def run() -> list:
        return [c async for c in paced(chunks, speed, fast_forward=fast_forward)]

    return asyncio.run(run()), asked


def test_fast_forward_delivers_the_same_chunks_in_the_same_order(monkeypatch):
    chunks = _chunks(40)
    plain, _ = _deliver(chunks, 1.0, None, monkeypatch)
    fast, _ = _deliver(chunks, 1.0, FastForward(until_s=10.0, speed=None), monkeypatch)
    assert [c.payload for c in fast] == [c.payload for c in plain] == list(range(40))
    assert all(a is b for a, b in zip(fast, chunks))


def test_fast_forward_targets_baseline_at_its_speed_then_real_time(monkeypatch):
    # 20 one-second chunks: the first 10 s at x10 (due at 0.1, 0.2, ... 1.0 s), then x1 from the
    # moment the fast part was delivered (due 1, 2, ... 10 s later). With a sleep that returns at
    # once, the asked delays are those targets (minus the microseconds the loop itself took).
    _, asked = _deliver(_chunks(20), 1.0, FastForward(until_s=10.0, speed=10.0), monkeypatch)
    expected = [0.1 * (i + 1) for i in range(10)] + [float(i + 1) for i in range(10)]
    assert len(asked) == 20
    for got, want in zip(asked, expected):
        assert abs(got - want) < 0.05, (asked, expected)


def test_fast_forward_at_max_speed_waits_only_after_the_baseline(monkeypatch):
    _, asked = _deliver(_chunks(12), 2.0, FastForward(until_s=10.0, speed=None), monkeypatch)
    # max speed inside the baseline only yields (sleep(0) once every 64 chunks); then x2
    waits = [d for d in asked if d > 0]
    assert len(waits) == 2 and abs(waits[0] - 0.5) < 0.05 and abs(waits[1] - 1.0) < 0.05
