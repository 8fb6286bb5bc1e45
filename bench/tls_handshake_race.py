"""Many WSS handshakes against one `coregulate serve --tls-cert` subprocess; count the ones with no answer (#17).

    python bench/under_load.py --cores 2 -- .venv/bin/python bench/tls_handshake_race.py --attempts 450 --limit 5


Each attempt: websockets.sync.client.connect (as the test), first frame, close; in a daemon thread, so a
hung attempt is counted (after --limit s) and left behind. For each hung attempt `ss -tni` of its socket
pair is saved (bytes sent/received on each side).
"""
import argparse
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
import httpx

ap = argparse.ArgumentParser()
ap.add_argument("--attempts", type=int, default=200)
ap.add_argument("--limit", type=float, default=10)
ap.add_argument("--client", choices=["sync", "asyncio", "raw"], default="sync")
ap.add_argument("--tls13", choices=["on", "off"], default="on")
ap.add_argument("--python", default=sys.executable, help="the server's interpreter (another checkout's venv: its code)")
args = ap.parse_args()
HOST = "127.0.0.2"
SUP = "s" * 20 + "-supervisor-token"
d = Path(tempfile.mkdtemp(prefix="tlsstress"))
cert, key = d / "cert.pem", d / "key.pem"
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
                "-out", str(cert), "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"], check=True,
               capture_output=True)
with socket.socket() as s:
    s.bind((HOST, 0))
    port = s.getsockname()[1]
proc = subprocess.Popen([args.python, "-m", "coregulate.server.cli.main", "serve", "--host", HOST, "--port", str(port),
                         "--data", str(d / "data"), "--token", SUP, "--tls-cert", str(cert), "--tls-key", str(key)],
                        stdout=subprocess.DEVNULL, stderr=open(d / "stderr.txt", "w"))
trust = ssl.create_default_context(cafile=str(cert))
if args.tls13 == "off":
    trust.maximum_version = ssl.TLSVersion.TLSv1_2
H = {"Authorization": f"Bearer {SUP}"}
try:
    with httpx.Client(base_url=f"https://{HOST}:{port}", verify=trust, timeout=60) as api:
        while True:
            try:
                api.get("/api/sessions", headers=H)
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        sid = api.post("/api/sessions", headers=H, json={"source": {"kind": "simulator", "duration_s": 3600, "seed": 1},
                                                         "speed": 1.0}).json()["id"]
    url = f"wss://{HOST}:{port}/api/sessions/{sid}/ws?since=0"

    def attempt_sync(box):
        from websockets.sync.client import connect
        with connect(url, ssl=trust, subprotocols=["coregulate", f"token.{SUP}"], open_timeout=3600) as ws:
            box["local"] = ws.socket.getsockname()
            json.loads(ws.recv(timeout=3600))

    def attempt_asyncio(box):
        import asyncio
        from websockets.asyncio.client import connect

        async def go():
            async with connect(url, ssl=trust, subprotocols=["coregulate", f"token.{SUP}"], open_timeout=3600) as ws:
                json.loads(await ws.recv())
        asyncio.run(go())

    hung, times = [], []
    t_all = time.monotonic()
    for i in range(args.attempts):
        box = {}
        def run():
            t = time.monotonic()
            try:
                (attempt_sync if args.client == "sync" else attempt_asyncio)(box)
                box["ok"] = time.monotonic() - t
            except Exception as exc:
                box["error"] = repr(exc)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        th.join(args.limit)
        if th.is_alive() or "error" in box:
            ss = subprocess.run(["ss", "-tnip", "state", "established", f"( sport = :{port} or dport = :{port} )"],
                                capture_output=True, text=True).stdout
            hung.append((i, box, ss))
            print(f"attempt {i}: {'HUNG' if th.is_alive() else box['error']}\n{ss}", flush=True)
        else:
            times.append(box["ok"])
    times.sort()
    print(f"client={args.client} tls13={args.tls13}: {len(hung)} of {args.attempts} attempts without an answer in "
          f"{args.limit:g} s; ok median {times[len(times)//2]*1000:.0f} ms, max {times[-1]*1000:.0f} ms; "
          f"{time.monotonic()-t_all:.0f} s; load {os.getloadavg()[0]:.1f}", flush=True)
finally:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
