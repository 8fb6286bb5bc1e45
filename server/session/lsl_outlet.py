"""The live session published to Lab Streaming Layer, for LabRecorder (pylsl / liblsl, Kothe et
al., 2024, Imaging Neuroscience): a session sink.

:class:`LslPublisher` publishes, per participant, the numeric per-second features
(:data:`~coregulate.models.columns.FEATURE_COLUMNS`), the dyad rows and events as a string marker
stream, so that LabRecorder records them to XDF next to the lab's other streams. The way in (an
LSL stream as a source) is :mod:`coregulate.sensors.lsl`.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Callable, Iterable, Mapping

from ...models.columns import DYAD_COLUMNS, FEATURE_COLUMNS, TEXT_COLUMNS
from ...sensors.lsl import load_pylsl


def _zero_now() -> Callable[[], float]:
    """Session time counted from now on the monotonic clock, as :mod:`coregulate.sensors.lsl` does."""
    origin = time.monotonic()
    return lambda: time.monotonic() - origin


def _number(v: Any) -> float:
    if v is None or isinstance(v, str):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def numeric_columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Numeric feature and dyad columns: the channels of the published streams."""
    return (tuple(c for c in FEATURE_COLUMNS if c not in TEXT_COLUMNS),
            tuple(c for c in DYAD_COLUMNS if c not in TEXT_COLUMNS))


class LslPublisher:
    """Publishes the live session to LSL for LabRecorder.

    Outlets: ``<prefix>_<participant>_features`` (type ``Features``, 1 Hz, one double channel per
    numeric feature column), ``<prefix>_dyad`` (type ``Dyad``) and ``<prefix>_events`` (type
    ``Markers``, one string channel holding the event as JSON). Samples carry the LSL time of
    their session second, so XDF aligns them with the lab's other streams.
    """

    def __init__(self, participants: Iterable[str] = ("client", "therapist"), *, prefix: str = "coregulate",
                 session_id: str = "", now: Callable[[], float] | None = None):
        self._pylsl = load_pylsl()
        self.prefix, self.session_id = prefix, session_id
        self._now = now or _zero_now()
        self.feature_channels, self.dyad_channels = numeric_columns()
        self._features: dict[str, Any] = {}
        for p in participants:
            self._feature_outlet(p)
        self._dyad = self._outlet(f"{prefix}_dyad", "Dyad", self.dyad_channels, 1.0, "double64", "dyad")
        self._events = self._outlet(f"{prefix}_events", "Markers", ("event",), 0.0, "string", "events")

    def _outlet(self, name: str, type_: str, channels: tuple[str, ...], rate: float, fmt: str, part: str):
        pylsl = self._pylsl
        sid = f"{self.prefix}:{self.session_id}:{part}"
        info = pylsl.StreamInfo(name, type_, len(channels), rate, fmt, sid)
        chans = info.desc().append_child("channels")
        for c in channels:
            ch = chans.append_child("channel")
            ch.append_child_value("label", c)
        info.desc().append_child_value("manufacturer", "Coregulate")
        return pylsl.StreamOutlet(info)

    def _feature_outlet(self, participant: str):
        if participant not in self._features:
            self._features[participant] = self._outlet(
                f"{self.prefix}_{participant}_features", "Features", self.feature_channels, 1.0, "double64", participant)
        return self._features[participant]

    def _stamp(self, t_s: float) -> float:
        return self._pylsl.local_clock() - self._now() + float(t_s)

    def publish(self, features_rows: Iterable[Mapping[str, Any]] = (), dyad_rows: Iterable[Mapping[str, Any]] = (),
                events: Iterable[Any] = ()) -> None:
        """Push finished rows (dicts keyed by column) and events (Event or dict)."""
        for row in features_rows:
            out = self._feature_outlet(str(row["participant"]))
            out.push_sample([_number(row.get(c)) for c in self.feature_channels], self._stamp(row["t_s"]))
        for row in dyad_rows:
            self._dyad.push_sample([_number(row.get(c)) for c in self.dyad_channels], self._stamp(row["t_s"]))
        for ev in events:
            d = ev.to_dict() if hasattr(ev, "to_dict") else dict(ev)
            self._events.push_sample([json.dumps(d, default=str, sort_keys=True)], self._stamp(d.get("t_start") or 0.0))

    # The session runner's sink protocol (runner.py), so the publisher can be a sink.
    def on_features(self, rows: list[Mapping[str, Any]]) -> None:
        """Publish finished per-second rows (sink callback)."""
        self.publish(features_rows=rows)

    def on_dyad(self, rows: list[Mapping[str, Any]]) -> None:
        """Publish finished dyad rows (sink callback)."""
        self.publish(dyad_rows=rows)

    def on_events(self, events: list[Any]) -> None:
        """Publish events as JSON markers (sink callback)."""
        self.publish(events=events)

    def close(self) -> None:
        """Drop the outlets (their streams disappear from the network)."""
        self._features.clear()
        self._dyad = self._events = None
