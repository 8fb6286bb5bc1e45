"""Fewer, larger websocket messages for the live viewers (issue #15, capacity with the provisional tier).

With 40 dyads at x1 the server's one event loop spent its time handing frames to sockets one by
one (a ``send`` per frame and viewer, each giving up and re-taking the GIL that the sessions'
threads hold most of the time), not encoding them (``bench/RESULTS.md``, "Frame cost at 40 dyads").
Two ways to send fewer messages without changing what a viewer learns:

* :func:`coalesce_submissions` merges, in one hand-over from a session's thread, the lossy frames
  that read the same merged as apart (provisional values, a stream's waveform points) and keeps
  only the newest of a snapshot (``sensors``). The more the loop lags, the more it merges; an idle
  server sends each frame as before.
* :func:`envelopes` groups a viewer's queued frames into JSON arrays, for a viewer that asked for
  them with ``?batch=1`` (the dashboard does): one message per group instead of one per frame.
  Each frame's text is the one shared by every viewer, joined as is (no re-encoding).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

#: Lossy frames whose newest one says all an older one said: only the newest is worth sending.
SUPERSEDING = frozenset({"sensors"})
#: Bounds of one envelope: frames, and characters of JSON (a resumed backlog is split up).
ENVELOPE_MAX_FRAMES = 256
ENVELOPE_MAX_CHARS = 256 * 1024


def coalesce_submissions(items: list[tuple]) -> list[tuple]:
    """Merge the lossy frames of one hand-over that say the same together as apart.

    Every ``provisional`` item becomes part of the first one (their value lists, in order); a
    waveform or level item joins the earlier one of its stream unless it starts after a gap (the
    viewer still draws the break); of the ``sensors`` snapshots only the last is kept, in its
    place. A merged frame takes its first item's place and times, so push latency counts from the
    oldest value in it and no value reaches a viewer later than it would have alone. Kept frames
    and every other kind pass through untouched, in order. The dashboard applies a frame's values
    in order and keys waveform points by stream, so it reads a merged frame as it reads its parts.

    Parameters
    ----------
    items : list of tuple
        ``(type, data, clean, t_pub, wall)`` as :meth:`~coregulate.server.web.hub.Hub.submit`
        queued them, in order.

    Returns
    -------
    list of tuple
        The same items, the mergeable ones merged (into new containers: the submitted data are
        not changed).
    """
    if len(items) < 2:
        return items
    last_snapshot = {item[0]: i for i, item in enumerate(items) if item[0] in SUPERSEDING}
    out: list[list[Any]] = []
    group: dict[tuple, int] = {}  # merge key -> index in out
    for i, (type_, data, clean, t_pub, wall) in enumerate(items):
        if type_ in SUPERSEDING and last_snapshot[type_] != i:
            continue
        key: tuple | None = None
        if type_ == "provisional" and isinstance(data, list):
            key = (type_,)
        elif type_ in ("wave", "level") and isinstance(data, dict) and "stream" in data:
            key = (type_, data["stream"])
            if data.get("gap"):
                group.pop(key, None)
        at = group.get(key) if key is not None else None
        if at is None:
            if key is not None:
                group[key] = len(out)
            out.append([type_, data, clean, t_pub, wall])
            continue
        merged = out[at]
        if type_ == "provisional":
            merged[1] = [*merged[1], *data]
        else:
            merged[1] = {**merged[1], "t": [*merged[1]["t"], *data["t"]], "v": [*merged[1]["v"], *data["v"]]}
        merged[2] = merged[2] or clean
    return [tuple(x) for x in out]


def envelopes(texts: Sequence[str], max_frames: int = ENVELOPE_MAX_FRAMES,
              max_chars: int = ENVELOPE_MAX_CHARS) -> Iterator[tuple[int, int, str]]:
    """Group frames' JSON texts, in order, into JSON arrays of bounded size.

    Parameters
    ----------
    texts : sequence of str
        Each frame's JSON object, as encoded once for every viewer.
    max_frames, max_chars : int
        Bounds of one array (a single larger frame still goes out, alone).

    Yields
    ------
    (start, stop, text)
        The frames ``texts[start:stop]`` as one JSON array ``[frame,frame,...]``.
    """
    start, size = 0, 2
    for i, text in enumerate(texts):
        if i > start and (i - start >= max_frames or size + len(text) + 1 > max_chars):
            yield start, i, "[" + ",".join(texts[start:i]) + "]"
            start, size = i, 2
        size += len(text) + 1
    if start < len(texts):
        yield start, len(texts), "[" + ",".join(texts[start:]) + "]"
