"""Pacing of recorded or simulated chunks: ×1 (live), ×N, or as fast as possible.

Like MNE-LSL's player, chunks are released against target times computed from the session
clock (``start + t_end / speed``) rather than by sleeping fixed amounts, so replay never drifts.
Pacing changes only *when* a chunk is delivered, never its content: features are identical at
every speed.
"""

from __future__ import annotations

import asyncio
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


async def paced(chunks: Iterable[Chunk], speed: float | None, *, t_origin: float = 0.0) -> AsyncIterator[Chunk]:
    """Yield ``chunks`` paced at ``speed`` × real time (``None``: as fast as possible).

    At max speed the loop still yields control every few chunks so that a server running the
    session stays responsive.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, chunk in enumerate(chunks):
        if speed is not None:
            due = start + (float(chunk.t_end) - t_origin) / speed
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        elif i % 64 == 0:
            await asyncio.sleep(0)
        yield chunk
