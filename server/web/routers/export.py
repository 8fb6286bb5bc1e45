"""Export downloads: a finished session as a zip of CSV, EDF+ or RR files."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from ..auth import require_viewer
from ..sessions import SessionError
from .deps import http_error, manager

router = APIRouter(prefix="/api/sessions/{session_id}", tags=["export"], dependencies=[Depends(require_viewer)])


def _build_zip(store_path: Path, fmt: str, session_id: str) -> tuple[Path, Path]:
    from ...offline.export import export_session

    work = Path(tempfile.mkdtemp(prefix="coregulate-export-"))
    out_dir = work / f"{session_id}-{fmt}"
    out_dir.mkdir()
    export_session(store_path, fmt, out_dir)
    zpath = work / f"{session_id}-{fmt}.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(out_dir.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(work))
    return zpath, work


@router.get("/export", summary="Download the session as a zip (csv | edf | rr)",
            responses={200: {"content": {"application/zip": {}}}})
async def export(session_id: str, request: Request, background: BackgroundTasks,
                 fmt: Literal["csv", "edf", "rr"] = "csv") -> FileResponse:
    m = manager(request)
    s = m.get_live(session_id)
    if s is not None and s.active:
        raise HTTPException(409, "the session is still running; export it when it has finished")
    try:
        path = m.path_of(session_id)
    except SessionError as exc:
        raise http_error(exc) from None
    if not path.exists():
        raise HTTPException(404, f"no session {session_id}")
    try:
        zpath, work = await run_in_threadpool(_build_zip, path, fmt, session_id)
    except Exception as exc:  # InputError etc.: say what went wrong, not a traceback
        raise HTTPException(422, f"export failed: {exc}") from None
    background.add_task(shutil.rmtree, work, ignore_errors=True)
    return FileResponse(zpath, media_type="application/zip", filename=zpath.name)
