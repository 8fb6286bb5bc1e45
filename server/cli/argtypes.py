"""Command-line value checks as argparse ``type=`` functions, so that a malformed command line
exits 2 with argparse's own message (``coregulate analyze: error: argument --window: ...``),
while bad *data* in the files stays exit 65.

Each wraps the library's own parser (``parse_spec``, ``parse_baseline``, ``parse_speed``...):
one fact, one place; the library raises :class:`~coregulate.sensors.errors.InputError`, which
these turn into :class:`argparse.ArgumentTypeError`. Kept light: ``--help`` imports this module.
"""

from __future__ import annotations

import argparse
from typing import Callable

def _message(exc) -> str:
    text = getattr(exc, "message", None) or str(exc)
    expected = getattr(exc, "expected", None)
    return f"{text} (expected {expected})" if expected else text


def checked(parse: Callable[[str], object], keep_text: bool = True) -> Callable[[str], object]:
    """A ``type=`` function that runs ``parse`` and turns its InputError into a usage error.

    ``keep_text``: return the text as given (the command parses it again with its defaults).
    """
    from ...sensors.errors import InputError

    def check(text: str):
        try:
            value = parse(text)
        except InputError as exc:
            raise argparse.ArgumentTypeError(_message(exc)) from None
        return text if keep_text else value

    check.__name__ = getattr(parse, "__name__", "value")
    return check


def spec(text: str) -> str:
    """A SPEC (``ROLE=[FORMAT:]PATH[?k=v&...]``, ``sim[?...]`` or a session file), syntax only."""
    from ..session.sources import check_spec

    return checked(check_spec)(text)


def baseline(text: str) -> str:
    """``START-END`` seconds, by the rule of :class:`~coregulate.models.config.PipelineConfig` (at least 60 s)."""
    from ..session.sources import parse_baseline

    return checked(parse_baseline)(text)


def speed(text: str) -> str:
    """``1``, ``N`` (a factor > 0) or ``max``."""
    from ...sensors.pacing import parse_speed

    return checked(parse_speed)(text)


def code(text: str) -> str:
    """``ROLE=CODE`` (a pseudonymous code, never a name)."""
    from ..session.sources import parse_codes

    return checked(lambda t: parse_codes([t]))(text)


def _number(text: str, kind: type, what: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def window(text: str) -> float:
    """HRV window in seconds, by the rule of :class:`~coregulate.models.config.PipelineConfig`."""
    from ...models.config import check_window

    return checked(check_window, keep_text=False)(_number(text, float, "a number of seconds"))


def positive_int(text: str) -> int:
    """An integer >= 1 (``--jobs``)."""
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A number > 0 (timeouts)."""
    value = _number(text, float, "a number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    value = _number(text, int, "a port number")
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port {value} is out of range (expected 1-65535)")
    return value


def sim_duration(text: str) -> float:
    """A simulated session length: more than the 300-s baseline, at most 24 h."""
    value = _number(text, float, "a number of seconds")
    if not 300 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"simulated duration {value:g} s is out of range "
                                         "(expected more than 300 s, the baseline, and at most 24 h)")
    return value


def as_usage(check: Callable[..., object], *args, **kwargs):
    """Run a check of the command line as a whole (e.g. SPECs that exclude each other) and turn
    its InputError into a :class:`~coregulate.sensors.errors.UsageError` (exit 2)."""
    from ...sensors.errors import InputError, UsageError

    try:
        return check(*args, **kwargs)
    except InputError as exc:
        raise UsageError(str(exc)) from None  # names the option (field) the error is about
