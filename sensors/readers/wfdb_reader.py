"""WFDB records (PhysioNet), multi-frequency records included, read in blocks of frames.

``wfdb.rdrecord(sampfrom, sampto, smooth_frames=False)`` counts in frames and returns each
channel at its own rate (``fs * samples_per_frame``), so a block of frames gives exactly one
block of every channel. Channel mapping by signal name: ECG (mV -> uV), GSR -> EDA (drivedb
hand/foot GSR are in mV, not uS: values kept, unit named in the label; option
``eda=hand|foot|<name>``, default hand), RESP, HR. Spikes of a ``marker`` channel become
:meth:`annotations` (onset, end of the merged spike run) (the marker channel is low-rate, so it is read whole for its baseline).
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import CHUNK_S, check_rate
from .edf import unit_scale

#: Frames read per wfdb call (then cut into ~1 s chunks).
BLOCK_S = 60.0
#: Marker spikes closer than this are one event.
MARKER_MERGE_S = 5.0


def record_base(path: str) -> str:
    """The record's name without a ``.hea`` or ``.dat`` ending (how wfdb addresses a record)."""
    for ext in (".hea", ".dat"):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


class WfdbReader(Reader):
    """A WFDB record given as ``name``, ``name.hea`` or ``name.dat``."""

    def __init__(self, path, role: str, options=None):
        import wfdb

        self.path = record_base(os.fspath(path))
        opts = dict(options or {})
        if not os.path.isfile(self.path + ".hea"):
            raise InputError("no WFDB header", path=self.path + ".hea", expected="a WFDB record (.hea + .dat)")
        try:
            h = wfdb.rdheader(self.path)
        except Exception as e:
            raise InputError(f"unreadable WFDB header ({e})", path=self.path + ".hea", line=1, field="header",
                             expected="a WFDB header") from None
        if not h.sig_name or not h.sig_len:
            raise InputError("record has no signals", path=self.path + ".hea", expected="a WFDB record with signals")
        self.fs = check_rate(float(h.fs), self.path + ".hea", "fs", 1)
        self.nframes = int(h.sig_len)
        if any(not isinstance(n, str) for n in h.sig_name):  # wfdb leaves None for a cut signal line
            raise InputError("a signal line has no name (header cut short?)", path=self.path + ".hea",
                             field="signal specification", expected="file name, format, gain, ..., description")
        names = [n.strip() for n in h.sig_name]
        lower = [n.lower() for n in names]
        spf = [int(x or 1) for x in (h.samps_per_frame or [1] * len(names))]
        units = [u or "" for u in (h.units or [""] * len(names))]

        def find(pred):
            return next((i for i, n in enumerate(lower) if pred(n)), None)

        eda_opt = opts.get("eda", "hand").lower()
        picks: list[tuple[int, StreamKind]] = []
        for kind, pred in (
            (StreamKind.ECG, lambda n: n.startswith(("ecg", "ekg"))),
            (StreamKind.EDA, lambda n: ("gsr" in n or "eda" in n) and (eda_opt in n)),
            (StreamKind.RESP, lambda n: n.startswith(("resp", "rsp"))),
            (StreamKind.HR, lambda n: n == "hr"),
        ):
            i = find(pred)
            if i is None and kind == StreamKind.EDA:
                i = find(lambda n: "gsr" in n or "eda" in n)
                if i is not None and "eda" in opts:
                    raise InputError(f"no EDA channel matching {opts['eda']!r}", path=self.path + ".hea",
                                     field="eda", expected="one of " + ", ".join(names))
            if i is not None:
                picks.append((i, kind))
        if not picks:
            raise InputError(f"no known channel among {names}", path=self.path + ".hea", field="channels",
                             expected="ECG, GSR/EDA, RESP or HR")
        self.marker = find(lambda n: n.startswith("marker"))
        utc = None  # WFDB base time is local time without a zone: read as UTC, labelled
        if h.base_date is not None and h.base_time is not None:
            from datetime import datetime, timezone

            utc = datetime.combine(h.base_date, h.base_time, tzinfo=timezone.utc).timestamp()
        self.channels = []
        self.streams = []
        name = os.path.basename(self.path)
        for i, kind in picks:
            rate = self.fs * spf[i]
            scale, note = unit_scale(kind, units[i] or "", self.path + ".hea", names[i])
            when = " (record local time)" if utc is not None else ""
            st = StreamInfo(role, kind, rate, (), f"{name}:{names[i]}{note}{when}", utc)
            self.channels.append((i, st, scale, spf[i]))
            self.streams.append(st)

    def _read(self, start: int, stop: int, channels: list[int]):
        import wfdb

        try:
            r = wfdb.rdrecord(self.path, sampfrom=start, sampto=stop, channels=channels, smooth_frames=False)
        except Exception as e:
            raise InputError(f"cannot read frames {start}..{stop} ({e})", path=self.path + ".dat",
                             line=start + 1, expected="a complete WFDB signal file") from None
        return r.e_p_signal

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: each mapped channel, read block by block (see :meth:`.Reader.chunks`)."""
        idx = [c[0] for c in self.channels]
        block = max(1, int(round(BLOCK_S * self.fs)))
        per_chunk = max(1, int(round(CHUNK_S * self.fs)))
        for a in range(0, self.nframes, block):
            b = min(self.nframes, a + block)
            sig = self._read(a, b, idx)
            for s in range(a, b, per_chunk):
                e = min(b, s + per_chunk)
                out = []
                for (i, st, scale, spf), x in zip(self.channels, sig):
                    seg = np.asarray(x[(s - a) * spf:(e - a) * spf], dtype=float) * scale
                    out.append(Chunk(st, seg, t0=s / self.fs))
                yield from out

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """Event markers found in the marker channel, if the record has one.

        A marker is a run of samples above ``median + 8 x MAD`` (scaled MAD, Hampel's outlier rule);
        runs closer than ``MARKER_MERGE_S`` merge. A run at the very start is the recorder settling and
        is skipped.

        Returns
        -------
        list of (float, float, str)
            ``(start, end, "marker")`` in seconds of the record.
        """
        if self.marker is None:
            return []
        spf_rate = None
        m = self._read(0, self.nframes, [self.marker])[0]
        spf_rate = len(m) / (self.nframes / self.fs)
        med = float(np.median(m))
        mad = 1.4826 * float(np.median(np.abs(m - med)))
        above = m > med + max(8 * mad, 1e-9)
        out = []
        i, n = 0, len(m)
        while i < n:
            if not above[i]:
                i += 1
                continue
            j = i
            last = i
            while j < n and (above[j] or (j - last) / spf_rate < MARKER_MERGE_S):
                if above[j]:
                    last = j
                j += 1
            if i > 0:  # a record starting above threshold is the recorder settling, not a marker
                out.append((i / spf_rate, (last + 1) / spf_rate, "marker"))
            i = last + 1
        return out
