"""A recorded session file as a reader, so that any session -- live-recorded from straps,
replayed or simulated -- can be replayed and re-analysed through the same pipeline."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Iterator

from ...sensors.base import Reader
from ...sensors.chunk import Chunk, StreamKind
from ...sensors.errors import InputError
from .store import SessionStore


@contextlib.contextmanager
def _damaged_file_is_bad_input(path: str):
    """A damaged session file (bytes flipped, cut short) is bad input, reported in one line.

    SQLite notices damage only where it reads (a page of a table, a record), so every read of
    the file goes through here, not just opening it.
    """
    try:
        yield
    except (sqlite3.DatabaseError, ValueError, KeyError, TypeError, json.JSONDecodeError, zlib.error) as exc:
        raise InputError(f"damaged session file ({type(exc).__name__}: {exc})", path=path,
                         expected="a complete Coregulate session.sqlite") from None


class SessionFileReader(Reader):
    """Reads the raw chunks of a Coregulate session file exactly as they were recorded.

    Derived streams (prosody) are not replayed: they are recomputed from the audio when the
    session kept it, and are absent otherwise.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._store = SessionStore(path)
        with _damaged_file_is_bad_input(self.path):
            utc0 = self._store.utc0
            # stream time = session time of the recording; utc_start = its origin, so the replay
            # is on the same clock as the original
            self.streams = [s.__class__(s.participant, s.kind, s.rate, s.channels, s.label, utc0)
                            for s in self._store.streams() if s.kind is not StreamKind.PROSODY]
            raw = self._store.meta.get("video")
            #: the recorded session's video references: its motion energy is replayed as recorded,
            #: so a re-analysis keeps pointing at the same videos (replay view, offset)
            self.video_references = list(json.loads(raw) if raw else [])
        self._by_key = {s.key: s for s in self.streams}

    def chunks(self) -> Iterator[Chunk]:
        """The recorded chunks, in recorded order, without the derived PROSODY frames (they are recomputed)."""
        with _damaged_file_is_bad_input(self.path):
            for c in self._store.chunks():
                info = self._by_key.get(c.stream.key)
                if info is not None:
                    yield Chunk(info, c.values, t0=c.t0, times=c.times, t_end=c.t_end, gap_before=c.gap_before,
                                meta=c.meta)

    def annotations(self):
        """The annotations that came from the original files (not those added by hand)."""
        with _damaged_file_is_bad_input(self.path):
            return [(a["t_s"], a["t_end"], a["text"]) for a in self._store.annotations() if a["source"] == "file"]
