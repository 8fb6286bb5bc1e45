"""The supervisor server: REST API, live websockets and the dashboard, in one FastAPI app.

``create_app`` builds the application (used by ``coregulate serve`` / ``coregulate demo`` and by
tests); ``serve`` runs it with uvicorn on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from . import auth
from .limits import MAX_BODY_BYTES, document_error_detail
from .routers import annotations, data, export, meta, sessions, video, ws
from .schemas import SessionCreate, SourceSpec
from .sessions import Backends, SessionManager, start_warm_up

log = logging.getLogger("coregulate.server")

STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"
if not STATIC_DIR.is_dir():  # installed package: coregulate/dashboard/static
    from ... import dashboard as _dashboard

    STATIC_DIR = Path(_dashboard.__file__).resolve().parent / "static"

VENDOR_HINT = "run `npm ci --prefix dashboard` (copies uPlot into dashboard/static/vendor)"

SECURITY_HEADERS = {
    # Everything is served from this origin: no CDN, no inline script, no framing.
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                                "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass
class Settings:
    """Server settings. ``token``/``viewer_token`` override the ones stored in ``DATA/token.json``."""

    data_dir: Path = Path("data")
    token: str | None = None
    viewer_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8765
    demo: bool = False
    demo_speed: float = 1.0
    demo_duration_s: float = 1200.0
    #: pacing of the demo's baseline (None: the same as demo_speed); pacing only
    demo_baseline_speed: float | str | None = None
    #: sessions started with the server: SessionCreate requests (replay) or PreparedSession (record)
    startup: list[Any] = field(default_factory=list)
    backends: Backends | None = None
    hub_options: dict[str, Any] = field(default_factory=dict)
    #: may the viewer token see session videos (the supervisor always may)
    viewers_see_video: bool = False


def create_app(settings: Settings | str | Path | None = None, token: str | None = None, *,
               viewer_token: str | None = None, host: str = "127.0.0.1", **kwargs: Any) -> FastAPI:
    """Build the app. Accepts a :class:`Settings` or ``(data_dir, token=None, host=...)``."""
    if not isinstance(settings, Settings):
        settings = Settings(data_dir=Path(settings or "data"), token=token, viewer_token=viewer_token, host=host, **kwargs)
    settings.data_dir = Path(settings.data_dir)
    tokens = auth.load_or_create(settings.data_dir, settings.token, settings.viewer_token)
    manager = SessionManager(settings.data_dir, settings.backends, hub_options=settings.hub_options)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        start_warm_up(manager.backends)  # the estimators' imports, in a thread, before anyone asks for a session
        if settings.demo:
            req = SessionCreate(source=SourceSpec(kind="simulator", duration_s=settings.demo_duration_s),
                                speed=settings.demo_speed, baseline_speed=settings.demo_baseline_speed,
                                label="demo (simulated dyad)")
            s = manager.register(req, *await asyncio.to_thread(manager.open_source, req))  # off the loop
            await manager.start(s.id)
            app.state.demo_session = s.id
        for item in settings.startup:
            if isinstance(item, SessionCreate):  # its files and resting recording are read off the loop
                s = manager.register(item, *await asyncio.to_thread(manager.open_source, item))
            else:
                s = manager.create_prepared(item)
            await manager.start(s.id)
            print(f"  session {s.id} started ({s.request.label or s.request.source.kind})", flush=True)
        yield
        await manager.shutdown()

    app = FastAPI(title="Coregulate supervisor API", version="0.1.0", lifespan=lifespan,
                  description="Real-time in-session signal monitor for psychotherapy research. "
                              "Research tool, not a diagnostic device.",
                  openapi_url=None, docs_url=None, redoc_url=None, max_body_size=MAX_BODY_BYTES)
    document_error_detail(app)
    app.state.tokens = tokens
    app.state.manager = manager
    app.state.settings = settings
    app.state.demo_session = None
    # No CORS middleware on purpose: browsers refuse cross-origin reads (closed by default).

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response: Response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    for r in (meta.router, sessions.router, data.router, annotations.router, export.router, ws.router, video.router):
        app.include_router(r)

    # The dashboard shell (HTML, JS, CSS, vendored uPlot) holds no data: it is public; every
    # /api route and the websocket require a token.
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    if not (STATIC_DIR / "vendor" / "uplot" / "uPlot.esm.js").exists():
        log.warning("dashboard charts unavailable: %s", VENDOR_HINT)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app


def dashboard_url(host: str, port: int, token: str, tls: bool = False) -> str:
    """The dashboard's address with the token in the fragment (never sent to a server or a log).

    A wildcard bind address (``0.0.0.0``, ``::``) is shown as ``127.0.0.1``.
    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    # The token travels in the fragment, which browsers never send to a server or a log.
    return f"{'https' if tls else 'http'}://{shown}:{port}/#token={token}"


