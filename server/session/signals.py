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
from typing import Any, Awaitable, Callable

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
        try:
            return await main()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = asyncio.run(supervised())
    except asyncio.CancelledError:
        result = None
    finally:  # the loop's clean-up resets SIGTERM to the default (kill at once)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return result, (received[0] if received else None)
