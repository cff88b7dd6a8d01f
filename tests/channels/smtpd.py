"""A tiny real SMTP server on loopback for tests (RFC 5321 subset: HELO/EHLO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT). Started by the tests themselves; ``fail_with`` makes it answer a temporary
error to simulate a mail server that is down."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes, policy


class _Handler(socketserver.StreamRequestHandler):
    def _send(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        srv: SmtpServer = self.server.owner  # type: ignore[attr-defined]
        self._send("220 localhost test smtpd")
        mail_from, rcpts = None, []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            cmd = raw.decode("utf-8", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("HELO", "EHLO"):
                self._send("250 localhost")
            elif verb == "MAIL":
                if srv.fail_with:
                    self._send(srv.fail_with)
                    continue
                mail_from, rcpts = cmd[10:].strip(), []
                self._send("250 OK")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].strip().strip("<>"))
                self._send("250 OK")
            elif verb == "DATA":
                self._send("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    line = self.rfile.readline()
                    if line in (b".\r\n", b".\n", b""):
                        break
                    if line.startswith(b".."):
                        line = line[1:]
                    lines.append(line)
                msg = message_from_bytes(b"".join(lines), policy=policy.default)
                srv.messages.append({"from": mail_from, "to": rcpts, "msg": msg})
                self._send("250 OK queued")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self._send("250 OK")
            elif verb == "NOOP":
                self._send("250 OK")
            elif verb == "QUIT":
                self._send("221 Bye")
                return
            else:
                self._send("502 Command not implemented")


class SmtpServer:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.fail_with: str | None = None
        self._srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._srv.daemon_threads = True
        self._srv.owner = self  # type: ignore[attr-defined]
        self.port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._srv.shutdown()
        self._srv.server_close()
