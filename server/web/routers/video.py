"""The session video for the replay view: served from where it was analysed, never copied.

A ``<video>`` element cannot send an ``Authorization`` header, so the video is fetched in two steps:

1. ``GET /api/sessions/{id}/video`` (bearer token, as every API route) says, for each of the
   session's videos (one camera for both people, or one file per person: ``videos``, each with the
   ``roles`` it shows), whether the file is still there and unchanged (size, then SHA-256 once per
   file version), its recorded offset and regions, and gives a **signed URL** valid for
   :data:`URL_TTL_S` seconds: ``…/video/stream?i=N&exp=UNIX&sig=HMAC``. The signature is
   HMAC-SHA256 over (session id, video index, expiry, role) with a key drawn at server start (never
   stored, so a restart revokes every URL); it grants this one video and nothing else.
2. ``GET|HEAD /api/sessions/{id}/video/stream?i=&exp=&sig=`` streams the file with HTTP range
   requests (206 partial content; seeking reads only the bytes it needs). A wrong, altered or
   expired link is 401, like a missing token; a bearer header is accepted too.

Viewers see the video only when the server was started with ``viewers_see_video`` (``coregulate
serve --viewers-see-video``); by default it is the supervisor's alone (a viewer's page is told
"not shared with viewers" and shows the traces only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import time
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse

from ..auth import SUPERVISOR, current_role
from .deps import read_store

router = APIRouter(prefix="/api/sessions/{session_id}/video", tags=["video"])

#: Lifetime of a signed video URL; the page asks for a new one when it runs out.
URL_TTL_S = 600
MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
               ".mkv": "video/x-matroska", ".avi": "video/x-msvideo"}


def _key(request: Request) -> bytes:
    state = request.app.state
    if getattr(state, "video_url_key", None) is None:
        state.video_url_key = secrets.token_bytes(32)
    return state.video_url_key


def _sign(request: Request, session_id: str, index: int, exp: int, role: str) -> str:
    msg = f"{session_id}\n{index}\n{exp}\n{role}".encode()
    return hmac.new(_key(request), msg, hashlib.sha256).hexdigest()


def _may_see(request: Request, role: str) -> bool:
    return role == SUPERVISOR or bool(getattr(request.app.state.settings, "viewers_see_video", False))


def _references(request: Request, session_id: str) -> list[dict[str, Any]]:
    """The session's video references, in the order of its sources (one camera for both people,
    or one file per person)."""
    def get(st):
        raw = (getattr(st, "meta", None) or {}).get("video")
        refs = json.loads(raw) if isinstance(raw, str) else raw
        return list(refs or [])

    return read_store(request, session_id, get)


def _reference(request: Request, session_id: str, index: int) -> dict[str, Any]:
    refs = _references(request, session_id)
    if not refs:
        raise HTTPException(404, "this session has no video")
    if index >= len(refs):
        raise HTTPException(404, f"this session has {len(refs)} video(s); there is no video {index}")
    return refs[index]


@lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 once per file version (GB files take seconds); a bounded cache."""
    from ....sensors.readers.video import file_sha256

    return file_sha256(path)


def _check_file(ref: dict[str, Any]) -> str | None:
    """``None`` if the file at the recorded path is the recorded video, else why not."""
    path = ref.get("path", "")
    name = os.path.basename(path)
    try:
        st = os.stat(path)
    except OSError:
        return f"the video {name} is no longer where it was analysed (moved or deleted)"
    if st.st_size != ref.get("size"):
        return f"the file at the place of {name} is not the analysed video (size differs)"
    if _file_sha256(path, st.st_size, st.st_mtime_ns) != ref.get("sha256"):
        return f"the file at the place of {name} is not the analysed video (content differs)"
    return None


def _entry(request: Request, session_id: str, index: int, ref: dict[str, Any], role: str) -> dict[str, Any]:
    """What the page needs about one video: whose it is, alignment, and a signed URL (or why not)."""
    regions = ref.get("regions", {})
    base = {"index": index, "roles": list(regions), "offset_s": float(ref.get("offset_s") or 0.0),
            "regions": regions, "name": os.path.basename(ref.get("path", "")), "sha256": ref.get("sha256"),
            "duration_s": ref.get("duration_s")}
    problem = _check_file(ref)
    if problem:
        return {"available": False, "reason": problem, **base}
    exp = int(time.time()) + URL_TTL_S
    url = (f"/api/sessions/{session_id}/video/stream?i={index}&exp={exp}&role={role}"
           f"&sig={_sign(request, session_id, index, exp, role)}")
    return {"available": True, "url": url, "expires": exp, **base}


