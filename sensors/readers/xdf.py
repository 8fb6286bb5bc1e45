"""XDF recordings (Lab Streaming Layer, via pyxdf).

pyxdf parses the whole file at once, so unlike the other readers this one holds the chosen
streams in memory (XDF stores chunks of all streams interleaved, without an index, so a
streaming reader would have to rescan the file per stream). Streams are chosen by type
(``?type=ECG`` or ``type=ECG,EDA``; default: every known type) and, for a recording of both
people, by stream name (``?name=client``: streams whose name contains any of the given words). Times are the LSL clock after
pyxdf's clock-offset correction, shifted so the earliest chosen sample is 0; ``utc_start`` is
unknown (the LSL clock is not UTC). Markers become :meth:`annotations` and MARKER chunks.
"""

from __future__ import annotations

import logging
import os
import struct
from typing import Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import IrregularEmitter, RegularEmitter, check_rate, merge_chunks
from .edf import unit_scale

TYPES = {
    "ecg": StreamKind.ECG, "ekg": StreamKind.ECG, "eda": StreamKind.EDA, "gsr": StreamKind.EDA,
    "ppg": StreamKind.PPG, "bvp": StreamKind.PPG, "rr": StreamKind.RR, "ibi": StreamKind.RR,
    "hr": StreamKind.HR, "resp": StreamKind.RESP, "acc": StreamKind.ACC, "temp": StreamKind.TEMP,
    "audio": StreamKind.AUDIO, "markers": StreamKind.MARKER, "marker": StreamKind.MARKER,
}
XDF_MAGIC = b"XDF:"
#: Chunk tags of XDF 1.0: FileHeader, StreamHeader, Samples, ClockOffset, Boundary, StreamFooter.
XDF_TAGS = {1: "FileHeader", 2: "StreamHeader", 3: "Samples", 4: "ClockOffset", 5: "Boundary", 6: "StreamFooter"}

log = logging.getLogger("coregulate.sensors.readers.xdf")


def check_structure(path: str) -> int | None:
    """Walk the XDF chunk headers (specification 1.0, "Chunk" layout) without reading content.

    Every chunk is ``[NumLengthBytes: 1, 4 or 8][Length][Tag: uint16][Content]``; the first is
    the FileHeader, and stream chunks start with a 4-byte stream id. pyxdf itself skips what it
    cannot parse and only logs it, so a file of garbage after a valid magic would read as "no
    streams". Returns None for a sound file, or the byte offset where a file that is otherwise
    sound was cut short (its last chunk incomplete); raises :class:`InputError` naming the byte
    offset of the first invalid chunk header.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        pos = len(XDF_MAGIC)
        fh.seek(pos)
        n_chunks = 0
        while pos < size:
            head = fh.read(1)
            nbytes = head[0]
            if nbytes not in (1, 4, 8):
                raise InputError(f"not a valid XDF file: chunk length prefix {nbytes} at byte {pos}", path=path,
                                 expected="1, 4 or 8 (XDF 1.0 chunk header)")
            raw = fh.read(nbytes + 2)
            if len(raw) < nbytes + 2:
                return pos
            length = int.from_bytes(raw[:nbytes], "little")
            tag = struct.unpack("<H", raw[nbytes:])[0]
            if tag not in XDF_TAGS:
                raise InputError(f"not a valid XDF file: chunk tag {tag} at byte {pos}", path=path,
                                 expected="a tag 1-6 (XDF 1.0 chunk types)")
            if n_chunks == 0 and tag != 1:
                raise InputError(f"not a valid XDF file: first chunk is {XDF_TAGS[tag]} at byte {pos}", path=path,
                                 expected="the FileHeader chunk first")
            minimum = 2 + (4 if tag in (2, 3, 4, 6) else 0) + (16 if tag == 4 else 0)
            if length < minimum:
                raise InputError(f"not a valid XDF file: {XDF_TAGS[tag]} chunk of {length} bytes at byte {pos}",
                                 path=path, expected=f"at least {minimum} bytes")
            end = pos + 1 + nbytes + length
            if end > size:
                return pos
            pos = end
            fh.seek(pos)
            n_chunks += 1
    if n_chunks == 0:
        raise InputError("not a valid XDF file: no chunk after the magic bytes", path=path,
                         expected="a FileHeader chunk at byte 4")
    return None


class _PyxdfErrors(logging.Handler):
    """Collects what pyxdf logs as errors while it reads (it logs and skips instead of raising)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])

    def __enter__(self) -> "_PyxdfErrors":
        logger = logging.getLogger("pyxdf")
        self._propagate = logger.propagate
        logger.addHandler(self)
        logger.propagate = False  # its tracebacks are ours to turn into one line
        return self

    def __exit__(self, *exc) -> None:
        logger = logging.getLogger("pyxdf")
        logger.removeHandler(self)
        logger.propagate = self._propagate


