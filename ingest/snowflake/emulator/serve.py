"""Run fakesnow as a Snowflake-compatible HTTP server on a loopback port, for finhouse's tests and demo.

    python serve.py --port-file FILE [--port N]

Started by `ingest/snowflake/emulator/run start` inside the emulator's own environment
(.finhouse/fakesnow-venv). It binds 127.0.0.1 only (port 0 = a free one), writes the port to FILE once the
server answers, and runs until SIGTERM or SIGINT.

One addition to fakesnow: fakesnow accepts any user and password, while real Snowflake refuses wrong
credentials with error 390100. So the login request is checked here against FAKESNOW_USER and
FAKESNOW_PASSWORD (default fake/snow, fakesnow's documented credentials), and a mismatch gets the
response Snowflake gives (HTTP 200, success false, code 390100). That lets the tests check how the
loader reports wrong credentials; it is not a model of Snowflake's authentication (roles, grants and
network policies are not emulated at all)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import sys
import threading
from pathlib import Path

LOGIN_PATH = "/session/v1/login-request"


class CheckLogin:
    """ASGI middleware: refuse a login whose LOGIN_NAME/PASSWORD differ from the expected ones."""

    def __init__(self, app, user: str, password: str):
        self.app, self.user, self.password = app, user, password

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != LOGIN_PATH:
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        headers = dict(scope.get("headers") or [])
        try:
            body = gzip.decompress(raw) if headers.get(b"content-encoding") == b"gzip" else raw
            data = json.loads(body).get("data") or {}
        except (OSError, ValueError):
            data = {}
        if data.get("LOGIN_NAME") != self.user or data.get("PASSWORD") != self.password:
            payload = json.dumps({"data": None, "code": "390100", "success": False, "headers": None,
                                  "message": "Incorrect username or password was specified."}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return None
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        return await self.app(scope, replay, send)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--port-file", type=Path, required=True, help="write the port here once serving")
    args = parser.parse_args()

    import socket

    import fakesnow.server
    import uvicorn

    port = args.port
    if not port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    app = CheckLogin(fakesnow.server.app, os.environ.get("FAKESNOW_USER", "fake"),
                     os.environ.get("FAKESNOW_PASSWORD", "snow"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.run, name="fakesnow", daemon=True)
    thread.start()
    while thread.is_alive() and not server.started:
        stop.wait(0.05)
    if not server.started:
        print(f"fakesnow: the server did not start on 127.0.0.1:{port}", file=sys.stderr)
        return 1
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(args.port_file)
    print(f"fakesnow: serving on http://127.0.0.1:{port} (pid {os.getpid()})", file=sys.stderr, flush=True)
    while not stop.is_set() and thread.is_alive():
        stop.wait(0.5)
    server.should_exit = True
    thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