@router.get("", summary="The session's videos: availability, offset, regions and a signed stream URL each")
def video_info(session_id: str, request: Request, role: str = Depends(current_role)) -> dict[str, Any]:
    """The first video's entry at the top level (a one-camera session has one), and every video's in
    ``videos`` (one file per person: each person's own, ``roles`` says whose)."""
    if not _may_see(request, role):
        # not an error for the page: it shows the traces and says why there is no picture
        return {"available": False, "reason": "the session video is not shared with viewers"}
    refs = _references(request, session_id)
    if not refs:
        return {"available": False, "reason": "this session has no video"}
    entries = [_entry(request, session_id, i, ref, role) for i, ref in enumerate(refs)]
    return {**entries[0], "videos": entries}


@router.get("/stream", summary="A video file, with HTTP range requests (signed URL)")
@router.head("/stream", summary="A video file's size and type (signed URL)", operation_id="video_stream_head")
def video_stream(session_id: str, request: Request, i: int = Query(0, ge=0, le=1000), exp: int | None = Query(None),
                 role: str | None = Query(None, max_length=16), sig: str | None = Query(None, max_length=128)) -> FileResponse:
    if sig is None:
        role = current_role(request)  # a bearer header (scripts) works as on every route
    elif exp is None or role is None or exp < time.time() or not hmac.compare_digest(
            sig.encode(), _sign(request, session_id, i, exp, role).encode()):
        raise HTTPException(401, "invalid or expired video link", headers={"WWW-Authenticate": "Bearer"})
    ref = _reference(request, session_id, i)
    if not _may_see(request, role):
        raise HTTPException(403, "the session video is not shared with viewers")
    problem = _check_file(ref)
    if problem:
        raise HTTPException(404, problem)
    path = ref["path"]
    media = MEDIA_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, no-store"})


@lru_cache(maxsize=16)
def _soundtrack_envelope(path: str, size: int, mtime_ns: int) -> tuple[Any, str | None]:
    """(per-second level of the soundtrack or None without one, the reason it cannot be read):
    decoded once per file version, a bounded cache (a decoding failure is remembered too)."""
    from ....sensors.errors import InputError
    from ....sensors.readers.video import audio_envelope_db

    try:
        return audio_envelope_db(path), None
    except InputError as exc:
        return None, str(exc)


@router.get("/offset", summary="The video's offset found from sound (its soundtrack vs the recorded loudness)")
def video_offset(session_id: str, request: Request, role: str = Depends(current_role),
                 i: int = Query(0, ge=0, le=1000)) -> dict[str, Any]:
    """Cross-correlates the per-second level of video ``i``'s soundtrack with the session's
    ``loudness_db`` (both people's, power-summed) and returns the best offset, its r, the runner-up
    r and the overlap (:func:`coregulate.models.alignment.envelope_offset`). The soundtrack is
    decoded once per file version (bounded cache)."""
    import numpy as np

    from ....models.alignment import envelope_offset, power_sum_db

    if not _may_see(request, role):
        return {"found": False, "reason": "the session video is not shared with viewers"}
    refs = _references(request, session_id)
    if not refs:
        return {"found": False, "reason": "this session has no video"}
    ref = _reference(request, session_id, i)
    problem = _check_file(ref)
    if problem:
        return {"found": False, "reason": problem}
    st = os.stat(ref["path"])
    video_env, failure = _soundtrack_envelope(ref["path"], st.st_size, st.st_mtime_ns)
    if failure:
        return {"found": False, "reason": failure}
    if video_env is None:
        return {"found": False, "reason": "the video has no soundtrack"}
    rows = read_store(request, session_id, lambda s: s.features())
    people = sorted({r["participant"] for r in rows})
    n = max((int(r["t_s"]) for r in rows), default=0)
    levels = np.full((n, max(len(people), 1)), np.nan)
    for r in rows:
        if r.get("loudness_db") is not None:
            levels[int(r["t_s"]) - 1, people.index(r["participant"])] = r["loudness_db"]  # t_s ends second t_s - 1
    if not np.isfinite(levels).any():
        return {"found": False, "reason": "the session has no recorded loudness (no microphone input)"}
    found = envelope_offset(power_sum_db(levels), video_env)
    if found is None:
        return {"found": False, "reason": "too little speech in common to align (under 60 s)"}
    return {"found": True, "offset_s": round(found.offset_s, 2), "r": round(found.r, 3),
            "runner_up_r": round(found.runner_up_r, 3) if math.isfinite(found.runner_up_r) else None, "overlap_s": found.overlap_s}
