"""Text messages to customers' phones, on the port ``sms`` (``--sms``, ``OPS_SMS_URL`` or
``[sms] url``).

``twilio+https://ACCOUNT_SID@api.twilio.com/?from=+15005550006`` (or
``?messaging_service=MG…`` to let a Messaging Service pick the sender) — Twilio's
``POST /2010-04-01/Accounts/{sid}/Messages.json``, form-encoded ``To``, ``From`` or
``MessagingServiceSid``, and ``Body``, with Basic auth: the account SID and the auth token
from ``OPS_TWILIO_TOKEN`` (as ``ops calls fetch`` does). ``twilio+http`` is for local
servers; ``rps=`` caps requests a second (default 10).

The number is put in E.164 with :func:`deskops.adapters.phones.e164` in the profile's
``[profile] country`` before it is sent, so a number stored as the desk wrote it
(``138-1234-5678``) reaches ``+8613812345678``; one that is not a phone number fails that
message. A text longer than one SMS segment goes as one message (Twilio splits it and the
phone joins the parts); Twilio refuses more than 1,600 characters, and so does this,
before asking.

As the target of a ``send`` change (``outbox:<key>``, after = {"to", "text"}; "title", if
any, goes first) it reads as done once the journal has that send applied, like a mail, so
a rerun sends nothing; writing it sends, and adds ``sent_to`` (E.164), Twilio's ``sid``,
``status`` and ``segments`` to the journaled ``after``.

Errors are one line. Twilio's own error body (``{"code": 21211, "message": …}``) is named
by its code, with what to do for the usual ones — 21211 an invalid 'To' number, 21610 a
recipient who replied STOP, 21408 a region the account may not send to: such a failure
is that message's, the others of a run still go. 401/403 are :class:`AuthError`; 429
(Twilio's 20429) and 502/503/504 are retried by :class:`~deskops.adapters.vendor.HttpApi`
with backoff, honouring ``Retry-After``, then :class:`BackendUnreachable`. A 500 is not
retried: Twilio may have queued the message already, and a second request would send it
twice. Once the credentials are refused, the messages after it fail without another
request (``refused``). No message, name or journal entry holds the token.
"""

from __future__ import annotations

import base64
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .notify import PostTarget, units
from .vendor import HttpApi, host_port, one_line, parse_rps, public_url

LIMIT = 1600  # characters of one message's Body (Twilio's limit, concatenated segments)

# What to do about the per-message errors met most often (twilio.com/docs/api/errors).
HINTS = {
    21211: "the 'To' number is not a valid phone number; correct the customer's number",
    21408: "the account may not send to this country; enable it in the console under "
    "Messaging > Settings > Geo permissions",
    21606: "the 'From' number cannot send SMS; give another in the URL's from=",
    21610: "the recipient replied STOP; they must reply START before they can be sent SMS again",
    21612: "Twilio cannot route to this number from the 'From' number",
    21614: "the 'To' number is not a mobile number",
    21659: "the 'From' number does not belong to the account",
}


def _query(raw: str) -> dict[str, str]:
    """The URL's parameters, with a ``+`` kept as a plus (``from=+15005550006``) rather
    than read as a space."""
    return dict(parse_qsl(raw.replace("+", "%2B")))


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


