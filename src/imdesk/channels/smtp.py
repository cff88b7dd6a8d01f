"""Outgoing mail over SMTP (smtplib) to the configured host.

Delivery is called by the outbox worker (:mod:`imdesk.channels.outbox`), never from a request:
a failure raises :class:`DeliveryFailed` and the worker retries with backoff, so nothing is lost
while the mail server is down.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


class DeliveryFailed(Exception):
    """A message could not be handed to the SMTP server (temporary or permanent)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    mail_from: str = "imdesk@localhost"
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host, port=settings.smtp_port, user=settings.smtp_user,
            password=settings.smtp_password, starttls=settings.smtp_starttls, mail_from=settings.mail_from,
        )


def build_message(cfg: SmtpConfig, *, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=cfg.mail_from.rpartition("@")[2] or "imdesk")
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def send(cfg: SmtpConfig, msg: EmailMessage) -> None:
    if not cfg.host:
        raise DeliveryFailed("no SMTP host configured (IMDESK_SMTP_HOST)")
    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
            if cfg.starttls:
                smtp.starttls()
            if cfg.user:
                smtp.login(cfg.user, cfg.password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"recipient refused: {exc.recipients}", permanent=True) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600 and exc.smtp_code != 554) from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP server {cfg.host}:{cfg.port} unavailable: {exc}") from exc
    if refused:
        raise DeliveryFailed(f"recipients refused: {sorted(refused)}", permanent=True)
