"""Sending mail over SMTP (``smtp://user@host:587?starttls=1``, ``smtps://host:465``).

A sent message cannot be taken back, so a send is journaled with its own
op (``send``) that undo refuses by name. Sending is idempotent through the
journal itself: a send whose target key was already sent (journaled as
applied) is skipped, whatever was undone since. The password comes from ``OPS_SMTP_PASSWORD``
(or its ``_FILE``).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .store import Store, mask_url


class SmtpSender:
    def __init__(self, url: str, *, password: str | None = None, store: Store | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise UsageError(f"{mask_url(url)}: not an smtp:// or smtps:// URL")
        if not parts.hostname:
            raise UsageError(f"{mask_url(url)}: no host")
        self.host = parts.hostname
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.ssl = parts.scheme == "smtps"
        self.starttls = (parse_qs(parts.query).get("starttls") or ["0"])[0] in ("1", "true")
        self.user = unquote(parts.username) if parts.username else None
        self.password = password or (unquote(parts.password) if parts.password else None)
        self.backend = f"smtp:{mask_url(url).replace(':***@', '@')}"
        self.display = f"smtp {self.host}:{self.port}"
        self.store = store
        self.sent = 0

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> SmtpSender:
        return cls(url, password=password)

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        password = self.password or os.environ.get("OPS_SMTP_PASSWORD")
        if password is None and os.environ.get("OPS_SMTP_PASSWORD_FILE"):
            with open(os.environ["OPS_SMTP_PASSWORD_FILE"], encoding="utf-8") as fh:
                password = fh.read().strip()
        try:
            cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
            with cls(self.host, self.port, timeout=30) as conn:
                if self.starttls:
                    conn.starttls(context=ssl.create_default_context())
                if self.user:
                    conn.login(self.user, password or "")
                refused = conn.sendmail(sender, recipients, raw)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"{self.display}: login refused ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise OpsError(
                f"{self.display}: recipient refused: {', '.join(exc.recipients)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise BackendUnreachable(f"{self.display}: {exc}") from None
        if refused:
            raise OpsError(f"{self.display}: refused {', '.join(refused)}")
        self.sent += 1

    # change target: op "send" on outbox:<key>, after = {"raw", "from", "to"}
    def read(self, change: Any) -> Any:
        if self.store is not None and self.store.sent(change.target):
            return change.after  # it went out already
        return None

    def write(self, change: Any) -> None:
        if change.op != "send":
            raise OpsError(f"a sent mail cannot be changed or unsent ({change.target})")
        a = change.after
        raw = a["raw"] if isinstance(a["raw"], bytes) else str(a["raw"]).encode("utf-8")
        self.send(raw, a["from"], list(a["to"]))

    def transaction(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()
