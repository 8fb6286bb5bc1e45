"""``coregulate serve`` and ``coregulate demo``: the supervisor server and dashboard."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from ....sensors.errors import UsageError
from .. import argtypes


def add_server_options(p, port_default: int = 8765) -> None:
    """Add the server's options (address, port, data folder, token, TLS) to a command's parser.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The command's parser (``serve``, ``demo``, ``record``, ``replay``).
    port_default : int, optional
        The TCP port used when ``--port`` is not given.
    """
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only); any other address needs "
                        "--tls-cert/--tls-key (or --insecure-http)")
    p.add_argument("--port", type=argtypes.port, default=port_default, help=f"TCP port (default {port_default})")
    p.add_argument("--data", metavar="DIR",
                   help="where sessions and the access token live (default: $COREGULATE_DATA, "
                        "else the user data folder, e.g. ~/.local/share/coregulate)")
    p.add_argument("--token", help="supervisor token (default: generated on first start, stored in DIR/token.json)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS/WSS with this certificate (chain) file")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key file")
    p.add_argument("--insecure-http", action="store_true",
                   help="allow plain HTTP on a non-loopback --host (tokens and data travel in clear)")


class UnsafeServerOptions(UsageError):
    """Server options that would expose tokens and data in clear, or a half-given TLS pair (exit 2)."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def tls_options(args) -> dict:
    """uvicorn's ``ssl_certfile``/``ssl_keyfile`` from the options, after the safety rule.

    A non-loopback ``--host`` needs TLS: the token in the dashboard URL, every API call and the
    websocket would otherwise cross the network in clear. ``--insecure-http`` is the explicit,
    warned-about way out (e.g. behind a TLS-terminating reverse proxy on another host).
    """
    from ....sensors.errors import MissingInputError

    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if bool(cert) != bool(key):
        raise UnsafeServerOptions("--tls-cert and --tls-key go together: give both")
    if cert:
        for option, path in (("--tls-cert", cert), ("--tls-key", key)):
            if not Path(path).is_file():
                raise MissingInputError("no such file", path=path, field=option, expected="a PEM file")
        return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if not is_loopback(args.host):
        if not getattr(args, "insecure_http", False):
            raise UnsafeServerOptions(
                f"--host {args.host} is reachable from other machines: refusing plain HTTP (tokens would travel "
                "in clear); give --tls-cert and --tls-key, or --insecure-http if a TLS proxy fronts this server")
        print(f"WARNING: plain HTTP on {args.host} (--insecure-http): tokens and session data cross the network "
              "unencrypted; use this only behind a TLS reverse proxy or on a network you trust", file=sys.stderr,
              flush=True)
    return {}


def server_log_level(args) -> str:
    """uvicorn's own start-up and shut-down lines only with ``--verbose`` (the URLs are printed anyway)."""
    return "info" if getattr(args, "verbose", False) else "warning"


def add_parser(sub) -> None:
    """Add the ``serve`` command and the ``demo`` command to the CLI's subparsers ``sub``."""
    p = sub.add_parser("serve", help="run the supervisor server and dashboard")
    add_server_options(p)
    p.add_argument("--viewers-see-video", action="store_true",
                   help="let the viewer token see session videos in replay (default: the supervisor only)")
    p.set_defaults(run=run_serve)
    d = sub.add_parser("demo", help="server + dashboard on a simulated therapist-client session")
    add_server_options(d)
    d.add_argument("--speed", default="1", type=argtypes.speed, help="simulated session pacing: 1 (live), N, or max (default 1)")
    d.add_argument("--duration", type=argtypes.sim_duration, default=1200.0, metavar="S", help="simulated session length (default 1200 s)")
    d.add_argument("--baseline-speed", default="20", type=argtypes.speed, metavar="N",
                   help="pacing of the simulated 5-min baseline, so that the first zone change shows within about a "
                        "minute: N or max (default 20); the --speed value turns it off. Pacing only: the data are the same")
    d.set_defaults(run=run_demo)


def data_dir(args):
    """The data folder of this run (see ``server/datadir.py``), created 0700 if missing."""
    from ....sensors.errors import OutputError
    from ...datadir import private_dir, resolve_data_dir

    path = resolve_data_dir(args.data)
    try:
        return private_dir(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the data folder ({exc.strerror or exc})") from None


def _check_port(port: int) -> None:
    from ....sensors.errors import InputError

    if not 0 < port < 65536:
        raise InputError(f"port {port} is out of range", field="--port", expected="1-65535")


def run_serve(args) -> int:
    """Run the server and dashboard until stopped; exit code 0, or 130 after SIGINT."""
    from ...web.app import serve
    from ...session.signals import exit_code_after_server

    _check_port(args.port)
    tls = tls_options(args)
    serve(data_dir=data_dir(args), host=args.host, port=args.port, token=args.token,
          log_level=server_log_level(args), viewers_see_video=args.viewers_see_video, **tls)
    return exit_code_after_server()


def run_demo(args) -> int:
    """Run the server with a simulated therapist-client session at the chosen speed; exit code 0, or
    130 after SIGINT."""
    from ....sensors.pacing import parse_speed
    from ...web.app import serve
    from ...session.signals import exit_code_after_server

    _check_port(args.port)
    tls = tls_options(args)
    speed = parse_speed(args.speed)
    baseline_speed = parse_speed(args.baseline_speed)
    if speed is None or (baseline_speed is not None and baseline_speed <= speed):
        baseline_speed = speed  # already as fast: nothing to fast-forward
    serve(data_dir=data_dir(args), host=args.host, port=args.port, token=args.token,
          log_level=server_log_level(args), demo=True, demo_speed=speed if speed is not None else "max",
          demo_duration_s=args.duration,
          demo_baseline_speed=None if baseline_speed == speed else (baseline_speed if baseline_speed is not None else "max"),
          **tls)
    return exit_code_after_server()
