"""The estimators' imports, done before a session runs rather than in the middle of one.

neurokit2 and the estimator families are imported lazily (a session without audio never imports
the voice code, :mod:`coregulate.models.registry`). In a paced session the first import would
happen while the session, and in the server every other session, is running: the live commands
import them before their session starts, the server in a thread when it starts.
"""

from __future__ import annotations

import concurrent.futures
import threading


def preload_estimator_libraries() -> None:
    """Import now what the estimators import lazily: neurokit2 and the estimator families.

    neurokit2 is first imported by the beat detector's first block (some 10 s into a session
    with ECG or PPG) and takes 3-12 s on a busy machine, most of it holding the GIL: in a paced
    session it blocks the event loop (a Ctrl-C waits for it, a live inlet's buffer fills) and,
    in the server, every other session's thread too (``bench/bench_latency.py``: the viewers'
    p99 lag over a whole run). The families' modules (and the scipy they import) are otherwise
    imported when the first session's pipeline is built. Before a session starts it costs
    nothing the user notices.
    """
    try:
        import neurokit2  # noqa: F401
    except ImportError:  # the estimators will report it themselves if they need it
        pass
    from ...models import autonomic, dyad, eda, heart, movement, tolerance, voice  # noqa: F401


_preloading: concurrent.futures.Future | None = None
_preloading_lock = threading.Lock()


def preload_in_background() -> concurrent.futures.Future:
    """:func:`preload_estimator_libraries` in a thread of its own, started once per process.

    Returns its future (shared by every caller): the server starts it when it starts and waits
    for it before it runs a session (:func:`~coregulate.server.web.live_session.warmed_up`),
    so that a session never meets the imports while it, or another one, is running.
    """
    global _preloading
    with _preloading_lock:
        if _preloading is None:
            future: concurrent.futures.Future = concurrent.futures.Future()

            def work() -> None:
                try:
                    preload_estimator_libraries()
                    future.set_result(None)
                except BaseException as exc:  # handed to whoever waits; the estimators will raise it again
                    future.set_exception(exc)

            threading.Thread(target=work, name="preload-estimators", daemon=True).start()
            _preloading = future
        return _preloading
