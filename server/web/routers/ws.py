"""The live websocket of a session: ``/api/sessions/{id}/ws?since=N``.

Authentication: subprotocol ``token.<token>`` (offered with ``coregulate``), bearer header or
``?token=``. Frames are described in :mod:`coregulate.server.web.hub`. The client may send
``{"type": "ping"}``; anything else is ignored. Close codes: 4401 bad token, 4404 unknown
session, 4429 too slow (reconnect with ``since``), 1000 session ended.

``?batch=1`` (the dashboard sends it): every message is a JSON array of frames, in order, holding
what was queued for the viewer when the socket was free (at most
:data:`~coregulate.server.web.frame_batching.ENVELOPE_MAX_FRAMES` frames); without it, one frame
per message. The frames are the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ..auth import WS_CLOSE_UNAUTHORIZED, websocket_role
from ..frame_batching import envelopes
from ..hub import CLOSE_TOO_SLOW

router = APIRouter()

CLOSE_NOT_FOUND = 4404


@router.websocket("/api/sessions/{session_id}/ws")
async def session_ws(ws: WebSocket, session_id: str) -> None:
    role, echo = websocket_role(ws)
    if role is None:
        await ws.close(code=WS_CLOSE_UNAUTHORIZED, reason="missing or invalid token")
        return
    m = ws.app.state.manager
    s = m.get_live(session_id)
    since_raw = ws.query_params.get("since")
    try:
        since = None if since_raw in (None, "") else int(since_raw)
    except ValueError:
        since = -1
    if s is None or (since is not None and since < 0):
        await ws.close(code=CLOSE_NOT_FOUND, reason="no live session with this id (use REST for recordings)"
                       if s is None else "since must be a non-negative integer")
        return
    await ws.accept(subprotocol=echo)
    hub = s.hub
    batched = ws.query_params.get("batch") in ("1", "true")
    viewer = hub.subscribe(since, hello={"role": role, "status": s.status})

    async def sender() -> int:
        while True:
            batch = await viewer.next_batch()
            if not batch:
                if viewer.overflowed:
                    await asyncio.sleep(3600)  # too_slow() reports it
                    return CLOSE_TOO_SLOW
                return 1000
            ends = [i for i, f in enumerate(batch) if f.type == "end"]
            if ends:  # nothing follows the end frame
                batch = batch[: ends[0] + 1]
            if batched:
                # one send per group of frames: each send costs the loop a system call and a
                # wait for the GIL, whatever the frame's size
                for start, stop, text in envelopes([f.text for f in batch]):
                    await ws.send_text(text)
                    for f in batch[start:stop]:
                        hub.record_sent(f, viewer)
            else:
                for f in batch:
                    await ws.send_text(f.text)
                    hub.record_sent(f, viewer)
            if ends:
                return 1000

    async def receiver() -> int:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return -1
            if msg.get("text") and '"ping"' in msg["text"]:
                viewer.push(hub.control("pong", {}))

    async def too_slow() -> int:
        # The sender may be parked in send() on a socket the client does not read: the viewer
        # is cut here, whatever the sender is doing.
        await viewer.overflow.wait()
        hub.disconnected_slow += 1
        return CLOSE_TOO_SLOW

    send_task = asyncio.create_task(sender())
    recv_task = asyncio.create_task(receiver())
    slow_task = asyncio.create_task(too_slow())
    try:
        done, pending = await asyncio.wait({send_task, recv_task, slow_task}, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await t
        code = None
        for t in (slow_task, send_task):
            if t in done and not t.cancelled() and t.exception() is None:
                code = t.result()
                break
        if code is not None:
            reason = "too slow: reconnect with ?since=<last seq>" if code == CLOSE_TOO_SLOW else "session ended"
            # a client that reads nothing never drains the socket: do not wait on it for ever
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=code, reason=reason), 5)
    finally:
        hub.unsubscribe(viewer)
