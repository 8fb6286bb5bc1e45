"""Annotations: listed by anyone, written by the supervisor.

On a live session writes go through its recorder, in the event loop (one writer per file);
on a finished session through a :class:`SessionStore`, in a worker thread.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from ....sensors.errors import InputError
from ..auth import require_supervisor, require_viewer
from ..schemas import AnnotationIn, AnnotationOut, AnnotationPatch
from ..sessions import SessionEnded, SessionError
from .deps import http_error, manager, plain, read_store

router = APIRouter(prefix="/api/sessions/{session_id}/annotations", tags=["annotations"],
                   dependencies=[Depends(require_viewer)])


async def _in_session(m, live, fn):
    try:
        return await m.call_in_session(live, fn)
    except SessionEnded:
        raise
    except SessionError as exc:
        raise http_error(exc) from None
    except InputError as exc:
        raise http_error(SessionError(422, str(exc))) from None


def _durable(runner: Any) -> None:
    """A person's note is committed at once (not with the next one-second batch), so that it
    survives a crash and readers of the live file see it."""
    if runner is not None and hasattr(runner.recorder, "commit"):
        runner.recorder.commit()


async def _write(request: Request, session_id: str, live: Any, on_runner, on_store) -> tuple[bool, Any]:
    """Write through the live session's own writer or, once the session has ended (also between
    the request and the write), through its finished file. Returns ``(live, result)``."""
    if live is not None:
        try:
            return True, await _in_session(manager(request), live, lambda: on_runner(live.runner))
        except SessionEnded:
            pass
    return False, await run_in_threadpool(read_store, request, session_id, on_store)


def _find(store: Any, ann_id: int) -> dict[str, Any] | None:
    for a in store.annotations():
        a = plain(a)
        if int(a["id"]) == ann_id:
            return a
    return None


@router.get("", response_model=list[AnnotationOut], summary="Annotations in time order")
def list_annotations(session_id: str, request: Request) -> list[dict]:
    return read_store(request, session_id, lambda st: [plain(a) for a in st.annotations()])


@router.post("", response_model=AnnotationOut, status_code=status.HTTP_201_CREATED,
             summary="Add an annotation", dependencies=[Depends(require_supervisor)])
async def add_annotation(session_id: str, body: AnnotationIn, request: Request) -> dict:
    m = manager(request)
    if body.t_end is not None and body.t_end < body.t_s:
        raise HTTPException(422, "t_end is before t_s")
    author = body.author or "supervisor"

    def add_live(runner: Any) -> dict:  # the runner's own writer, in its thread; it tells the viewers
        ann = plain(runner.add_annotation(body.t_s, body.text, author, body.t_end))
        _durable(runner)
        return ann

    was_live, result = await _write(request, session_id, m.running_session(session_id), add_live,
                                    lambda st: st.add_annotation(body.t_s, body.text, author, body.t_end))
    if was_live:
        return result
    ann_id = result
    ann = {"id": int(ann_id), "t_s": body.t_s, "t_end": body.t_end, "text": body.text, "author": author}
    m.publish_annotation(session_id, "add", ann)
    return ann


@router.patch("/{ann_id}", response_model=AnnotationOut, summary="Edit an annotation",
              dependencies=[Depends(require_supervisor)])
async def edit_annotation(session_id: str, ann_id: int, body: AnnotationPatch, request: Request) -> dict:
    m = manager(request)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise HTTPException(422, "nothing to change")
    live = m.running_session(session_id)
    # the live writer commits first, so that the store reads the annotation as it is now
    await _write(request, session_id, live, _durable, lambda st: None)
    current = await run_in_threadpool(read_store, request, session_id, lambda st: _find(st, ann_id))
    if current is None:
        raise HTTPException(404, f"no annotation {ann_id}")
    merged = {**current, **changes}
    if merged.get("t_end") is not None and merged["t_end"] < merged["t_s"]:
        raise HTTPException(422, "t_end is before t_s")
    await _write(request, session_id, live,
                 lambda runner: (runner.recorder.update_annotation(ann_id, **changes), _durable(runner)),
                 lambda st: st.update_annotation(ann_id, **changes))
    m.publish_annotation(session_id, "edit", merged)
    return merged


@router.delete("/{ann_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an annotation",
               dependencies=[Depends(require_supervisor)])
async def delete_annotation(session_id: str, ann_id: int, request: Request) -> Response:
    m = manager(request)
    live = m.running_session(session_id)
    await _write(request, session_id, live, _durable, lambda st: None)
    if await run_in_threadpool(read_store, request, session_id, lambda st: _find(st, ann_id)) is None:
        raise HTTPException(404, f"no annotation {ann_id}")
    await _write(request, session_id, live,
                 lambda runner: (runner.recorder.delete_annotation(ann_id), _durable(runner)),
                 lambda st: st.delete_annotation(ann_id))
    m.publish_annotation(session_id, "delete", {"id": ann_id})
    return Response(status_code=status.HTTP_204_NO_CONTENT)
