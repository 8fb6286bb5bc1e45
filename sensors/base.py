"""Source and reader contracts.

A :class:`Reader` is a synchronous, streaming file parser (one or more streams of one
participant, on the file's own clock). A :class:`Source` is an async iterator of chunks on the
session clock: replay (readers + pacing), the simulator and live adapters (BLE, microphone,
LSL) are all sources, so the pipeline cannot tell them apart (the BrainFlow idea).
"""

from __future__ import annotations

import abc
from typing import AsyncIterator, Callable, Iterator

from .chunk import Chunk, StreamInfo


class Reader(abc.ABC):
    """A recorded file (or export folder) read in chunks, never loaded whole.

    Subclasses set :attr:`streams` in ``__init__`` after validating the header, so that a wrong
    file fails before any session starts. :meth:`chunks` yields chunks of all streams in
    non-decreasing ``start`` order, in *stream time*: seconds since ``StreamInfo.utc_start``
    when that is known, else since the start of the file.
    """

    #: Streams in this file, with participant set from the SPEC's role.
    streams: list[StreamInfo]
    #: Path shown in error messages.
    path: str

    @abc.abstractmethod
    def chunks(self) -> Iterator[Chunk]:
        """Yield the file's chunks; raise :class:`~coregulate.sensors.errors.InputError` on bad data."""

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """File annotations as ``(t_start, t_end or None, text)`` in stream time (EDF+, E4 tags)."""
        return []


class Source(abc.ABC):
    """An async iterator of :class:`Chunk` on the session clock."""

    #: All streams this source will produce, known before the first chunk.
    streams: list[StreamInfo]
    #: Absolute UTC time (Unix seconds) of session time 0, when known.
    utc0: float | None = None
    #: The session clock ``now()`` (seconds) of a live source; None for recorded data, whose
    #: time comes from the data alone.
    clock: Callable[[], float] | None = None

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Chunk]:
        ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release devices or files; called once when the session stops."""

    def request_stop(self) -> bool:
        """Stop acquiring, but hand over what was already received.

        Returns True when the source will now end its iteration by itself once it has yielded
        everything it holds (a live inlet's buffer, a queue of notifications): the session
        runner keeps reading it until then, so a stop loses nothing that reached this machine.
        The default, False, suits recorded files and the simulator: nothing is lost by stopping
        them at once.
        """
        return False

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """Annotations known up front (from files), on the session clock."""
        return []
