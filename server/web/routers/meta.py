"""Who am I, what sources exist, and the OpenAPI schema (behind the token like everything else)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..auth import require_viewer
from ..schemas import Role, SourceKind

router = APIRouter(prefix="/api", tags=["meta"], dependencies=[Depends(require_viewer)])

SOURCE_KINDS = [
    SourceKind(kind="simulator", description="deterministic simulated dyad (client and therapist) with known ground truth",
               parameters={"seed": "int", "duration_s": "seconds (default 1200)", "audio": "bool"}),
    SourceKind(kind="files", description="recorded files replayed on the session clock",
               parameters={"specs": "list of ROLE=[FORMAT:]PATH[?key=value...] strings (paths on the server)"}),
]


@router.get("/whoami", response_model=Role, summary="The role of the presented token")
def whoami(role: str = Depends(require_viewer)) -> dict:
    return {"role": role}


@router.get("/sources", response_model=list[SourceKind], summary="Kinds of session sources")
def sources() -> list[SourceKind]:
    return SOURCE_KINDS


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
