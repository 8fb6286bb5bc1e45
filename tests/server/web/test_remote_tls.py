"""Remote supervision: TLS (HTTPS and WSS) with a self-signed certificate, and no plain HTTP
on an address other machines can reach unless explicitly allowed.

The real ``coregulate serve`` runs in a subprocess on 127.0.0.2 (a loopback address other than
the default, so it can carry its own certificate), with a certificate made by the ``openssl`` CLI.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import time
from types import SimpleNamespace

import httpx
import pytest
from websockets.sync.client import connect

from coregulate.server.cli.main import main
from coregulate.server.cli.commands.serve import UnsafeServerOptions, is_loopback, tls_options

from server_helpers import SUP, auth, stop_process

EXE = [sys.executable, "-m", "coregulate.server.cli.main"]
HOST = "127.0.0.2"


def _self_signed(folder) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=IP:{HOST}"], check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tls13_session_after_one_request(cert: str, port: int) -> ssl.SSLSession:
    """The TLS 1.3 session of a connection that sent one request and read the whole answer.

    A server's session tickets come before its first answer, so the session has them by then.
    Without tickets, websockets' sync client (a reading thread beside the writing one) cannot
    race its first write with the ticket read (``server/web/app.py``, issue #17).
    """
    import socket

    context = ssl.create_default_context(cafile=cert)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection((HOST, port), timeout=60) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        tls.sendall(f"GET /api/sessions HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n"
                    f"Authorization: Bearer {SUP}\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        return tls.session


def test_https_and_wss_with_a_self_signed_certificate(tmp_path):
    cert, key = _self_signed(tmp_path)
    port = _free_port(HOST)
    proc = subprocess.Popen([*EXE, "serve", "--host", HOST, "--port", str(port), "--data", str(tmp_path / "data"),
                             "--token", SUP, "--tls-cert", cert, "--tls-key", key],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_lines = [proc.stdout.readline() for _ in range(3)]
        assert any(f"https://{HOST}:{port}/#token=" in line for line in first_lines), first_lines
        trust = ssl.create_default_context(cafile=cert)
        with httpx.Client(base_url=f"https://{HOST}:{port}", verify=trust, timeout=60) as api:  # a busy machine
            deadline = time.monotonic() + 60
            while True:
                try:
                    r = api.get("/api/sessions", headers=auth(SUP))
                    break
                except httpx.ConnectError:
                    assert proc.poll() is None, proc.stderr.read()
                    assert time.monotonic() < deadline, "the server did not come up within 60 s"
                    time.sleep(0.2)
            assert r.status_code == 200
            assert api.get("/api/sessions").status_code == 401  # TLS adds to the token, never replaces it
            r = api.post("/api/sessions", headers=auth(SUP),
                         json={"source": {"kind": "simulator", "duration_s": 320, "seed": 1}, "speed": 50.0})
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
        assert not _tls13_session_after_one_request(cert, port).has_ticket
        with connect(f"wss://{HOST}:{port}/api/sessions/{sid}/ws?since=0", ssl=trust,
                     subprotocols=["coregulate", f"token.{SUP}"], open_timeout=60) as ws:
            frame = json.loads(ws.recv(timeout=60))
            assert frame["seq"] >= 1 and "type" in frame
        # a client that does not know the certificate is refused by TLS itself
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://{HOST}:{port}/api/sessions", headers=auth(SUP), timeout=10)
    finally:
        stop_process(proc)
    assert proc.returncode == 130


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "supervisor.example"])
def test_plain_http_beyond_loopback_is_refused(host, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:  # a usage error, reported as argparse does
        main(["serve", "--host", host, "--port", "8765", "--data", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("coregulate serve: error: ") and "--tls-cert" in last and "--insecure-http" in last
    assert "Traceback" not in err
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_insecure_http_is_allowed_with_a_warning(capsys):
    args = SimpleNamespace(host="0.0.0.0", tls_cert=None, tls_key=None, insecure_http=True)
    assert tls_options(args) == {}
    assert "WARNING: plain HTTP" in capsys.readouterr().err


def test_tls_needs_both_files(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(UnsafeServerOptions):
        tls_options(SimpleNamespace(host=HOST, tls_cert=str(cert), tls_key=None, insecure_http=False))
    code = main(["serve", "--host", HOST, "--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.pem"),
                 "--data", str(tmp_path / "data")])
    assert code == 66


def test_loopback_addresses():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "example.org"))
