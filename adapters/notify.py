"""Notifications: a short text (a daily report summary, an escalation) posted to a team chat
or mailed, on the port ``notify`` (``OPS_NOTIFY_URL`` or ``[notify] url``).

- ``slack+https://hooks.slack.com/services/T…/B…/…`` — a Slack incoming webhook. The
  webhook path is the secret: the URL may carry it, or name only the host
  (``slack+https://hooks.slack.com``) and take the path (``T…/B…/…``) from
  ``OPS_NOTIFY_TOKEN``, which keeps it out of profile files. Names and messages show it as
  ``/services/***``. Slack answers ``ok``, or words like ``invalid_payload``,
  ``channel_not_found`` with a 4xx; 429 carries ``Retry-After``.
- ``telegram+https://api.telegram.org/?chat_id=-100123`` — the Bot API's ``sendMessage``;
  the bot token from ``OPS_TELEGRAM_TOKEN`` (or ``OPS_NOTIFY_TOKEN``). A 429 says how long
  to wait in ``parameters.retry_after``, which is honoured like ``Retry-After``.
- ``line+https://api.line.me/?to=U…`` — the LINE Messaging API push (a user, group or room
  id); the channel access token from ``OPS_LINE_TOKEN`` (or ``OPS_NOTIFY_TOKEN``). Every
  push request carries an ``X-Line-Retry-Key``, the same on each retry of that request,
  so LINE delivers it once; a 409 (the key was already accepted) counts as delivered.
- ``smtp://user@host:587/?to=ops-report@example.com&starttls=1`` (or ``smtps://``) — mail,
  through :class:`~deskops.adapters.smtp.SmtpSender`, so it is the same URL as ``--smtp``
  plus ``to`` (repeatable or comma-separated) and an optional ``from`` (else the profile's
  ``[smtp] from``); the password from ``OPS_SMTP_PASSWORD``. A ``smtp`` URL rather than
  ``mailto:`` because that is how the project already names a mail server.

Each chat scheme has a ``+http`` form for local servers, and takes ``rps=`` (requests a
second; Slack and Telegram default to one message a second per webhook or bot, LINE to 10).

Every adapter has ``post(text, *, title=None, key=None) -> dict``, ``display``,
``backend`` and ``close()``. A text longer than the service allows in one message
(Slack 40,000, Telegram 4,096, LINE 5,000 UTF-16 code units) is sent as several
messages, broken between lines where it can be. ``key`` names the message for the
services that can tell a repeat: LINE's retry keys derive from it, so LINE does not
deliver the same report twice within the day it keeps a key (``duplicate`` is then true),
and so does the mail's Message-ID, which mail clients use to fold copies; Slack and
Telegram cannot tell. The answer is ``{"service", "backend", "parts", "ids", "answers",
"duplicate"}``.

Retries, rate limits and one-line errors come from :class:`~deskops.adapters.vendor.HttpApi`:
401/403 are :class:`AuthError`, exhausted retries :class:`BackendUnreachable`, anything
else :class:`OpsError`; no message names a token or a webhook path.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Self
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx

from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .http import with_retries
from .vendor import HttpApi, NotFound, host_port, one_line, parse_rps, public_url

# namespace of the LINE retry keys derived from a caller's key
RETRY_KEY_NAMESPACE = uuid.UUID("6f1d3c1e-5a0b-4f5e-9a57-3f4b8f0d2c11")


def units(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram and LINE count a message."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _cut(line: str, limit: int) -> str:
    """The longest head of ``line`` within ``limit`` units, ending after a space if one is
    in its second half."""
    used = end = 0
    for ch in line:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit:
            break
        used += size
        end += 1
    space = line.rfind(" ", 0, end)
    if space >= end // 2:
        end = space + 1
    return line[: max(end, 1)]


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 code units: whole lines where they
    fit, a longer line broken after a space (else anywhere); blank pieces are dropped."""
    pieces: list[str] = []
    current, size = "", 0

    def flush() -> None:
        piece = current.rstrip().lstrip("\r\n")
        if piece.strip():
            pieces.append(piece)

    for line in text.splitlines(keepends=True):
        n = units(line)
        if size + n <= limit:
            current, size = current + line, size + n
            continue
        flush()
        while n > limit:
            head = _cut(line, limit)
            current = head
            flush()
            line = line[len(head) :]
            n = units(line)
        current, size = line, n
    flush()
    return pieces


