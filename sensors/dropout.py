"""Dropouts cut into a recorded regular stream, as a Bluetooth link loses them.

Used to show that a gap of *d* seconds costs what it lasts (issue #13's dropout figures in
``bench/validate_heart_fusion.py`` and the heart tests): the same recording is cut into chunks
with and without a stretch of samples removed, and the first chunk after the cut is marked
``gap_before`` exactly as a live source marks a dropout.
"""

from __future__ import annotations

import numpy as np

from .chunk import Chunk, StreamInfo


def chunks_with_dropout(info: StreamInfo, t: np.ndarray, x: np.ndarray, gap: tuple[float, float] | None,
                        step: int) -> list[Chunk]:
    """Chunks of ``step`` samples of a regular stream, without the samples whose time lies in ``gap``.

    Parameters
    ----------
    info : StreamInfo
        The stream (its ``rate`` times the samples inside a chunk).
    t, x : ndarray
        Sample times (session seconds) and values.
    gap : (float, float) or None
        ``[start, end)`` of the dropout in session seconds; None cuts nothing.
    step : int
        Samples per chunk. The chunks sit on one grid of sample indices with and without the cut:
        a chunk's samples are timed ``t0 + i / rate``, so moving chunk boundaries would move beat
        times by up to a sample period and make rows far from the gap differ.
    """
    keep = np.ones(len(t), bool) if gap is None else ~((t >= gap[0]) & (t < gap[1]))
    chunks = []
    for i in range(0, len(t), step):
        cell = np.arange(i, min(i + step, len(t)))
        kept = cell[keep[cell]]
        for run in np.split(kept, np.flatnonzero(np.diff(kept) > 1) + 1):
            if len(run):
                cut_before = bool(run[0] > 0 and not keep[run[0] - 1])
                chunks.append(Chunk(info, x[run], t0=float(t[run[0]]), gap_before=cut_before))
    return chunks
