"""Parse the ``ROLE=[FORMAT:]PATH[?key=value&...]`` SPEC strings that name recorded inputs.

Examples::

    client=rec.csv
    client=csv:rec.csv?time=time_ns:ns&ecg=ecg_mV:mV&rr=rr_ms:ms
    therapist=edf:C:\\data\\t.edf?ecg=ECG I&eda=GSR
    client=wav:both.wav?channel=0
    video:session.mp4?client=0,0,0.5,1&therapist=0.5,0,1,1   (one camera, both people)
    mea:200_01.txt                                          (motion energy of both people)

The format prefix is only taken as a format when it is a known format name, so a Windows drive
letter (``C:\\x.csv``) or a path containing ``:`` stays a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from .errors import InputError

#: Format names accepted as the ``FORMAT:`` prefix (see :mod:`coregulate.sensors.readers`).
KNOWN_FORMATS = (
    "polar",
    "rr",
    "hrvlogger",
    "csv",
    "edf",
    "wfdb",
    "xdf",
    "wav",
    "flac",
    "audio",
    "e4",
    "mea",
    "video",
)

SPEC_SYNTAX = "ROLE=[FORMAT:]PATH[?key=value&key=value...]"
#: Formats whose SPEC may name no role (``video:PATH``, ``mea:PATH``): the file holds the dyad.
DYAD_FORMATS = ("video:", "mea:")

_ROLE = re.compile(r"[a-z][a-z0-9_]*\Z")
_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")
_PREFIX = re.compile(r"([a-z0-9]+):(.*)\Z", re.S)


@dataclass(frozen=True)
class Spec:
    """One recorded input: whose it is, where it is, how to read it.

    Parameters
    ----------
    role : str
        Participant role (lowercase identifier: ``client``, ``therapist``, ...).
    path : str
        File, folder (Empatica E4 export) or WFDB record path.
    fmt : str or None
        Explicit format, or ``None`` to detect it from the content.
    options : Mapping[str, str]
        Reader options from the ``?key=value&...`` part (read-only).
    """

    role: str
    path: str
    fmt: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __hash__(self) -> int:
        return hash((self.role, self.path, self.fmt, tuple(sorted(self.options.items()))))


def _bad(text: str, why: str) -> InputError:
    return InputError(f"bad SPEC {text!r}: {why}", field="SPEC", expected=SPEC_SYNTAX)


def parse_spec(text: str) -> Spec:
    """Parse one SPEC string; raise :class:`InputError` naming it and the expected syntax."""
    if not isinstance(text, str):
        raise _bad(repr(text), "not a string")
    if text.startswith(DYAD_FORMATS):
        # one file for the whole dyad (a camera filming both, a two-column motion-energy file):
        # no ROLE=, the options name each role's region or column
        return replace(parse_spec("dyad=" + text), text=text)
    role, eq, rest = text.partition("=")
    role = role.strip()
    if not eq:
        raise _bad(text, "missing '=' between ROLE and PATH")
    if not _ROLE.match(role):
        raise _bad(text, f"role {role!r} is not a lowercase identifier (e.g. client, therapist)")
    # Windows paths cannot contain '?', so the first '?' starts the options.
    body, q, opts_text = rest.partition("?")
    fmt = None
    m = _PREFIX.match(body)
    if m and m.group(1) in KNOWN_FORMATS:
        fmt, body = m.group(1), m.group(2)
    path = body.strip()
    if not path:
        raise _bad(text, "empty PATH")
    options: dict[str, str] = {}
    if q:
        if not opts_text:
            raise _bad(text, "empty option list after '?'")
        for item in opts_text.split("&"):
            key, eq2, value = item.partition("=")
            key = key.strip()
            if not eq2 or not _KEY.match(key):
                raise _bad(text, f"option {item!r} is not key=value with a lowercase key")
            if not value.strip():
                raise _bad(text, f"option {key!r} has an empty value")
            if key in options:
                raise _bad(text, f"option {key!r} given twice")
            options[key] = value.strip()
    return Spec(role=role, path=path, fmt=fmt, options=options, text=text)


def known_formats_text() -> str:
    """``"csv, e4, edf, ..."``: the format names a SPEC accepts, for error messages and help."""
    return ", ".join(sorted(KNOWN_FORMATS))


def unknown_format(spec: Spec) -> str | None:
    """The FORMAT of ``ROLE=FORMAT:PATH`` when it names no known format, else ``None``.

    ``client=foo:file.csv`` -> ``"foo"``. A one-letter prefix is a Windows drive (``c:\\x.csv``)
    and a path containing ``:`` that exists is a path, so neither is taken for a format.
    """
    if spec.fmt is not None:
        return None
    m = _PREFIX.match(spec.path)
    if not m or len(m.group(1)) == 1 or os.path.exists(spec.path):
        return None
    return m.group(1)
