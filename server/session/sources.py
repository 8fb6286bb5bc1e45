"""From command-line SPECs to one source: recorded files (replayed) or the simulator."""

from __future__ import annotations

from urllib.parse import parse_qsl

from ...sensors.base import Source
from ...sensors.errors import InputError

SIM_WORDS = ("sim", "simulator")


def is_simulator_spec(text: str) -> bool:
    """Whether a SPEC names the simulator (``sim`` or ``simulator``, with or without ``?options``)."""
    head = text.split("?", 1)[0].strip().lower()
    return head in SIM_WORDS


def simulator_options(text: str) -> dict:
    """``sim?seed=3&duration=3000&audio=0`` -> the Simulator's keyword arguments, checked."""
    opts = dict(parse_qsl(text.split("?", 1)[1])) if "?" in text else {}
    unknown = set(opts) - {"seed", "duration", "audio"}
    if unknown:
        raise InputError(f"unknown simulator option(s) {', '.join(sorted(unknown))}", field=text,
                         expected="seed=N, duration=SECONDS, audio=0|1")
    try:
        seed = int(opts.get("seed", 0))
        duration = float(opts.get("duration", 1200))
        audio = opts.get("audio", "1") not in ("0", "false", "no")
    except ValueError:
        raise InputError("simulator options must be numbers", field=text, expected="seed=N, duration=SECONDS") from None
    if not 300 < duration <= 24 * 3600:
        raise InputError(f"simulated duration {duration:g} s is out of range", field=text,
                         expected="more than 300 s (the baseline) and at most 24 h")
    return {"seed": seed, "duration_s": duration, "audio": audio}


def simulator_from_spec(text: str, speed: float | None):
    """``sim``, ``sim?seed=3&duration=3000&audio=0`` → a :class:`Simulator`."""
    from ...sensors.simulator import Simulator

    return Simulator(**simulator_options(text), speed=speed)


def check_spec(text: str) -> None:
    """Check one SPEC's syntax without reading any file; raise :class:`InputError` if it is wrong.

    Besides :func:`~coregulate.sensors.spec.parse_spec`'s syntax, two mistakes users make:
    ``client=sim`` (the simulator is a whole dyad and takes no role) and an unknown FORMAT
    (``client=foo:file.csv`` names the format and lists the known ones instead of "no such file").
    """
    import os

    from ...sensors.spec import known_formats_text, parse_spec, unknown_format

    if is_simulator_spec(text):
        simulator_options(text)
        return
    if is_session_spec(text):
        return
    spec = parse_spec(text)
    if spec.path.lower() in SIM_WORDS and not os.path.exists(spec.path):
        raise InputError(f"{text!r}: the simulator is a whole session (client and therapist) and takes no role",
                         expected="'sim' or 'sim?seed=N&duration=S&audio=0', without ROLE=")
    bad_format = unknown_format(spec)
    if bad_format is not None:
        raise InputError(f"unknown format {bad_format!r} in {text!r} (known: {known_formats_text()})")


def check_spec_combination(specs: list[str]) -> None:
    """The simulator and a recorded session file are whole sessions: each stands alone."""
    if not specs:
        raise InputError("no input given", expected="at least one SPEC (ROLE=PATH, ROLE=FORMAT:PATH or sim)")
    for alone, what in ((is_simulator_spec, "the simulator"), (is_session_spec, "a recorded session")):
        found = [s for s in specs if alone(s)]
        if found and len(specs) > 1:
            raise InputError(f"{what} is a whole session: it cannot be combined with other SPECs", field=found[0])


def build_source(specs: list[str], speed: float | None = None) -> Source:
    """One source for a session: the simulator (``sim``) or recorded files (``ROLE=[FORMAT:]PATH``).

    Every file's header is checked here, before anything is recorded.
    """
    check_spec_combination(specs)
    if is_simulator_spec(specs[0]):
        return simulator_from_spec(specs[0], speed)
    from ...sensors.readers import open_readers
    from ...sensors.replay import ReplaySource
    from ...sensors.spec import parse_spec
    from .session_source import SessionFileReader

    if is_session_spec(specs[0]):
        return ReplaySource([SessionFileReader(session_path(specs[0]))], speed=speed)
    for s in specs:  # the same clear words from a manifest or the API as on the command line
        check_spec(s)
    return ReplaySource(open_readers([parse_spec(s) for s in specs]), speed=speed)


