"""Ctrl-C (SIGINT) and SIGTERM end a session cleanly instead of cutting it off.

Python's defaults would not: SIGINT raises ``KeyboardInterrupt`` wherever the main thread is
(``asyncio.run`` turns it into cancelling the session task), which drops what the live sources
have received but not yet handed over, and SIGTERM kills the process on the spot. Here the
first signal asks the runner to stop (:meth:`SessionRunner.stop`: sources drain into the
recorder, which commits and closes with status ``stopped``); a second one cuts the drain short.

Exit codes: 130 after SIGINT (the shell's convention for an interrupted command), 0 after
SIGTERM (a supervisor such as systemd or Docker asking for a normal stop).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Awaitable, Callable, Iterator

#: ``sysexits``-style code of a run that the user interrupted (128 + SIGINT).
EX_INTERRUPTED = 130


#: Set once a stop signal was handled: the process may then skip the interpreter's teardown.
stopped_by_signal = False
#: The first stop signal this process received (None: none yet).
first_signal: int | None = None


def _note(signum: int) -> None:
    global stopped_by_signal, first_signal
    stopped_by_signal = True
    if first_signal is None:
        first_signal = signum


class Terminated(BaseException):
    """SIGTERM outside a running session (start-up, shut-down): end as after a normal stop.

    A BaseException, like KeyboardInterrupt, so that ``except Exception`` blocks do not swallow it.
    """


def _raise_terminated(signum: int, frame: Any) -> None:
    _note(signum)
    raise Terminated()


def _raise_interrupt(signum: int, frame: Any) -> None:
    _note(signum)
    raise KeyboardInterrupt()


def install_handlers() -> None:
    """SIGINT raises KeyboardInterrupt and SIGTERM :class:`Terminated`, and both are noted.

    For the server: uvicorn handles both itself (a graceful shutdown, which stops the running
    sessions the same way), then restores these handlers and raises the signal again. Its
    ``run`` swallows the KeyboardInterrupt; :func:`exit_code_after_server` still knows.
    """
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_terminated)


@contextmanager
def handlers_installed() -> Iterator[None]:
    """:func:`install_handlers` for the duration of one command, then the previous handlers again.

    ``cli.main`` may run several times in one process (tests, a script calling it): each call
    starts with no signal noted, and leaves SIGINT/SIGTERM as it found them.
    """
    global stopped_by_signal, first_signal
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopped_by_signal, first_signal = False, None
    install_handlers()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def session_closed_on_error(close: Callable[[Any], None]) -> Iterator[None]:
    """Until its runner takes over, a session file is closed if start-up ends early.

    A stop signal between creating the file and running the session closes it ``stopped``
    (what it holds is committed); any other error closes it ``failed``. Once the runner ran,
    it has closed the file itself and ``close`` must then do nothing (``Recorder.close`` is
    idempotent).
    """
    try:
        yield
    except BaseException as exc:
        from .runner import SessionStatus  # here: the CLI's start-up must not import the pipeline

        stopped = isinstance(exc, (KeyboardInterrupt, Terminated))
        close(SessionStatus.STOPPED if stopped else SessionStatus.FAILED)
        raise


def exit_code_after_server() -> int:
    """The exit code of a server that returned: 130 if it was stopped by SIGINT, else 0."""
    return exit_code_for(first_signal)


def exit_code_for(signum: int | None) -> int:
    """0 for no signal or SIGTERM, 130 for SIGINT."""
    return EX_INTERRUPTED if signum == signal.SIGINT else 0


def run_until_signalled(stop: Callable[[], None], main: Callable[[], Awaitable[Any]]) -> tuple[Any, int | None]:
    """Run ``main()`` in a new event loop; SIGINT/SIGTERM call ``stop()`` once.

    Parameters
    ----------
    stop : callable
        Asks the work to finish (e.g. :meth:`SessionRunner.stop`); must not block.
    main : callable
        Returns the coroutine to run (e.g. ``runner.run``).

    Returns
    -------
    result, signum
        What ``main()`` returned and the first signal received (None if none).
    """
    import asyncio  # here: the CLI's --help must not pay for it

    received: list[int] = []
    before_loop: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore_previous() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def noted_until_the_loop_runs(signum: int, frame: Any) -> None:
        # while the event loop starts, a signal is kept for it (raising here would leave the
        # session neither run nor closed); the loop then handles it as if it came just now
        _note(signum)
        before_loop.append(signum)

    async def supervised() -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_signal(signum: int) -> None:
            _note(signum)
            received.append(signum)
            if len(received) == 1:
                stop()
            elif task is not None:  # a second signal: stop waiting for the drain
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        for signum in before_loop:
            on_signal(signum)
        try:
            return await main()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            # the loop's removal leaves Python's defaults (SIGTERM would kill at once); the
            # session is closed by now, so the caller's handlers may act straight away
            restore_previous()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, noted_until_the_loop_runs)
    try:
        result = asyncio.run(supervised())
    except asyncio.CancelledError:
        result = None
    finally:
        restore_previous()
    return result, (received[0] if received else None)