def _first(d, key, default=""):
    v = d.get(key) if isinstance(d, dict) else None
    if isinstance(v, list):
        v = v[0] if v else None
    return default if v is None else v


def _channel_unit(info) -> str:
    try:
        desc = info["desc"][0]
        ch = desc["channels"][0]["channel"][0]
        return _first(ch, "unit")
    except (KeyError, IndexError, TypeError):
        return ""


class XdfReader(Reader):
    """An XDF file; one reader per participant (choose the participant's streams by type)."""

    def __init__(self, path, role: str, options=None):
        import pyxdf

        self.path = os.fspath(path)
        opts = dict(options or {})
        with open(self.path, "rb") as fh:
            if fh.read(4) != XDF_MAGIC:
                raise InputError("not an XDF file", path=self.path, field="magic", expected="'XDF:' magic bytes")
        want = None
        if "type" in opts:
            want = {t.strip().lower() for t in opts["type"].split(",")}
            bad = want - set(TYPES)
            if bad:
                raise InputError(f"unknown stream type(s) {sorted(bad)}", path=self.path, field="type",
                                 expected="one of " + ", ".join(sorted(TYPES)))
        names = [n.strip() for n in opts["name"].split(",")] if "name" in opts else None
        truncated_at = check_structure(self.path)
        with _PyxdfErrors() as pyxdf_errors:
            try:
                streams, _ = pyxdf.load_xdf(self.path)
            except Exception as e:
                raise InputError(f"not a valid XDF file ({type(e).__name__}: {e})", path=self.path,
                                 expected="an XDF file as LabRecorder writes it") from None
        if pyxdf_errors.messages and truncated_at is None:
            # the chunk structure is sound but a chunk's content is not (pyxdf skipped it)
            raise InputError(f"not a valid XDF file: {pyxdf_errors.messages[0]}", path=self.path,
                             expected="an XDF file as LabRecorder writes it")
        self._data = []
        found, empty = [], []
        for s in streams:
            info = s.get("info", {})
            typ = str(_first(info, "type")).strip().lower()
            found.append(f"{typ}:{_first(info, 'name')}")
            sname = str(_first(info, "name"))
            if typ not in TYPES or (want is not None and typ not in want):
                continue
            if names is not None and not any(n in sname for n in names):
                continue  # a dyadic recording: the other person's streams
            ts = np.asarray(s.get("time_stamps", []), dtype=float)
            if len(ts) == 0:
                empty.append(typ)
                continue
            self._data.append((s, TYPES[typ], ts))
        if not self._data and truncated_at is not None:
            raise InputError(f"XDF file cut short at byte {truncated_at}, before any samples of the chosen streams",
                             path=self.path, expected="a complete XDF file")
        if not self._data and empty:
            raise InputError(f"stream(s) of type {sorted(set(empty))} have no samples (truncated file?)",
                             path=self.path, expected="samples in the chosen streams")
        if not self._data:
            raise InputError(f"no stream of the chosen type(s)/name(s) (file has: {sorted(set(found))})",
                             path=self.path, field="type", expected=", ".join(sorted(want or TYPES)))
        if truncated_at is not None:
            log.warning("%s: XDF file cut short at byte %d (a recording that did not end cleanly?); "
                        "reading the complete chunks before it", self.path, truncated_at)
        self.origin = min(float(ts[0]) for _, _, ts in self._data)
        self.streams = []
        self._specs = []
        name = os.path.basename(self.path)
        kinds_seen: dict[StreamKind, int] = {}
        for s, kind, ts in self._data:
            info = s["info"]
            sname = str(_first(info, "name"))
            srate = float(_first(info, "nominal_srate", "0") or 0)
            nch = int(_first(info, "channel_count", "1") or 1)
            kinds_seen[kind] = kinds_seen.get(kind, 0) + 1
            if kinds_seen[kind] > 1:
                raise InputError(f"two {kind.value} streams", path=self.path, field="type",
                                 expected="one stream per type per reader (use ?type= and one SPEC per person)")
            regular = srate > 0 and kind not in (StreamKind.MARKER, StreamKind.RR)
            rate = check_rate(srate, self.path, sname) if regular else None
            channels = ("x", "y", "z") if kind == StreamKind.ACC and nch == 3 else ()
            scale, note = unit_scale(kind, _channel_unit(info) or _default_unit(kind), self.path, sname)
            st = StreamInfo(role, kind, rate, channels, f"{name}:{sname}{note} (LSL clock)")
            self.streams.append(st)
            self._specs.append((st, s, ts, scale, nch))

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: the participant's streams, merged (see :meth:`.Reader.chunks`)."""
        return merge_chunks(self._one(*spec) for spec in self._specs)

    def _one(self, st, s, ts, scale, nch) -> Iterator[Chunk]:
        t = ts - self.origin
        if st.kind == StreamKind.MARKER:
            t, vals = _merge_same_time(t, [str(v[0]) if len(v) else "" for v in s["time_series"]])
            em = IrregularEmitter(st, self.path, st.label, gap_s=float("inf"))
            yield from _by_time(em, t, vals)
            return
        x = np.asarray(s["time_series"], dtype=float)
        if not np.isfinite(x).all():
            i = int(np.argmax(~np.isfinite(x).all(axis=-1) if x.ndim > 1 else ~np.isfinite(x)))
            raise InputError("non-finite sample", path=self.path, line=i + 1, field=st.label, expected="finite values")
        x = x * scale
        if not st.channels:
            x = x[:, 0] if x.ndim == 2 else x
        if st.rate is None:
            yield from _by_time(IrregularEmitter(st, self.path, st.label), t, x)
        else:
            yield from RegularEmitter(st, self.path, st.label).push(t, x)

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """The values of the file's marker streams as ``(t, None, text)`` (s from the file's origin)."""
        out = []
        for st, s, ts, _, _ in self._specs:
            if st.kind == StreamKind.MARKER:
                for tt, v in zip(ts - self.origin, s["time_series"]):
                    out.append((float(tt), None, str(v[0]) if len(v) else ""))
        return out


def _merge_same_time(t, labels):
    """Markers sent at the same instant become one event (chunk times are strictly increasing)."""
    order = np.argsort(t, kind="stable")
    out_t, out_v = [], []
    for i in order:
        if out_t and t[i] == out_t[-1]:
            out_v[-1] += " | " + labels[i]
        else:
            out_t.append(float(t[i]))
            out_v.append(labels[i])
    return np.array(out_t), np.array(out_v, dtype=object)


def _by_time(em, t, vals):
    step = 256
    for a in range(0, len(t), step):
        yield from em.push(t[a:a + step], vals[a:a + step])


def _default_unit(kind: StreamKind) -> str:
    return {StreamKind.ECG: "uV", StreamKind.EDA: "uS"}.get(kind, "")
