"""Recorded-file readers and format detection.

``open_reader(parse_spec("client=rec.csv?..."))`` picks the reader from the SPEC's format, or
from the content (magic bytes, header line, folder layout), falling back to the extension.
Every reader validates its header in ``__init__``, so a wrong file fails before a session starts.
"""

from __future__ import annotations

import os
from typing import Iterable

from ..base import Reader
from ..errors import InputError, MissingInputError
from ..spec import KNOWN_FORMATS, Spec, known_formats_text, unknown_format

__all__ = ["open_reader", "open_readers", "detect_format", "FORMATS"]

#: Format name -> (module, class name); imported lazily (pyedflib, wfdb, pyxdf are heavy).
FORMATS = {
    "polar": ("polar", "PolarReader"),
    "rr": ("rrtext", "RRTextReader"),
    "hrvlogger": ("rrtext", "HRVLoggerReader"),
    "csv": ("csvmap", "CsvReader"),
    "edf": ("edf", "EdfReader"),
    "wfdb": ("wfdb_reader", "WfdbReader"),
    "xdf": ("xdf", "XdfReader"),
    "wav": ("audio", "AudioReader"),
    "flac": ("audio", "AudioReader"),
    "audio": ("audio", "AudioReader"),
    "e4": ("e4", "E4Reader"),
    "mea": ("motion_energy", "MotionEnergyReader"),
    "video": ("video", "VideoReader"),
}
assert set(FORMATS) == set(KNOWN_FORMATS)

#: Options each format understands (csv checks its own: the mapping keys are open-ended).
OPTIONS = {
    "polar": ("channel", "max_ppi_error_ms", "delay_s"), "rr": ("unit",), "hrvlogger": (), "edf": ("ecg", "eda", "ppg", "resp", "hr", "temp"),
    "wfdb": ("eda",), "xdf": ("type", "name"), "wav": ("channel",), "flac": ("channel",), "audio": ("channel",),
    "e4": (),
}

EXTENSIONS = {
    ".edf": "edf", ".bdf": "edf", ".rec": "edf", ".hea": "wfdb", ".dat": "wfdb", ".xdf": "xdf",
    ".xdfz": "xdf", ".wav": "wav", ".flac": "flac", ".ogg": "audio", ".csv": "csv", ".tsv": "csv",
    ".txt": "rr", ".mp4": "video", ".m4v": "video", ".mov": "video", ".mkv": "video", ".webm": "video",
    ".avi": "video",
}


def detect_format(path) -> str:
    """Name of the format of ``path`` (see :data:`FORMATS`), from its content first."""
    from .e4 import is_e4_folder
    from .motion_energy import looks_like_motion_energy
    from .polar import polar_kind
    from .rrtext import HRVLOGGER_HEADER, looks_like_rr_text
    from .video import looks_like_video
    from .wfdb_reader import record_base

    p = os.fspath(path)
    if os.path.isdir(p):
        if is_e4_folder(p):
            return "e4"
        raise InputError("folder is not an Empatica E4 export", path=p,
                         expected="a folder with BVP.csv, EDA.csv, HR.csv, ACC.csv, TEMP.csv or IBI.csv")
    if not os.path.exists(p):
        if os.path.isfile(record_base(p) + ".hea") or os.path.isfile(p + ".hea"):
            return "wfdb"
        raise MissingInputError("no such file or folder", path=p)
    if p.endswith((".hea", ".dat")) and os.path.isfile(record_base(p) + ".hea"):
        return "wfdb"
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise MissingInputError(f"cannot open ({e.strerror})", path=p) from None
    if not head:
        raise InputError("empty file", path=p, line=1, expected="a recording")
    if looks_like_video(head):
        return "video"
    if head.startswith(b"XDF:"):
        return "xdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "audio"
    if len(head) >= 256 and head[:8] in (b"0       ", b"\xffBIOSEMI"):
        return "edf"
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        lines = text.splitlines()
        if len(head) == 4096 and lines:
            lines = lines[:-1] or lines  # the last line may be cut by the 4 KiB read
        first = lines[0] if lines else ""
        if polar_kind(first):
            return "polar"
        if first.replace(" ", "").lower().startswith(HRVLOGGER_HEADER.replace(" ", "")):
            return "hrvlogger"
        if looks_like_motion_energy(lines[:50]):
            return "mea"
        if looks_like_rr_text(lines[:50]):
            return "rr"
        if any(sep in first for sep in (",", ";", "\t")):
            return "csv"
    ext = os.path.splitext(p)[1].lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    raise InputError("unknown format", path=p, field="format",
                     expected="one of " + ", ".join(sorted(FORMATS)) + " (or give FORMAT: in the SPEC)")


def open_reader(spec: Spec) -> Reader:
    """Open the reader for one SPEC (header validated now, data read by ``chunks()``)."""
    import importlib

    bad_format = unknown_format(spec)
    if bad_format is not None:
        raise InputError(f"unknown format {bad_format!r} (known: {known_formats_text()})", path=spec.text or spec.path,
                         field="FORMAT")
    fmt = spec.fmt or detect_format(spec.path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", path=spec.path, field="format",
                         expected="one of " + ", ".join(sorted(FORMATS)))
    if fmt != "wfdb" and not os.path.exists(spec.path):
        raise MissingInputError("no such file or folder", path=spec.path)
    if fmt in OPTIONS:
        unknown = sorted(set(spec.options) - set(OPTIONS[fmt]))
        if unknown:
            allowed = ", ".join(OPTIONS[fmt]) or "none"
            raise InputError(
                f"option(s) {unknown} do not apply to {fmt} files", path=spec.path, field="SPEC",
                expected=f"options for {fmt}: {allowed}" + ("" if fmt == "csv" else "; a signal column needs csv:"),
            )
    mod, cls = FORMATS[fmt]
    reader_cls = getattr(importlib.import_module(f".{mod}", __name__), cls)
    return reader_cls(spec.path, spec.role, spec.options)


def open_readers(specs: Iterable[Spec]) -> list[Reader]:
    """Open every SPEC; reject the same file (with the same options) twice, or one role getting
    one stream kind from two SPECs."""
    specs = list(specs)
    seen: dict[tuple, str] = {}
    for s in specs:
        # one file may serve two people only through different selections (stereo channel=0/1,
        # XDF name=client/therapist); the same selection twice is the same data twice
        key = (os.path.realpath(s.path), tuple(sorted(s.options.items())))
        if key in seen:
            raise InputError(
                f"the same file is given twice ({seen[key]!r} and {s.text or s.path!r})", path=s.path, field="SPEC",
                expected="each file once, or different channel/stream options per person",
            )
        seen[key] = s.text or s.path
    readers = [open_reader(s) for s in specs]
    owner: dict[str, str] = {}
    for s, r in zip(specs, readers):
        for st in r.streams:
            if st.key in owner and owner[st.key] != (s.text or s.path):
                raise InputError(
                    f"{st.key} comes from two SPECs ({owner[st.key]!r} and {s.text or s.path!r})", path=s.path,
                    field="SPEC", expected=f"one source of {st.kind.value} per role (choose channels with options)",
                )
            if st.key in owner:
                raise InputError(f"{st.key} appears twice in one file", path=s.path, field="SPEC",
                                 expected="one stream per kind (choose with options)")
            owner[st.key] = s.text or s.path
    return readers
