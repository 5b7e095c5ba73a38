"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1 with STARTTLS (a self-signed certificate made with
`openssl req`) and AUTH (PLAIN/LOGIN, only after STARTTLS), recording every message it accepts."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from alertmanager_server import free_port

USERNAME = "driftwatch"
PASSWORD = "pa55-Word-never-logged"  # noqa: S105 - the test server's own credential
TEMPFAIL_RECIPIENT = "busy@example.org"  # answered 451: a transient failure


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    authenticated_as: str | None


@dataclass
class Handler:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address == TEMPFAIL_RECIPIENT:
            return "451 4.3.2 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.lock:
            self.messages.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.content), login)  # type: ignore[arg-type]
            )
        return "250 Message accepted for delivery"


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: Path
    handler: Handler
    controller: Controller
    folder: Path

    def stop(self) -> None:
        self.controller.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def self_signed(folder: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 (IP SAN) and its key, made with the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - a fixed command
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return cert, key


def start_smtp() -> tuple[SmtpServer | None, str]:
    folder = Path(tempfile.mkdtemp(prefix="driftwatch-smtp-"))
    pair = self_signed(folder)
    if pair is None:
        shutil.rmtree(folder, ignore_errors=True)
        return None, "no openssl command to make a test certificate"
    cert, key = pair
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Handler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    controller.start()
    return SmtpServer("127.0.0.1", int(controller.port), cert, handler, controller, folder), ""
