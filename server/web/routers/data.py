"""Recorded data of a session (live or finished) in time ranges: the replay view's source."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from ....models.columns import DYAD_COLUMNS, FEATURE_COLUMNS
from ..auth import require_viewer
from ..schemas import EventsOut, Rows, WaveformOut, WithdrawnEventsOut
from ..sessions import SessionError
from .deps import http_error, manager, plain, read_store

router = APIRouter(prefix="/api/sessions/{session_id}", tags=["data"], dependencies=[Depends(require_viewer)])

MAX_ROWS = 200_000


def _range(t_from: float | None, t_to: float | None) -> None:
    if t_from is not None and t_to is not None and t_to < t_from:
        raise HTTPException(422, "t_to is before t_from")


@router.get("/participants", response_model=list[str], summary="Participants (roles) of the session")
def participants(session_id: str, request: Request) -> list[str]:
    try:
        return list(manager(request).describe(session_id)["participants"])
    except SessionError as exc:
        raise http_error(exc) from None


@router.get("/features", response_model=Rows, summary="Per-second features of each participant")
def features(session_id: str, request: Request, t_from: float | None = Query(None, ge=0),
             t_to: float | None = Query(None, ge=0), participant: str | None = Query(None, max_length=64)) -> dict:
    _range(t_from, t_to)
    rows = read_store(request, session_id, lambda st: st.features(t_from=t_from, t_to=t_to, participant=participant))
    return {"columns": list(FEATURE_COLUMNS), "rows": [plain(r) for r in rows[:MAX_ROWS]]}


@router.get("/dyad", response_model=Rows, summary="Per-second dyad rows (synchrony, leader, zones)")
def dyad(session_id: str, request: Request, t_from: float | None = Query(None, ge=0),
         t_to: float | None = Query(None, ge=0)) -> dict:
    _range(t_from, t_to)
    rows = read_store(request, session_id, lambda st: st.dyad(t_from=t_from, t_to=t_to))
    return {"columns": list(DYAD_COLUMNS), "rows": [plain(r) for r in rows[:MAX_ROWS]]}


@router.get("/events", response_model=EventsOut, summary="Detected events (candidates for review)")
def events(session_id: str, request: Request, t_from: float | None = Query(None, ge=0),
           t_to: float | None = Query(None, ge=0)) -> dict:
    _range(t_from, t_to)
    return {"events": read_store(request, session_id, lambda st: [plain(e) for e in st.events(t_from=t_from, t_to=t_to)])}


@router.get("/withdrawn-events", response_model=WithdrawnEventsOut,
            summary="Provisional events of the live session that the final data withdrew (audit record)")
def withdrawn_events(session_id: str, request: Request) -> dict:
    return {"withdrawn_events": read_store(request, session_id, lambda st: [plain(e) for e in st.withdrawn_events()])}


@router.get("/waveform", response_model=WaveformOut, summary="Decimated raw samples of one stream")
def waveform(session_id: str, request: Request, stream: str = Query(..., max_length=64, description="e.g. client/ecg"),
             t_from: float = Query(0.0, ge=0), t_to: float = Query(..., ge=0),
             max_points: int = Query(2000, ge=10, le=20000)) -> dict:
    _range(t_from, t_to)
    if t_to - t_from > 3600:
        raise HTTPException(422, "waveform ranges are limited to one hour")

    def get(st):
        keys = {s["key"] if isinstance(s, dict) else s.key for s in st.info()["streams"]}
        if stream not in keys:
            raise HTTPException(404, f"no stream {stream!r} in this session (streams: {', '.join(sorted(keys))})")
        return st.waveform(stream, t_from, t_to, max_points)

    w = read_store(request, session_id, get)
    if isinstance(w, dict):
        t, v = w.get("t", []), w.get("v", w.get("values", []))
    else:
        t, v = w
    return {"stream": stream, "t": [float(x) for x in t], "v": [None if x is None else float(x) for x in v]}
