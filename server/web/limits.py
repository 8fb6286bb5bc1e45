"""Bounds on what a client may make the server read: request body size and file locations.

* :data:`MAX_BODY_BYTES` bounds request bodies, so a large body cannot exhaust memory.
* :func:`document_error_detail` makes the published schema match the error bodies sent.
* :func:`confine_specs` keeps file sources named over the API inside the data directory, so
  that the API cannot be used to read any file the server process happens to be able to read.
"""

from __future__ import annotations

from pathlib import Path

#: The largest request body the API accepts (an annotation is at most a few kB); the app
#: passes it to FastAPI's own limit, which answers 413 by the announced Content-Length and by
#: the bytes actually received.
MAX_BODY_BYTES = 1 << 20


def _spec_path(text: str) -> Path:
    from ...sensors.spec import parse_spec
    from ..session.sources import is_session_spec, is_simulator_spec, session_path

    if is_simulator_spec(text):
        raise ValueError("the simulator is a 'simulator' source, not a file")
    if is_session_spec(text):
        return Path(session_path(text))
    return Path(parse_spec(text).path)


def confine_specs(specs: list[str], root: str | Path) -> None:
    """Raise ``ValueError`` unless every SPEC names a path inside ``root``.

    Paths are resolved as the readers will open them (relative to the working directory,
    following symlinks and ``..``), so neither ``../`` nor a symlink leads out of ``root``.
    """
    base = Path(root).resolve()
    for text in specs:
        if "\x00" in text:
            raise ValueError("a SPEC cannot contain a NUL byte")
        path = _spec_path(text)
        try:
            real = path.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # symlink loops and the like
            raise ValueError(f"cannot resolve {path}: {exc.__class__.__name__}") from None
        if real != base and base not in real.parents:
            raise ValueError(f"{path}: files must lie inside the server's data folder ({base}); "
                             "copy the recording there first")


def document_error_detail(app) -> None:
    """Publish the 422 bodies the handlers really send.

    FastAPI documents 422 as a validation-error list; the handlers also answer 422 with
    ``{"detail": "message"}`` (a source that cannot be opened, ``t_to`` before ``t_from``...).
    The schema says both, so clients generated from it and schema-based tests agree with the
    server.
    """
    build = app.openapi

    def openapi():
        if app.openapi_schema is None:
            schema = build()
            err = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if err and "detail" in err.get("properties", {}):
                detail = err["properties"]["detail"]
                err["properties"]["detail"] = {"title": detail.get("title", "Detail"),
                                               "anyOf": [{"type": "string"}, detail]}
        return app.openapi_schema

    app.openapi = openapi
