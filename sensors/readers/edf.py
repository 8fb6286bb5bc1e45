"""EDF / EDF+ files (pyedflib), read one second of each chosen channel at a time.

Channels are chosen by label through options (``ecg=ECG I&eda=GSR``) or, without options, by
common labels (ECG/EKG, EDA/GSR, PPG/BVP/Pleth, Resp, HR, Temp). Physical units are converted
to the canonical ones (V/mV/uV -> uV for ECG, S/nS/uS -> uS for EDA); an EDA channel in another
unit keeps its values and names the unit in the label. EDF start times are local time without a
zone; they are read as UTC and the label says so. EDF+ annotations -> :meth:`annotations`.
"""

from __future__ import annotations

import os
import re
from datetime import timezone
from typing import Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import CHUNK_S, check_rate

KIND_LABELS = {
    "ecg": (StreamKind.ECG, ("ecg", "ekg")),
    "eda": (StreamKind.EDA, ("eda", "gsr", "scl")),
    "ppg": (StreamKind.PPG, ("ppg", "bvp", "pleth")),
    "resp": (StreamKind.RESP, ("resp", "rsp", "thor", "abdo")),
    "hr": (StreamKind.HR, ("hr", "heart rate")),
    "temp": (StreamKind.TEMP, ("temp",)),
}
UNIT_SCALE = {
    StreamKind.ECG: {"v": 1e6, "mv": 1e3, "uv": 1.0, "µv": 1.0},
    StreamKind.EDA: {"us": 1.0, "µs": 1.0, "ns": 1e-3, "s": 1e6},
}


def unit_scale(kind: StreamKind, unit: str, path, label: str) -> tuple[float, str]:
    """The factor that converts a channel's physical unit to the kind's canonical unit.

    Parameters
    ----------
    kind : StreamKind
        The channel's stream kind.
    unit : str
        The EDF physical dimension (case and ``μ``/``µ`` spelling are ignored).
    path, label
        The file and channel, named in errors.

    Returns
    -------
    scale : float
        Factor to the canonical unit (1 for kinds without a table).
    note : str
        A warning to append to the stream's label (EDA in an unknown unit is kept unconverted),
        else empty.

    Raises
    ------
    InputError
        If the unit cannot be converted.
    """
    table = UNIT_SCALE.get(kind)
    if table is None:
        return 1.0, ""
    u = unit.strip().lower().replace("μ", "µ")
    if u in table:
        return table[u], ""
    if kind == StreamKind.EDA:
        return 1.0, f" (EDA in {unit or 'unknown unit'}, not converted)"
    raise InputError(f"unit {unit!r} of channel {label!r} cannot be converted", path=path, field=label,
                     expected="one of " + ", ".join(table))


def _token_match(label: str, aliases) -> bool:
    words = re.split(r"[^a-z0-9]+", label.lower())
    return any(a in words or label.lower().startswith(a) for a in aliases)


class EdfReader(Reader):
    """One EDF/EDF+ file."""

    def __init__(self, path, role: str, options=None):
        import pyedflib

        self.path = os.fspath(path)
        opts = dict(options or {})
        try:
            f = pyedflib.EdfReader(self.path)
        except Exception as e:  # pyedflib raises OSError with its own text for every header error
            raise InputError(f"not a readable EDF/EDF+ file ({e})", path=self.path, line=1, field="header",
                             expected="an EDF or EDF+ header") from None
        try:
            labels = [lb.strip() for lb in f.getSignalLabels()]
            chosen: list[tuple[int, StreamKind, str]] = []
            explicit = {k: v for k, v in opts.items() if k in KIND_LABELS}
            if explicit:
                for key, lab in explicit.items():
                    if lab not in labels:
                        raise InputError(f"channel {lab!r} not in the file", path=self.path, field=key,
                                         expected="one of " + ", ".join(repr(x) for x in labels))
                    chosen.append((labels.index(lab), KIND_LABELS[key][0], key))
            else:
                for key, (kind, aliases) in KIND_LABELS.items():
                    for i, lab in enumerate(labels):
                        if _token_match(lab, aliases) and all(i != c[0] for c in chosen):
                            chosen.append((i, kind, key))
                            break
            if not chosen:
                raise InputError(f"no known channel among {labels}", path=self.path, field="channels",
                                 expected="a channel option like ?ecg=LABEL")
            start = f.getStartdatetime().replace(tzinfo=timezone.utc).timestamp()
            self.nsamples = f.getNSamples()
            self.channels = []
            self.streams = []
            name = os.path.basename(self.path)
            for i, kind, key in chosen:
                rate = check_rate(float(f.getSampleFrequency(i)), self.path, labels[i])
                scale, note = unit_scale(kind, f.getPhysicalDimension(i), self.path, labels[i])
                st = StreamInfo(role, kind, rate, (), f"{name}:{labels[i]}{note} (EDF local time)", start)
                self.channels.append((i, st, scale))
                self.streams.append(st)
            self._ann = f.readAnnotations()
        finally:
            f.close()

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: each mapped channel, ``CHUNK_S`` seconds at a time
        (see :meth:`.Reader.chunks`)."""
        import pyedflib

        f = pyedflib.EdfReader(self.path)
        try:
            pos = {i: 0 for i, _, _ in self.channels}
            k = 0
            while any(pos[i] < self.nsamples[i] for i, _, _ in self.channels):
                out = []
                for i, st, scale in self.channels:
                    end = min(int(self.nsamples[i]), int(round((k + 1) * CHUNK_S * st.rate)))
                    n = end - pos[i]
                    if n <= 0:
                        continue
                    x = f.readSignal(i, pos[i], n) * scale
                    out.append(Chunk(st, np.asarray(x, dtype=float), t0=pos[i] / st.rate))
                    pos[i] = end
                out.sort(key=lambda c: c.start)
                yield from out
                k += 1
        finally:
            f.close()

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """The EDF+ annotations as ``(onset, onset + duration or None, text)`` (s, file clock)."""
        onsets, durations, texts = self._ann
        return [(float(o), float(o + d) if d > 0 else None, str(t)) for o, d, t in zip(onsets, durations, texts)]
