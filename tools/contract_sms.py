"""A local Twilio Messages API on a free loopback port (stdlib only), for the tests of the
SMS sender (adapters/sms.py) — Twilio's documented contract for sending a message:

- ``POST /2010-04-01/Accounts/{sid}/Messages.json``, Basic auth (account SID, auth token);
  another token, or none, answers 401 with Twilio's error body
  ``{"code": 20003, "message": "Authenticate", "more_info": …, "status": 401}``;
- a form-encoded body: ``To``, ``From`` or ``MessagingServiceSid``, ``Body``; answers
  201 with the message resource (``sid`` SM…, ``status`` queued — accepted through a
  Messaging Service —, ``num_segments``: 160 GSM-7 characters or 70 UCS-2 ones in one
  segment, 153 / 67 a segment beyond);
- 400s with Twilio's codes: 21604 no ``To``, 21603 no sender, 21602 no ``Body``, 21617 a
  body over 1,600 characters, 21211 a ``To`` that is not E.164 or one of ``invalid``,
  21610 a ``To`` in ``blocked`` (replied STOP), 21408 a ``To`` starting with one of
  ``closed_regions``; Twilio's magic test numbers answer as they do for test
  credentials (+15005550001 → 21211, +15005550002 → 21612, +15005550003 → 21408,
  +15005550004 → 21610, +15005550009 → 21614);
- another path or method: 404 (20404).

Faults come from :class:`contract_orders.ContractServer`: ``fail_next(n, 429,
retry_after=…)`` answers Twilio's 20429 "Too Many Requests" with ``Retry-After`` to the
next ``n`` requests, ``fail_next(status=500)`` a 20500, ``malformed_next`` a 200 whose
body is not JSON. ``messages`` holds what was accepted::

    with TwilioSmsServer(sid="AC…", token="…") as srv:
        ... TwilioSms(f"twilio+http://AC…@127.0.0.1:{srv.port}/?from=+15005550006", …) ...
        srv.messages, srv.sent[429]
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from contract_orders import Answer, ContractServer, Fault, _json

LIMIT = 1600
E164 = re.compile(r"\+[1-9]\d{6,14}")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f"
)
MAGIC = {  # Twilio's test numbers (twilio.com/docs/iam/test-credentials)
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number: +15005550002, is not currently reachable "
        "using the 'From' phone number via SMS.",
    ),  # fmt: skip
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region "
        "indicated by the 'To' number: +15005550003.",
    ),  # fmt: skip
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
STATUS_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


def segments(body: str) -> int:
    """How many SMS segments Twilio bills ``body`` as."""
    if all(ch in GSM7 for ch in body):
        one, part = 160, 153
        size = len(body) + sum(1 for ch in body if ch in "^{}\\[~]|€\f")  # escaped: 2 septets
    else:
        one, part = 70, 67
        size = len(body.encode("utf-16-le")) // 2
    return 1 if size <= one else -(-size // part)


class TwilioSmsServer(ContractServer):
    """One account ``sid`` with auth token ``token``; ``blocked``: numbers that replied
    STOP; ``invalid``: numbers Twilio does not accept as phone numbers; ``closed_regions``:
    prefixes (``+86``) the account may not send to."""

    def __init__(
        self,
        *,
        sid: str,
        token: str,
        blocked: Iterable[str] = (),
        invalid: Iterable[str] = (),
        closed_regions: Iterable[str] = (),
        fail: Fault | Iterable[Fault] | None = None,
    ) -> None:
        super().__init__(fail=fail)
        self.sid = sid
        self.token = token
        self.blocked = set(blocked)
        self.invalid = set(invalid)
        self.closed_regions = tuple(closed_regions)
        self.messages: list[dict[str, Any]] = []  # the accepted messages (resources)
        self.forms: list[dict[str, str]] = []  # every authenticated form, accepted or not

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        code = STATUS_CODES.get(status, 20000 + status)
        if status == 429 and message == "injected failure":
            message = "Too Many Requests"
        return self.twilio_error(status, code, message, headers)

    def twilio_error(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> Answer:
        return _json(
            status,
            {"code": code, "message": message,
             "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
            headers,
        )  # fmt: skip

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        want = base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if headers.get("Authorization") != f"Basic {want}":
            return self.error(401, "Authenticate")
        base = f"/2010-04-01/Accounts/{self.sid}/Messages.json"
        if path != base or method != "POST":
            return self.error(404, f"The requested resource {path} was not found")
        try:
            raw = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return self.twilio_error(400, 20001, "Unable to parse the request body")
        form = {k: v[-1] for k, v in raw.items()}
        self.forms.append(form)
        to, text = form.get("To", "").strip(), form.get("Body", "")
        sender, service = form.get("From", "").strip(), form.get("MessagingServiceSid", "")
        if not to:
            return self.twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return self.twilio_error(400, 21603, "A 'From' phone number is required.")
        if not text.strip():
            return self.twilio_error(400, 21602, "Message body is required.")
        if len(text) > LIMIT:
            return self.twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if to in MAGIC:
            return self.twilio_error(400, *MAGIC[to])
        if not E164.fullmatch(to) or to in self.invalid:
            return self.twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone "
                                     "number.")  # fmt: skip
        if to in self.blocked:
            return self.twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        if to.startswith(self.closed_regions) and self.closed_regions:
            return self.twilio_error(
                400, 21408, "Permission to send an SMS has not been enabled for the region "
                f"indicated by the 'To' number: {to}.",
            )  # fmt: skip
        msid = f"SM{len(self.messages) + 1:032x}"
        resource = {
            "account_sid": self.sid, "api_version": "2010-04-01", "body": text,
            "date_created": "Thu, 15 Jan 2026 01:00:00 +0000", "date_sent": None,
            "date_updated": "Thu, 15 Jan 2026 01:00:00 +0000", "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": sender or None,
            "messaging_service_sid": service or None, "num_media": "0",
            "num_segments": str(segments(text)), "price": None, "price_unit": "USD",
            "sid": msid, "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"{base[:-5]}/{msid}/Media.json"}, "to": to,
            "uri": f"{base[:-5]}/{msid}.json",
        }  # fmt: skip
        self.messages.append(resource)
        return _json(201, resource)
