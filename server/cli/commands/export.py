"""``coregulate export SESSION --format csv|edf|rr --out DIR``."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Add the ``export`` command to the CLI's subparsers ``sub``."""
    p = sub.add_parser("export", help="export a recorded session (CSV, EDF+, RR text for Kubios)")
    p.add_argument("session", metavar="SESSION",
                   help="a session file, an analyze output folder, or a session id in --data")
    p.add_argument("--format", required=True, choices=("csv", "edf", "rr"))
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--data", metavar="DIR",
                   help="server data folder for session ids (default: $COREGULATE_DATA, else the user data folder)")
    p.set_defaults(run=run)


def resolve_session(text: str, data_dir: str) -> Path:
    """The session file that ``text`` names.

    Parameters
    ----------
    text : str
        A session file, an ``analyze`` output folder, or a session id in ``data_dir``.
    data_dir : str
        The data folder whose ``sessions/`` holds sessions by id.

    Raises
    ------
    MissingInputError
        If ``text`` names none of these.
    """
    from ....sensors.errors import MissingInputError
    from ...offline.analysis import SESSION_FILE

    p = Path(text)
    if p.is_dir() and (p / SESSION_FILE).is_file():
        return p / SESSION_FILE
    if p.is_file():
        return p
    by_id = Path(data_dir) / "sessions" / f"{text}.sqlite"
    if "/" not in text and by_id.is_file():
        return by_id
    raise MissingInputError("no such session (not a session file, an analyze folder or a session id in the data folder)",
                            path=text)


def run(args) -> int:
    """Export a session in the chosen format and print each file written; exit code 0."""
    from ...datadir import resolve_data_dir
    from ...offline.export import export_session

    for f in export_session(resolve_session(args.session, resolve_data_dir(args.data)), args.format, args.out):
        print(f)
    return 0
