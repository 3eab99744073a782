"""Receivers of notifications for tests, each a real server process on a free port:

    python -m tests.notify_receivers http PORT RECORD_FILE STATUS_FILE
    python -m tests.notify_receivers smtp PORT RECORD_FILE [--starttls CERT KEY | --tls CERT KEY]
                                          [--login USER:PASSWORD] [--refuse-data CODE]

Each request or mail is one JSON line in RECORD_FILE (written before the answer). The HTTP
receiver answers with the status written in STATUS_FILE (200 when absent), read per request, so
a test can make a working endpoint fail (or `hang`: take the request, never answer) and recover.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if __name__ == "__main__":  # run as a script: the project's folder on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import ServerProcess, free_port


def _record(path: Path, entry: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        f.flush()


def http(port: int, record: Path, status_file: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                said = status_file.read_text().strip()
            except FileNotFoundError:
                said = "200"
            if said == "hang":  # an endpoint that takes the request and never answers
                time.sleep(60)
                return
            status = int(said)
            _record(
                record,
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body.decode("utf-8"),
                    "status": status,
                    "at": time.monotonic(),
                },
            )
            answer = b'{"ok": true}' if status < 300 else b'{"error": "as the test asked"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def smtp(port: int, record: Path, args: argparse.Namespace) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            if args.refuse_data:
                return f"{args.refuse_data} refused as the test asked"
            _record(
                record,
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "data": envelope.content.decode("utf-8"),
                    "tls": server.transport.get_extra_info("ssl_object") is not None
                    or session.ssl is not None,
                    "login": getattr(session, "login_data", None) is not None
                    or bool(getattr(session, "authenticated", False)),
                },
            )
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        user, password = args.login.split(":", 1)
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok)

    tls = args.starttls or args.tls
    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls[0], tls[1])
    options = {}
    if args.login:
        # Over implicit TLS aiosmtpd does not know the connection is encrypted: only STARTTLS
        # needs its check that AUTH comes after TLS.
        options.update(
            authenticator=authenticator, auth_required=True, auth_require_tls=not args.tls
        )
    if args.starttls:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if args.tls else None,
        # Its own start check gives up after 5 s by default, which a loaded test machine took:
        # the receiver then exited after the test saw its port open.
        ready_timeout=60,
        **options,
    )
    controller.start()
    threading.Event().wait()


class Receiver(ServerProcess):
    """One of the receivers above as a test's server process; `received()` its records."""

    def __init__(self, kind: str, folder: Path, *options: str):
        super().__init__(f"{kind}-receiver", folder, free_port())
        self.kind, self.options = kind, options
        self.record = folder / "received.jsonl"
        self.status_file = folder / "status"

    def command(self) -> list[str]:
        script = [sys.executable, __file__, self.kind, str(self.port), str(self.record)]
        return [*script, *([str(self.status_file)] if self.kind == "http" else []), *self.options]

    def answer_with(self, status: int | str) -> None:
        self.status_file.write_text(str(status))

    def received(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text(encoding="utf-8").splitlines()]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["http", "smtp"])
    p.add_argument("port", type=int)
    p.add_argument("record", type=Path)
    p.add_argument("status_file", type=Path, nargs="?")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--login")
    p.add_argument("--refuse-data", type=int)
    args = p.parse_args()
    if args.kind == "http":
        http(args.port, args.record, args.status_file)
    else:
        smtp(args.port, args.record, args)


if __name__ == "__main__":
    main()
