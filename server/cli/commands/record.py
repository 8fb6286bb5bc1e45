"""``coregulate record``: a live session from straps, microphones and LSL streams, shown in the
dashboard and recorded like any other session."""

from __future__ import annotations

from .. import argtypes
from .analyze import add_pipeline_options, pipeline_config
from .serve import add_server_options, data_dir, server_log_level, tls_options


def add_parser(sub) -> None:
    """Add the ``record`` command to the CLI's subparsers ``sub``."""
    from ....sensors.live import add_live_options

    p = sub.add_parser("record", help="record a live session (Polar H10 / heart-rate straps, microphones, LSL)")
    add_live_options(p)
    add_pipeline_options(p)
    add_server_options(p)
    p.add_argument("--headless", action="store_true", help="no server: record and print events in the terminal")
    p.set_defaults(run=run)


def run(args) -> int:
    """Record a live session until stopped (optionally serving the dashboard); exit code 0, or 130
    (``EX_INTERRUPTED``) after SIGINT."""
    from ....sensors.live import LiveSource, build_live_sources
    from ...session.runner import new_session_id, open_session
    from ...session.warm_up import preload_estimator_libraries
    from ...session.signals import exit_code_for, run_until_signalled, session_closed_on_error
    from .replay import _Printer

    from ...session.sources import check_codes, parse_codes, source_meta

    config = pipeline_config(args)
    codes = argtypes.as_usage(parse_codes, args.code)
    tls = {} if args.headless else tls_options(args)  # refuse an unsafe server before opening devices
    # malformed device options (--lsl-in syntax, a BLE address, none given, one stream twice) are usage errors
    sources = argtypes.as_usage(build_live_sources, args.client_ble, args.therapist_ble, args.client_mic,
                                args.therapist_mic, args.lsl_in, acc_rate=args.acc_rate, camera=args.camera)
    source = argtypes.as_usage(LiveSource, sources, silence_timeout_s=args.silence_timeout)
    check_codes(codes, [s.participant for s in source.streams])
    sinks = []
    if args.lsl_out:
        from ...session.lsl_outlet import LslPublisher

        sinks.append(LslPublisher(sorted({s.participant for s in source.streams})))
    if not args.headless:
        from ...web.app import serve
        from ...session.signals import exit_code_after_server
        from ...web.sessions import PreparedSession

        serve(data_dir=data_dir(args), host=args.host, port=args.port, token=args.token,
              log_level=server_log_level(args), **tls,
              startup=[PreparedSession(source, config, keep_audio=args.keep_audio, sinks=sinks, label="live",
                                       participant_codes=codes)])
        return exit_code_after_server()
    sid = new_session_id("live")
    path = data_dir(args) / "sessions" / f"{sid}.sqlite"
    preload_estimator_libraries()
    runner = open_session(source, config, path, sid, keep_audio=args.keep_audio, participants=codes,
                          meta={"sources": source_meta("live")}, sinks=[*sinks, _Printer()])
    with session_closed_on_error(runner.recorder.close):  # a Ctrl-C before the loop runs still closes the file
        print(f"recording to {path}; press Ctrl-C to stop", flush=True)
        _, signum = run_until_signalled(runner.stop, runner.run)
    if signum is not None:
        print("stopped; everything received so far is in the session file", flush=True)
    return exit_code_for(signum)