def tls_context_without_tickets(config: Any, default_factory: Any) -> Any:
    """uvicorn's TLS context for ``--tls-cert``, sending no TLS 1.3 session tickets.

    A TLS 1.3 server sends its session tickets (RFC 8446, section 4.6.1) after the client's
    handshake is over, while the client writes its first request. A client that reads in one
    thread and writes in another (websockets' sync client, used by the tests and by scripts)
    then runs ``SSL_read`` and ``SSL_write`` on one OpenSSL ``SSL`` object at the same time,
    which OpenSSL forbids (openssl/openssl#20446) and CPython 3.11 does not serialise: under
    load the client's WSS upgrade request was lost (its socket sent the 597 bytes of the TLS
    handshake and nothing more) and neither side ever spoke again (issue #17,
    ``bench/tls_handshake_race.py``). Without tickets the server says nothing between the
    handshake and its answer. The cost is session resumption: each reconnection does a full
    handshake, a few milliseconds for the few viewers of one server.

    Parameters
    ----------
    config : uvicorn.Config
        The server's configuration (unused: the default factory reads it).
    default_factory : callable
        uvicorn's own context builder (certificate, key, ALPN).

    Returns
    -------
    ssl.SSLContext
        uvicorn's context with ``num_tickets`` set to 0.
    """
    context = default_factory()
    context.num_tickets = 0
    return context


def serve(data_dir: str | Path = "data", host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          viewer_token: str | None = None, demo: bool = False, demo_speed: float = 1.0,
          demo_duration_s: float = 1200.0, log_level: str = "info", startup: list[Any] | None = None,
          demo_baseline_speed: float | str | None = None, ssl_certfile: str | None = None,
          ssl_keyfile: str | None = None, viewers_see_video: bool = False) -> None:
    """Run the server (blocking). Prints the dashboard URLs with the tokens once, to stdout.

    With ``ssl_certfile``/``ssl_keyfile`` uvicorn serves HTTPS and WSS (its own TLS support);
    the CLI refuses a non-loopback ``host`` without them (``server/cli/commands/serve.py``).
    """
    import uvicorn

    settings = Settings(data_dir=Path(data_dir), token=token, viewer_token=viewer_token, host=host, port=port,
                        demo=demo, demo_speed=demo_speed, demo_duration_s=demo_duration_s, startup=list(startup or []),
                        demo_baseline_speed=demo_baseline_speed, viewers_see_video=viewers_see_video)
    app = create_app(settings)
    t = app.state.tokens
    tls = bool(ssl_certfile)
    from ..cli.commands.serve import is_loopback

    if not is_loopback(host):
        print(f"WARNING: listening on {host}: anyone who can reach this address and has a token can connect; "
              "keep it behind a firewall (see README, Remote supervision).")
    print("Coregulate supervisor server -- research tool, not a diagnostic device.")
    print(f"  supervisor: {dashboard_url(host, port, t.supervisor, tls)}")
    print(f"  viewer:     {dashboard_url(host, port, t.viewer, tls)}")
    print(f"  data folder: {data_dir} (sessions/; tokens in token.json, mode 0600)", flush=True)
    from ..datadir import is_private

    if not is_private(Path(data_dir)):
        print(f"WARNING: {data_dir} can be read by other users of this machine; chmod 700 it", flush=True)
    if demo and demo_baseline_speed is not None:
        def pace(v: float | str) -> str:
            return "as fast as possible" if v == "max" else f"at x{float(v):g}"

        print(f"  demo: the simulated baseline plays {pace(demo_baseline_speed)}, then the session runs "
              f"{pace(demo_speed)} (pacing only: the data are the same)", flush=True)
    # Access logs would carry ?token= of websocket URLs: keep them off.
    # uvicorn logs websocket handshakes with their query string (?token=) even without the
    # access log: mask tokens in every record of the server's loggers
    from .redact import install as redact_tokens_in_logs

    redact_tokens_in_logs()
    # per-message deflate would compress every frame once per viewer: frames are small, CPU is not
    # timeout_graceful_shutdown: a dashboard's open connections must not hold a Ctrl-C up; the
    # sessions are stopped and drained by the lifespan shutdown that follows
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, ws_max_size=1 << 20,
                ws_per_message_deflate=False, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                ssl_context_factory=tls_context_without_tickets if tls else None, timeout_graceful_shutdown=1)
