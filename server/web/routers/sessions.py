"""Sessions: list, create from a source, start, stop, status."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status
from fastapi.concurrency import run_in_threadpool

from ..auth import require_supervisor, require_viewer
from ....sensors.errors import InputError
from ..limits import confine_specs
from ..schemas import SessionCreate, SessionOut, StatusOut
from ..sessions import SessionError
from .deps import http_error, manager

router = APIRouter(prefix="/api/sessions", tags=["sessions"], dependencies=[Depends(require_viewer)])


@router.get("", response_model=list[SessionOut], summary="Live and recorded sessions, newest first")
async def list_sessions(request: Request) -> list[dict]:
    return await run_in_threadpool(manager(request).list)


@router.post("", response_model=SessionOut, status_code=status.HTTP_201_CREATED,
             dependencies=[Depends(require_supervisor)], summary="Create a session from a source (and start it)")
async def create_session(body: SessionCreate, request: Request) -> dict:
    m = manager(request)
    if body.source.kind == "files" or body.baseline_from:
        # over the API, only recordings the operator put in the data folder can be replayed
        # (`coregulate replay` on the server's own machine names any file it may read)
        try:
            confine_specs([*body.source.specs, *(body.baseline_from or [])], m.data_dir)
        except InputError as exc:  # not a SPEC at all
            raise http_error(SessionError(422, f"cannot open source: {exc}")) from None
        except ValueError as exc:
            raise http_error(SessionError(403, str(exc))) from None
    try:
        # building the source (a Simulator: 0.3 s) and the resting baseline (a recording through the
        # pipeline) would stall every viewer's pushes: off the event loop
        source, config = await run_in_threadpool(m.open_source, body)
        s = m.register(body, source, config)
        if body.start:
            await m.start(s.id)
    except SessionError as exc:
        raise http_error(exc) from None
    return m.describe_live(s)


@router.get("/{session_id}", response_model=SessionOut, summary="One session")
async def get_session(session_id: str, request: Request) -> dict:
    try:
        return await run_in_threadpool(manager(request).describe, session_id)
    except SessionError as exc:
        raise http_error(exc) from None


@router.get("/{session_id}/status", response_model=StatusOut, summary="Session status with push statistics")
async def session_status(session_id: str, request: Request) -> dict:
    m = manager(request)
    try:
        d = await run_in_threadpool(m.describe, session_id)
    except SessionError as exc:
        raise http_error(exc) from None
    s = m.get_live(session_id)
    if s is not None:
        d["hub"] = s.hub.stats()
        d["session_time_s"] = max((st.last_end for st in list(s.sink.streams.values())), default=0.0)
    return d


@router.post("/{session_id}/start", response_model=SessionOut, dependencies=[Depends(require_supervisor)],
             summary="Start a created session")
async def start_session(session_id: str, request: Request) -> dict:
    m = manager(request)
    try:
        s = await m.start(session_id)
    except SessionError as exc:
        raise http_error(exc) from None
    return m.describe_live(s)


@router.post("/{session_id}/stop", response_model=SessionOut, dependencies=[Depends(require_supervisor)],
             summary="Stop a running session (its recording is kept)")
async def stop_session(session_id: str, request: Request) -> dict:
    m = manager(request)
    try:
        s = await m.stop(session_id)
        if not m.exists(session_id):  # created, never started: no recording to describe
            return m.describe_live(s)
        return await run_in_threadpool(m.describe, session_id)
    except SessionError as exc:
        raise http_error(exc) from None