def is_session_spec(text: str) -> bool:
    """``session:PATH`` or a path to a ``.sqlite`` session file (no role: the file has them)."""
    return text.startswith("session:") or ("=" not in text and text.endswith(".sqlite"))


def session_path(text: str):
    """The session file a ``session:PATH`` SPEC (or a bare path) names."""
    from pathlib import Path

    return Path(text[len("session:"):] if text.startswith("session:") else text)


def parse_baseline(text: str | None) -> tuple[float, float] | None:
    """``"60-360"`` → (60.0, 360.0) seconds; ``None`` → default (first 5 minutes).

    The syntax is read here; the rules (``0 <= START``, at least 60 s) are those of
    :func:`~coregulate.models.config.check_baseline`, whose ConfigError names the key.
    """
    from ...models.config import check_baseline

    if text is None:
        return None
    try:
        a, b = (float(x) for x in text.split("-", 1))
    except ValueError:
        raise InputError(f"cannot read baseline {text!r}", field="baseline", expected="START-END in seconds, e.g. 0-300") from None
    return check_baseline((a, b))


_CODE = __import__("re").compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def parse_codes(items: list[str] | None) -> dict[str, str]:
    """``["client=C07", "therapist=T02"]`` → role → pseudonymous code (letters, digits, - and _).

    Codes, never names: a code that looks like free text (spaces, dots) is refused.
    """
    codes: dict[str, str] = {}
    for item in items or []:
        role, sep, code = item.partition("=")
        if not sep or not role or not _CODE.match(code):
            raise InputError(f"cannot read participant code {item!r}", field="--code",
                             expected="ROLE=CODE with a code of 1-32 letters, digits, '-' or '_' (a pseudonym, not a name)")
        if role in codes:
            raise InputError(f"two codes for {role!r}", field="--code", expected="one code per role")
        codes[role] = code
    return codes


def check_codes(codes: dict[str, str], roles) -> None:
    """Check that every ``--code`` names a role some input has.

    Raises
    ------
    InputError
        Naming the unknown roles and the roles there are.
    """
    unknown = sorted(set(codes) - set(roles))
    if unknown:
        raise InputError(f"--code names role(s) {', '.join(unknown)} that no input has", field="--code",
                         expected=f"one of: {', '.join(sorted(set(roles)))}")


def spec_for_record(text: str) -> str:
    """The SPEC as kept in the session file: the file name without its folders, which often
    carry a person's or a site's name."""
    from pathlib import PurePath

    if is_simulator_spec(text):
        return text
    if is_session_spec(text):
        return "session:" + PurePath(session_path(text)).name
    from ...sensors.spec import parse_spec

    try:
        path = parse_spec(text).path
    except InputError:
        return text
    return text.replace(str(path), PurePath(str(path)).name, 1)


def source_meta(kind: str, specs: list[str] | tuple[str, ...] = (), **params) -> dict:
    """The one schema of a session's ``sources`` metadata, whoever opened it.

    ``{"kind": "files" | "simulator" | "live", "specs": [SPEC as kept in the file], **params}``
    (the server adds the simulator's ``seed``, ``duration_s``, ``audio``). Files written before
    this schema hold a plain list of SPECs; :meth:`~.recorder.SessionStore.info` reads both.
    """
    return {"kind": kind, **params, "specs": [spec_for_record(x) for x in specs]}


def video_meta(source) -> dict:
    """``{"video": [reference, ...]}`` for the session file when the source reads a video (path,
    size, SHA-256, offset, regions: what a replay needs to find and check it; never frames),
    else ``{}``."""
    refs = []
    for r in getattr(source, "readers", []):
        if hasattr(r, "video_reference"):
            refs.append(r.video_reference)
        refs.extend(getattr(r, "video_references", ()))  # a recorded session's, kept on re-analysis
    return {"video": refs} if refs else {}
