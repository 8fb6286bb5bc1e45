"""``coregulate replay SPEC... [--speed 1|N|max]``: a recording as a live session.

With the server (default) the session appears in the dashboard as if it were live; with
``--headless`` it runs in the terminal and prints events as they happen.
"""

from __future__ import annotations

from .. import argtypes
from .analyze import SPEC_HELP, add_pipeline_options, pipeline_config
from .serve import add_server_options, data_dir, server_log_level, tls_options


def add_parser(sub) -> None:
    """Add the ``replay`` command to the CLI's subparsers ``sub``."""
    import argparse

    from .._help import FORMATS_AND_EXAMPLES

    p = sub.add_parser("replay", help="replay recorded files as a live session (dashboard shows it)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=FORMATS_AND_EXAMPLES)
    p.add_argument("specs", nargs="+", metavar="SPEC", type=argtypes.spec, help=SPEC_HELP)
    p.add_argument("--speed", default="1", type=argtypes.speed, help="1 (live pacing), N (N times faster) or max (default 1)")
    add_pipeline_options(p)
    add_server_options(p)
    p.add_argument("--headless", action="store_true", help="no server: print events to the terminal")
    p.set_defaults(run=run)


class _Printer:
    """Prints events as they happen and the session time every 10 s (flushed, for pipes)."""

    def __init__(self) -> None:
        self.next_mark = 10

    def on_chunk(self, chunk) -> None:
        while chunk.t_end >= self.next_mark:
            print(f"at {self.next_mark} s", flush=True)
            self.next_mark += 10

    def on_events(self, events) -> None:
        for e in events:
            who = e.get("participant") or "dyad"
            print(f"{e['t_start']:8.1f} s  {who:<10} {e['kind']}", flush=True)

    def on_status(self, status) -> None:
        print(f"session {status['status']} at {status['t']:.1f} s", flush=True)


def run(args) -> int:
    """Replay recorded files as a live session, served to the dashboard or headless; exit code 0, or
    130 (``EX_INTERRUPTED``) after SIGINT."""
    from ....sensors.pacing import parse_speed
    from ...session.runner import new_session_id, open_session
    from ...session.warm_up import preload_estimator_libraries
    from ...session.signals import exit_code_for, run_until_signalled, session_closed_on_error
    from ...session.sources import build_source

    from ...session.sources import check_codes, check_spec_combination, parse_codes, source_meta, video_meta

    argtypes.as_usage(check_spec_combination, args.specs)
    speed = parse_speed(args.speed)
    # with --baseline-from this runs the resting recording here too, so that a bad one fails now, with
    # a clear message, rather than inside the server (which runs it again for the session request)
    config = pipeline_config(args)
    codes = argtypes.as_usage(parse_codes, args.code)
    if not args.headless:
        from ...web.app import serve
        from ...session.signals import exit_code_after_server
        from ...web.schemas import SessionCreate, SourceSpec

        tls = tls_options(args)
        # fail here, with a clear message, not inside the server
        check_codes(codes, [s.participant for s in build_source(args.specs, speed).streams])
        req = SessionCreate(source=SourceSpec(kind="files", specs=args.specs),
                            speed=speed if speed is not None else "max", keep_audio=args.keep_audio,
                            window_s=config.window_s, baseline=config.baseline, baseline_from=args.baseline_from,
                            label="replay",
                            participant_codes=codes)
        serve(data_dir=data_dir(args), host=args.host, port=args.port, token=args.token,
              log_level=server_log_level(args), startup=[req], **tls)
        return exit_code_after_server()
    source = build_source(args.specs, speed)
    check_codes(codes, [s.participant for s in source.streams])
    if speed is not None:  # paced: keep a 2-4 s import out of the session (see the function)
        preload_estimator_libraries()
    sid = new_session_id("replay")
    path = data_dir(args) / "sessions" / f"{sid}.sqlite"
    runner = open_session(source, config, path, sid, keep_audio=args.keep_audio, participants=codes,
                          meta={"sources": source_meta("files", args.specs), **video_meta(source)}, sinks=[_Printer()])
    with session_closed_on_error(runner.recorder.close):  # a Ctrl-C before the loop runs still closes the file
        print(f"recording to {path}", flush=True)
        _, signum = run_until_signalled(runner.stop, runner.run)
    return exit_code_for(signum)
