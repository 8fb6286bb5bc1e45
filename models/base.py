"""Estimator contracts. Estimators are pure: no I/O, no clocks, deterministic, own state only.

Three shapes, called by :mod:`coregulate.models.pipeline` in this order:

1. :class:`StreamEstimator` -- fed raw chunks of one participant (e.g. ECG -> beats -> HRV).
   Returns the seconds that became final: ``[(t_s, {column: value}), ...]`` where ``t_s`` runs
   1, 2, 3, ... without holes, each exactly once, whatever the chunk sizes. A second ``t_s``
   covers session time ``(t_s - 1, t_s]``; window features cover the window ending at ``t_s``.
   Before its stream starts, an estimator emits ``None`` values for the seconds it skips.
2. :class:`RowEstimator` -- fed the merged per-second row of one participant, in ``t_s`` order,
   returns new columns for that row plus events (e.g. PNS/SNS indices, window of tolerance).
3. :class:`DyadEstimator` -- fed the finished rows of all participants for one second,
   returns the dyad row's columns plus events (synchrony, co-regulation, rupture/repair).
"""

from __future__ import annotations

import abc
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Mapping

from ..sensors.chunk import Chunk, StreamKind

Second = tuple[int, dict[str, Any]]


@dataclass
class Event:
    """Something a human should look at, with the rule that fired and its evidence.

    Every automatically detected event is a *candidate* for review; nothing here is a diagnosis.
    """

    kind: str  # e.g. "zone_change", "gap", "co_regulation", "rupture_candidate"
    t_start: float
    t_end: float | None = None
    participant: str | None = None  # None for dyad events
    rule: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The event as a plain dict (field name to value), as stored and sent."""
        return asdict(self)


class StreamEstimator(abc.ABC):
    """Consumes raw chunks of the kinds in :attr:`accepts` for one participant."""

    accepts: frozenset[StreamKind] = frozenset()
    #: Name under which the live provisional tier may show this estimator's seconds before the
    #: participant's row is final (``None``: it may not). Set it only where a second's columns, once
    #: returned by :meth:`update`, are exactly what the final row will hold (no later input changes
    #: them), so that showing them early is showing the final values sooner
    #: (:mod:`coregulate.models.pipeline`).
    provisional_family: str | None = None

    @abc.abstractmethod
    def update(self, chunk: Chunk) -> list[Second]:
        """Take one chunk; return the seconds that became final (may be empty)."""

    @abc.abstractmethod
    def finish(self) -> list[Second]:
        """End of data: return every remaining second up to the last watermark."""

    def events(self) -> list[Event]:
        """Events found since the last call (e.g. gaps, artefact bursts); drained by the pipeline."""
        return []


class RowEstimator(abc.ABC):
    """Adds columns to one participant's per-second row."""

    @abc.abstractmethod
    def update(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Event]]:
        """Compute this estimator's columns for one second.

        Parameters
        ----------
        row : Mapping
            The participant's row of the second, with the columns of the estimators that ran before.

        Returns
        -------
        columns : dict
            The columns to add to the row.
        events : list of Event
            Events that this second completed.
        """

    def finish(self) -> list[Event]:
        """End of data: events of spans still open at the last row (none by default)."""
        return []


class DyadEstimator(abc.ABC):
    """Computes the dyad row from all participants' rows of the same second."""

    @abc.abstractmethod
    def update(self, t_s: int, rows: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], list[Event]]:
        """Compute the dyad row of one second.

        Parameters
        ----------
        t_s : int
            The second (session time).
        rows : Mapping
            Each participant's finished row of that second, by role.

        Returns
        -------
        row : dict
            The dyad columns of the second.
        events : list of Event
            Events that this second completed.
        """

    def updates(self, t0: int, seconds: list[Mapping[str, Mapping[str, Any]]]
                ) -> Iterator[tuple[dict[str, Any], list[Event]]]:
        """:meth:`update` of the seconds ``t0, t0 + 1, ...`` in turn (``seconds``: each one's rows),
        yielded one by one; an estimator may compute them together (the final rows come in bursts,
        e.g. 8-s ECG blocks), with the same results."""
        for k, rows in enumerate(seconds):
            yield self.update(t0 + k, rows)

    def finish(self) -> tuple[list[dict[str, Any]], list[Event]]:
        """End of session: summaries/events that only close at the end (optional)."""
        return [], []


class SecondTicker:
    """Turns a watermark (session time up to which an input is complete) into finished seconds.

    ``ticks(watermark, latency)`` returns the integer seconds ``t`` not yet emitted with
    ``t <= watermark - latency``. Because it depends only on the watermark, the result is the
    same however the input was chunked.
    """

    def __init__(self) -> None:
        self.last = 0  # last second emitted

    def ticks(self, watermark: float, latency: float = 0.0) -> range:
        """The seconds that ``watermark`` completes, each returned once.

        Parameters
        ----------
        watermark : float
            Session time (s) up to which the input is complete.
        latency : float, optional
            How far (s) behind the watermark a second is still open (look-ahead of the estimator).

        Returns
        -------
        range
            Seconds ``t`` not emitted before with ``t <= watermark - latency`` (empty if none).
        """
        upto = math.floor(watermark - latency + 1e-9)
        if upto <= self.last:
            return range(0)
        r = range(self.last + 1, upto + 1)
        self.last = upto
        return r


def finite_or_none(x: Any) -> float | None:
    """``float(x)`` if it is a finite number, else ``None`` (CSV: empty cell)."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
