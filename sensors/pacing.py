"""Pacing of recorded or simulated chunks: ×1 (live), ×N, or as fast as possible.

Like MNE-LSL's player, chunks are released against target times computed from the session
clock (``start + t_end / speed``) rather than by sleeping fixed amounts, so replay never drifts.
Pacing changes only *when* a chunk is delivered, never its content: features are identical at
every speed. A :class:`FastForward` plays the start of a session faster (the demo's simulated
baseline), then the chosen speed: again only the delivery times change.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator, Iterable

from .chunk import Chunk
from .errors import InputError

Speed = float | str


def parse_speed(text: str | float | int) -> float | None:
    """``"max"`` → ``None`` (no pacing); ``"1"``, ``"4"``, ``"x16"``, ``2.5`` → that factor."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().lower().lstrip("x×")
        if s in ("max", "inf", "fast"):
            return None
        try:
            value = float(s)
        except ValueError:
            raise InputError(f"unknown replay speed {text!r}", field="--speed", expected="1, N (a factor > 0) or max") from None
    if not value > 0 or value == float("inf"):
        raise InputError(f"replay speed must be positive, got {text!r}", field="--speed", expected="1, N (a factor > 0) or max")
    return value


@dataclass(frozen=True)
class FastForward:
    """Deliver the chunks ending at or before session time ``until_s`` at ``speed`` (``None``: as
    fast as possible), the rest at the source's own speed.

    ``coregulate demo`` uses it to play the simulated 5-minute baseline in seconds, so that a
    newcomer sees the first zone change within about a minute, then continues at ×1.
    """

    until_s: float
    speed: float | None = None


async def paced(chunks: Iterable[Chunk], speed: float | None, *, t_origin: float = 0.0,
                fast_forward: FastForward | None = None) -> AsyncIterator[Chunk]:
    """Yield ``chunks`` paced at ``speed`` × real time (``None``: as fast as possible).

    With ``fast_forward``, the chunks up to ``fast_forward.until_s`` are paced at its speed; the
    rest is paced at ``speed`` from the moment the fast part was delivered (target times, so no
    drift either way). At max speed the loop still yields control every few chunks so that a
    server running the session stays responsive.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    origin = t_origin
    rate = speed if fast_forward is None else fast_forward.speed
    for i, chunk in enumerate(chunks):
        t_end = float(chunk.t_end)
        if fast_forward is not None and t_end > fast_forward.until_s:
            # the fast part is delivered: from here on, session time runs at `speed` from now
            start, origin, rate = loop.time(), max(t_origin, fast_forward.until_s), speed
            fast_forward = None
        if rate is not None:
            delay = start + (t_end - origin) / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        elif i % 64 == 0:
            await asyncio.sleep(0)
        yield chunk