def _body(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


class PostTarget(ABC):
    """A notifier as the target of a ``send`` change (``outbox:<key>``, after = {"text",
    "title"}): it reads as done once the journal has it applied (``store`` set by the
    caller), and writing it posts — so a rerun posts nothing, like a sent mail."""

    store: Any = None

    @abstractmethod
    def post(
        self, text: str, *, title: str | None = None, key: str | None = None
    ) -> dict[str, Any]: ...

    def read(self, change: Any) -> Any:
        if self.store is not None and self.store.sent(change.target):
            return change.after
        return None

    def write(self, change: Any) -> None:
        if change.op != "send":
            raise OpsError(f"a post cannot be changed or taken back ({change.target})")
        self.post(change.after["text"], title=change.after.get("title"), key=change.key)

    def transaction(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()


class ChatApi(PostTarget, HttpApi):
    """What the chat adapters share: the URL, splitting, the retry hint an error answer
    carries in its body, and error messages with the secret blanked out."""

    service = ""
    schemes: tuple[str, ...] = ()
    limit = 4096  # UTF-16 code units per message
    per_request = 1  # messages one request can carry
    default_rps = 1.0

    def __init__(self, url: str, *, secret: str | None, base_path: str = "") -> None:
        parts = urlsplit(url)
        if parts.scheme not in self.schemes or not parts.hostname:
            raise UsageError(f"{self.mask(url)}: expected {self.schemes[0]}://HOST…")
        if parts.username or parts.password:
            raise UsageError(f"{self.mask(url)}: no secret in the URL; use the environment")
        self.query = dict(parse_qsl(parts.query))
        rps = self.query.get("rps")
        host = host_port(parts)
        self.origin = f"{parts.scheme.partition('+')[2]}://{host}"
        super().__init__(
            url,
            base_url=self.origin + base_path,
            host=host,
            secret=secret,
            rps=self.default_rps if rps is None else parse_rps(rps, self.mask(url)),
            display=f"{self.service} {host}",
        )
        self.backend = f"notify:{self.mask(url)}"
        self.failed: httpx.Response | None = None  # the last error answer of a request

    def mask(self, url: str) -> str:
        return public_url(url)

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> Self:
        """``password``: the token (the scheme's own variable, or ``OPS_NOTIFY_TOKEN``)."""
        return cls(url, secret=password)

    # -- HTTP --------------------------------------------------------------------------------
    def describe(self, resp: httpx.Response) -> str:
        """The service's own words for an error answer."""
        return resp.text[:200]

    def error_message(self, resp: httpx.Response) -> str:
        self.failed = resp
        return self.describe(resp)

    def blank(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        data: dict[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        try:
            return super().send(method, path, params=params, data=data, body=body)
        except OpsError as exc:
            if self.secret and self.secret in exc.message:
                raise type(exc)(self.blank(exc.message), hint=exc.hint) from None
            raise

    # -- posting -----------------------------------------------------------------------------
    def compose(self, text: str, title: str | None) -> str:
        return f"{title}\n{text}" if title else text

    def post(
        self, text: str, *, title: str | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """Send ``text`` (after ``title``), in as many messages as it takes."""
        pieces = split_text(self.compose(text, title), self.limit)
        if not pieces:
            raise UsageError(f"{self.display}: nothing to send, the message is empty")
        ids: list[str] = []
        answers: list[Any] = []
        duplicate = False
        batches = [
            pieces[i : i + self.per_request] for i in range(0, len(pieces), self.per_request)
        ]
        done = 0
        for n, batch in enumerate(batches):
            try:
                got_ids, answer, again = self.deliver(batch, n, key)
            except OpsError as exc:
                if not done:
                    raise
                raise type(exc)(
                    f"{exc.message} (at message {done + 1} of {len(pieces)}; "
                    f"{done} delivered before it)",
                    hint=exc.hint,
                ) from None
            done += len(batch)
            ids.extend(got_ids)
            answers.append(answer)
            duplicate = duplicate or again
        return {
            "service": self.service,
            "backend": self.backend,
            "parts": len(pieces),
            "ids": ids,
            "answers": answers,
            "duplicate": duplicate,
        }

    @abstractmethod
    def deliver(self, texts: list[str], n: int, key: str | None) -> tuple[list[str], Any, bool]:
        """Send one request with ``texts`` (request ``n`` of a post): (message ids, the
        answer, whether the service had it already)."""


class SlackNotifier(ChatApi):
    """A Slack incoming webhook: ``POST {"text": …}`` to the webhook path."""

    service = "slack"
    schemes = ("slack+https", "slack+http")
    limit = 40000
    secret_hint = (
        "give the webhook URL, slack+https://hooks.slack.com/services/T…/B…/…, or its path "
        "in OPS_NOTIFY_TOKEN"
    )

    def __init__(self, url: str, *, secret: str | None = None) -> None:
        path = urlsplit(url).path
        given = path.removeprefix("/services/").strip("/")
        if path.strip("/") and not path.startswith("/services/"):
            raise UsageError(
                f"{self.mask(url)}: expected slack+https://hooks.slack.com/services/T…/B…/…"
            )
        if not given or given == "***":
            given = (secret or "").rpartition("/services/")[2].strip("/")
        super().__init__(url, secret=given or None)
        self.path = f"/services/{given}"

    def mask(self, url: str) -> str:
        parts = urlsplit(url)
        query = urlencode(parse_qsl(parts.query))
        return f"{parts.scheme}://{host_port(parts)}/services/***" + (f"?{query}" if query else "")

    def auth_headers(self, secret: str) -> dict[str, str]:
        return {}  # the webhook path is the credential

    def compose(self, text: str, title: str | None) -> str:
        # Slack reads &, < and > as markup: escaped, the text shows as written
        def esc(s: str) -> str:
            return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        return f"*{esc(title)}*\n{esc(text)}" if title else esc(text)

    def deliver(self, texts: list[str], n: int, key: str | None) -> tuple[list[str], Any, bool]:
        resp = self.send("POST", self.path, body={"text": texts[0]})
        answer = resp.text.strip()
        if answer != "ok":
            raise OpsError(
                one_line(f"{self.display}: unexpected answer to a webhook post: {answer[:60]!r}")
            )
        return [], answer, False


class TelegramNotifier(ChatApi):
    """The Telegram Bot API: ``POST /bot<token>/sendMessage`` to ``chat_id``."""

    service = "telegram"
    schemes = ("telegram+https", "telegram+http")
    limit = 4096
    secret_hint = "set OPS_TELEGRAM_TOKEN to the bot's token (from @BotFather)"

    def __init__(self, url: str, *, secret: str | None = None) -> None:
        super().__init__(url, secret=secret, base_path=f"/bot{secret}/" if secret else "")
        path = urlsplit(url).path
        if path not in ("", "/"):
            raise UsageError(f"{self.mask(url)}: no path; the API path is added here")
        self.chat_id = self.query.get("chat_id") or ""
        if not self.chat_id:
            raise UsageError(
                f"{self.mask(url)}: name the chat, telegram+https://api.telegram.org/?chat_id=ID"
            )
        self.display = f"telegram chat {self.chat_id}"

    def auth_headers(self, secret: str) -> dict[str, str]:
        return {}  # the token is in the path

    def describe(self, resp: httpx.Response) -> str:
        data = _body(resp)
        if not isinstance(data, dict):
            return resp.text[:200]
        text = str(data.get("description") or resp.reason_phrase or "")
        params = data.get("parameters")
        if isinstance(params, dict) and params.get("migrate_to_chat_id"):
            text += f" (the group is now chat_id={params['migrate_to_chat_id']})"
        return text

    def server_wait(self, resp: httpx.Response) -> float | None:
        data = _body(resp)
        params = data.get("parameters") if isinstance(data, dict) else None
        wait = params.get("retry_after") if isinstance(params, dict) else None
        return float(wait) if isinstance(wait, int | float) and wait >= 0 else None

    def deliver(self, texts: list[str], n: int, key: str | None) -> tuple[list[str], Any, bool]:
        body = {"chat_id": self.chat_id, "text": texts[0], "disable_web_page_preview": True}
        try:
            data = self.request("POST", "sendMessage", body=body)
        except NotFound as exc:  # the Bot API answers 404 to a token that is not a bot's
            raise AuthError(exc.message, hint=self.secret_hint) from None
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("ok") is not True or not isinstance(result, dict):
            words = data.get("description") if isinstance(data, dict) else None
            raise OpsError(
                one_line(f"{self.display}: sendMessage: not sent ({words or 'no result'})")
            )
        mid = result.get("message_id")
        return ([] if mid is None else [str(mid)]), data, False


class LineNotifier(ChatApi):
    """The LINE Messaging API: ``POST /v2/bot/message/push`` to ``to``, up to five text
    messages a request, each request with its own ``X-Line-Retry-Key``."""

    service = "line"
    schemes = ("line+https", "line+http")
    limit = 5000
    per_request = 5
    default_rps = 10.0
    secret_hint = "set OPS_LINE_TOKEN to the channel access token of the Messaging API channel"

    def __init__(self, url: str, *, secret: str | None = None) -> None:
        super().__init__(url, secret=secret)
        path = urlsplit(url).path
        if path not in ("", "/"):
            raise UsageError(f"{self.mask(url)}: no path; the API path is added here")
        self.to = self.query.get("to") or ""
        if not self.to:
            raise UsageError(
                f"{self.mask(url)}: name the recipient, line+https://api.line.me/?to=ID"
            )
        self.display = f"line to {self.to}"

    def auth_headers(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    def describe(self, resp: httpx.Response) -> str:
        data = _body(resp)
        if not isinstance(data, dict):
            return resp.text[:200]
        text = str(data.get("message") or resp.reason_phrase or "")
        details = data.get("details")
        if isinstance(details, list) and details:
            text += " (" + "; ".join(
                f"{d.get('property') or ''}: {d.get('message') or ''}".strip(": ")
                for d in details
                if isinstance(d, dict)
            ) + ")"  # fmt: skip
        return text

    def retry_key(self, n: int, key: str | None) -> str:
        """A UUID per push request; from ``key`` it is the same for the same report."""
        if key is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{self.to}\0{key}\0{n}"))

    def deliver(self, texts: list[str], n: int, key: str | None) -> tuple[list[str], Any, bool]:
        client = self.connect()
        client.headers["X-Line-Retry-Key"] = self.retry_key(n, key)
        body = {"to": self.to, "messages": [{"type": "text", "text": t} for t in texts]}
        again = False
        self.failed = None  # the error answer of this push, if any
        try:
            data = self.request("POST", "/v2/bot/message/push", body=body)
        except OpsError:
            if self.failed is None or self.failed.status_code != 409:
                raise
            data, again = _body(self.failed), True  # accepted before: delivered once
        finally:
            del client.headers["X-Line-Retry-Key"]
        sent = data.get("sentMessages") if isinstance(data, dict) else None
        ids = [str(m["id"]) for m in sent or [] if isinstance(m, dict) and m.get("id")]
        return ids, data, again


class MailNotifier(PostTarget):
    """The message as a plain-text mail, through :class:`SmtpSender`; a refused connection
    or a dropped session is tried again (``attempts``)."""

    service = "email"
    attempts = 3
    backoff = 2.0
    max_wait = 60.0

    def __init__(self, url: str, *, password: str | None = None, sender: str | None = None) -> None:
        from .smtp import SmtpSender
        from .store import mask_url

        query = parse_qs(urlsplit(url).query)
        self.to = [a.strip() for v in query.get("to", []) for a in v.split(",") if a.strip()]
        shown = mask_url(url).replace(":***@", "@")
        if not self.to or not all("@" in a for a in self.to):
            raise UsageError(f"{shown}: name the recipients, smtp://HOST:587/?to=ADDRESS")
        self.from_address = (query.get("from") or [""])[0] or sender or "ops@localhost"
        self.smtp = SmtpSender(url, password=password)
        self.backend = f"notify:{shown}"
        self.display = f"email to {', '.join(self.to)} via {self.smtp.host}:{self.smtp.port}"
        self.sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> MailNotifier:
        """``password``: the SMTP password (``OPS_SMTP_PASSWORD`` or ``OPS_NOTIFY_PASSWORD``);
        From is ``from=`` in the URL, else the profile's ``[smtp] from``."""
        section = profile.get("smtp") if isinstance(profile, dict) else None
        sender = section.get("from") if isinstance(section, dict) else None
        return cls(url, password=password, sender=str(sender) if sender else None)

    def message(self, text: str, title: str | None, key: str | None) -> tuple[bytes, str]:
        from email import policy
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        domain = self.from_address.rpartition("@")[2] or "localhost"
        if key is None:
            mid = make_msgid("notify", domain=domain)
        else:
            mid = f"<notify.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        msg = EmailMessage(policy=policy.SMTP)
        msg["Subject"] = one_line(title or first[:120] or "ops")
        msg["From"] = self.from_address
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = mid
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
        msg.set_content(text if text.endswith("\n") else text + "\n")
        return msg.as_bytes(), mid

    def post(
        self, text: str, *, title: str | None = None, key: str | None = None
    ) -> dict[str, Any]:
        if not text.strip() and not title:
            raise UsageError(f"{self.display}: nothing to send, the message is empty")
        raw, mid = self.message(text, title, key)
        try:
            with_retries(
                lambda: self.smtp.send(raw, self.from_address, self.to),
                attempts=self.attempts, backoff=self.backoff, max_wait=self.max_wait,
                sleep=self.sleep, on=BackendUnreachable,
            )  # fmt: skip
        except BackendUnreachable as exc:
            raise BackendUnreachable(
                one_line(f"{exc.message}; gave up after {self.attempts} attempts"),
                hint="try again later",
            ) from None
        return {
            "service": self.service,
            "backend": self.backend,
            "parts": 1,
            "ids": [mid],
            "answers": [],
            "duplicate": False,
        }

    def close(self) -> None:
        """Nothing is kept open: every post is its own SMTP session."""