class TwilioSms(PostTarget, HttpApi):
    service = "twilio"
    schemes = ("twilio+https", "twilio+http")
    secret_hint = "set OPS_TWILIO_TOKEN (the auth token of the Twilio account)"

    def __init__(self, url: str, *, secret: str | None = None, region: str = "") -> None:
        parts = urlsplit(url)
        if parts.scheme not in self.schemes or not parts.hostname:
            raise UsageError(
                f"{public_url(url)}: expected twilio+https://ACCOUNT_SID@api.twilio.com/?from=…"
            )
        if parts.password:
            raise UsageError(f"{public_url(url)}: no secret in the URL; use OPS_TWILIO_TOKEN")
        if not parts.username:
            raise UsageError(f"{public_url(url)}: give the account SID: "
                             "twilio+https://ACCOUNT_SID@api.twilio.com/?from=…")  # fmt: skip
        self.sid = unquote(parts.username)
        query = _query(parts.query)
        self.sender = query.get("from", "").strip()
        self.messaging_service = query.get("messaging_service", "").strip()
        if bool(self.sender) == bool(self.messaging_service):
            raise UsageError(f"{public_url(url)}: give the sender, either from=+1… (a number "
                             "or sender ID) or messaging_service=MG…")  # fmt: skip
        if parts.path not in ("", "/"):
            raise UsageError(f"{public_url(url)}: no path; the API path is added here")
        host = host_port(parts)
        rps = query.get("rps")
        super().__init__(
            url,
            base_url=f"{parts.scheme.partition('+')[2]}://{host}",
            host=host,
            secret=secret,
            rps=10.0 if rps is None else parse_rps(rps, public_url(url)),
            display=f"twilio {self.sid}@{host}",
        )
        self.region = region.upper()
        self.path = f"/2010-04-01/Accounts/{self.sid}/Messages.json"
        self.backend = f"sms:{public_url(url)}"
        self.failed: httpx.Response | None = None  # the last error answer
        self.refused: AuthError | None = None  # Twilio refused the credentials: ask no more

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> Self:
        """``password``: the auth token; the profile's ``[profile] country`` reads numbers
        written without a country code."""
        section = profile.get("profile") if isinstance(profile, dict) else None
        region = section.get("country") if isinstance(section, dict) else None
        return cls(url, secret=password, region=str(region or ""))

    # -- HTTP --------------------------------------------------------------------------------
    def auth_headers(self, secret: str) -> dict[str, str]:
        token = base64.b64encode(f"{self.sid}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def error_message(self, resp: httpx.Response) -> str:
        self.failed = resp
        data = _json(resp)
        if isinstance(data, dict) and data.get("message"):
            code = data.get("code")
            return f"{data['message']}" + (f" (error {code})" if code else "")
        return resp.text[:200]

    def blank(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text

    # -- checks ------------------------------------------------------------------------------
    def recipient(self, to: Any) -> str:
        """``to`` in E.164, or an error naming it."""
        from .phones import e164

        written = str(to or "").strip()
        number = e164(written, self.region) if written else None
        if number is None:
            where = f" in {self.region}" if self.region else " (no [profile] country is set)"
            raise OpsError(f"{self.display}: {written!r} is not a phone number{where}; "
                           "nothing was sent to it")  # fmt: skip
        return number

    def body(self, text: str, title: str | None = None) -> str:
        body = f"{title}\n{text}" if title else text
        if not body.strip():
            raise UsageError(f"{self.display}: nothing to send, the message is empty")
        if units(body) > LIMIT:
            raise UsageError(f"{self.display}: the message has {units(body)} characters; an "
                             f"SMS may have at most {LIMIT} (shorten the template)")  # fmt: skip
        return body

    # -- sending -----------------------------------------------------------------------------
    def post(
        self,
        text: str,
        *,
        title: str | None = None,
        key: str | None = None,
        to: str | None = None,
    ) -> dict[str, Any]:
        """Send ``text`` (after ``title``) to ``to`` as one message: {"service", "backend",
        "to" (E.164), "sid", "status", "segments"}. ``key`` is not used: Twilio's API cannot
        tell a repeat, so sending once is the journal's work."""
        if to is None:
            raise UsageError(f"{self.display}: no recipient for the message")
        number, body = self.recipient(to), self.body(text, title)
        form = {"To": number, "Body": body}
        if self.messaging_service:
            form["MessagingServiceSid"] = self.messaging_service
        else:
            form["From"] = self.sender
        what = f"SMS to {number}"
        if self.refused is not None:
            raise AuthError(self.refused.message, hint=self.refused.hint)
        self.failed = None
        try:
            resp = self.send("POST", self.path, data=form)
        except AuthError as exc:
            self.refused = AuthError(self.blank(exc.message), hint=exc.hint)
            raise self.refused from None
        except BackendUnreachable as exc:
            raise BackendUnreachable(self.blank(exc.message), hint=exc.hint) from None
        except OpsError as exc:
            data = _json(self.failed) if self.failed is not None else None
            if not isinstance(data, dict) or not data.get("code"):
                raise OpsError(self.blank(exc.message), hint=exc.hint) from None
            code = data["code"]
            raise OpsError(
                one_line(f"{self.display}: {what}: Twilio error {code}: "
                         f"{self.blank(str(data.get('message') or ''))}"),
                hint=HINTS.get(code if isinstance(code, int) else -1),
            ) from None  # fmt: skip
        data = _json(resp)
        if not isinstance(data, dict) or not data.get("sid"):
            snippet = one_line(resp.text[:40])
            raise OpsError(
                f"{self.display}: {what}: HTTP {resp.status_code} but the answer is not a "
                f"message ({snippet!r})",
                hint="it may have been sent: look it up in the Twilio console before sending "
                "it again",
            )
        status = str(data.get("status") or "")
        if status in ("failed", "undelivered"):
            code = data.get("error_code")
            raise OpsError(one_line(f"{self.display}: {what}: {status}, Twilio error {code}: "
                                    f"{data.get('error_message') or ''}"),
                           hint=HINTS.get(code if isinstance(code, int) else -1))  # fmt: skip
        try:
            segments = int(data.get("num_segments") or 1)
        except (TypeError, ValueError):
            segments = 1
        return {"service": self.service, "backend": self.backend, "to": number,
                "sid": str(data["sid"]), "status": status, "segments": segments}  # fmt: skip

    # -- as a change target ------------------------------------------------------------------
    def read(self, change: Any) -> Any:
        """Sent already (the journal), else None — after checking the number and the length,
        so a dry run names a message that cannot go."""
        done = super().read(change)
        if done is None and change.op == "send":
            after = change.after or {}
            self.recipient(after.get("to"))
            self.body(str(after.get("text") or ""), after.get("title"))
        return done

    def write(self, change: Any) -> None:
        if change.op != "send":
            raise OpsError(f"a sent SMS cannot be changed or taken back ({change.target})")
        after = change.after
        got = self.post(str(after.get("text") or ""), title=after.get("title"),
                        to=after.get("to"))  # fmt: skip
        change.after = {**after, "sent_to": got["to"], "sid": got["sid"],
                        "status": got["status"], "segments": got["segments"]}  # fmt: skip
