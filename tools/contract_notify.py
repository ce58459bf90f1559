"""Local Slack webhook, Telegram Bot API and LINE Messaging API servers on a free loopback
port (stdlib only), for the tests of the notification adapters — the contract of
shared/backends.md "Notifications":

- Slack: ``POST /services/T…/B…/…`` with ``{"text": …}``; answers ``ok`` (text), or
  ``invalid_payload``/``no_text`` (400), ``invalid_token`` (403, a webhook path it does
  not know), ``channel_not_found`` (404, with ``channel_gone``), ``no_service`` (404);
- Telegram: ``POST /bot<token>/sendMessage`` with JSON ``{chat_id, text, …}``; answers
  ``{"ok": true, "result": {"message_id": …}}`` or ``{"ok": false, "error_code",
  "description"}`` — 401 for another token, 400 for an unknown chat, an empty text or one
  over 4,096 UTF-16 code units; a 429 says the wait in ``parameters.retry_after`` (never
  in a ``Retry-After`` header);
- LINE: ``POST /v2/bot/message/push``, Bearer token, JSON ``{to, messages: [≤5 texts of
  ≤5,000]}``, ``X-Line-Retry-Key`` (a UUID): a key already accepted answers 409 with the
  messages it sent; ``drop_answer_next`` accepts a push and then answers 503, as when the
  answer is lost on the way back.

Faults come from :class:`contract_orders.ContractServer` (``fail_next`` with
``retry_after``, ``delay_next``, ``malformed_next``). ``messages`` holds what was
delivered::

    with TelegramServer(token="123:abc") as srv:
        ... TelegramNotifier(f"telegram+{srv.url}/?chat_id=-100", secret="123:abc") ...
        srv.messages, srv.sent[429]
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from contract_orders import Answer, ContractServer, Fault, _json

TELEGRAM_LIMIT = 4096
LINE_LIMIT = 5000


def units(text: str) -> int:
    """UTF-16 code units, as Telegram and LINE count a text."""
    return len(text.encode("utf-16-le")) // 2


def _load(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


class SlackServer(ContractServer):
    """One incoming webhook at ``/services/{hook}``."""

    def __init__(
        self,
        *,
        hook: str = "T0001/B0001/Xsecretsecret",
        fail: Fault | Iterable[Fault] | None = None,
    ) -> None:
        super().__init__(fail=fail)
        self.hook = hook
        self.channel_gone = False
        self.messages: list[dict[str, Any]] = []

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        if status == 429 and message == "injected failure":
            message = "rate_limited"
        return status, {"Content-Type": "text/html", **(headers or {})}, message.encode()

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        if method != "POST" or not path.startswith("/services/"):
            return self.error(404, "no_service")
        if path != f"/services/{self.hook}":
            return self.error(403, "invalid_token")
        if self.channel_gone:
            return self.error(404, "channel_not_found")
        data = _load(body)
        if not isinstance(data, dict):
            return self.error(400, "invalid_payload")
        if not str(data.get("text") or "").strip():
            return self.error(400, "no_text")
        self.messages.append(data)
        return 200, {"Content-Type": "text/html"}, b"ok"


class TelegramServer(ContractServer):
    """A bot with ``token``; ``chats``: the chats it is in (None: any)."""

    def __init__(
        self,
        *,
        token: str,
        chats: Iterable[str] | None = None,
        fail: Fault | Iterable[Fault] | None = None,
    ) -> None:
        super().__init__(fail=fail)
        self.token = token
        self.chats = None if chats is None else {str(c) for c in chats}
        self.messages: list[dict[str, Any]] = []
        self.next_id = 100

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        headers = dict(headers or {})
        answer: dict[str, Any] = {"ok": False, "error_code": status, "description": message}
        wait = headers.pop("Retry-After", None)
        if wait is not None:
            seconds = int(float(wait))
            answer["description"] = f"Too Many Requests: retry after {seconds}"
            answer["parameters"] = {"retry_after": seconds}
        return _json(status, answer, headers)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        bot, _, name = path.removeprefix("/").partition("/")
        if not bot.startswith("bot") or ":" not in bot:
            return self.error(404, "Not Found")
        if bot != f"bot{self.token}":
            return self.error(401, "Unauthorized")
        if name != "sendMessage" or method != "POST":
            return self.error(404, "Not Found")
        data = _load(body)
        if not isinstance(data, dict):
            return self.error(400, "Bad Request: can't parse JSON")
        chat = str(data.get("chat_id") or "")
        text = str(data.get("text") or "")
        if not chat:
            return self.error(400, "Bad Request: chat_id is empty")
        if self.chats is not None and chat not in self.chats:
            return self.error(400, "Bad Request: chat not found")
        if not text.strip():
            return self.error(400, "Bad Request: message text is empty")
        if units(text) > TELEGRAM_LIMIT:
            return self.error(400, "Bad Request: message is too long")
        self.next_id += 1
        self.messages.append(data)
        result = {"message_id": self.next_id, "chat": {"id": chat}, "date": 0, "text": text}
        return _json(200, {"ok": True, "result": result})


class LineServer(ContractServer):
    """A Messaging API channel with access token ``token``."""

    def __init__(self, *, token: str, fail: Fault | Iterable[Fault] | None = None) -> None:
        super().__init__(fail=fail)
        self.token = token
        self.messages: list[dict[str, Any]] = []  # {"to", "text", "retry_key"}
        self.retry_keys: list[str | None] = []  # the header of every request, faulty or not
        self.accepted: dict[str, list[dict[str, str]]] = {}  # retry key → sentMessages
        self.drop_answers = 0

    def drop_answer_next(self, count: int = 1) -> None:
        with self.lock:
            self.drop_answers += count

    def dispatch(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        with self.lock:
            self.retry_keys.append(headers.get("X-Line-Retry-Key"))
        return super().dispatch(method, path, query, headers, body)

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        return _json(status, {"message": message}, headers)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self.error(
                401,
                "Authentication failed. Confirm that the access token in the authorization "
                "header is valid.",
            )
        if path != "/v2/bot/message/push" or method != "POST":
            return self.error(404, "Not found")
        key = headers.get("X-Line-Retry-Key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return self.error(400, "The value for the 'X-Line-Retry-Key' header is invalid")
            if key in self.accepted:
                return _json(
                    409,
                    {
                        "message": "The retry key is already accepted",
                        "sentMessages": self.accepted[key],
                    },
                    {"X-Line-Accepted-Request-Id": str(uuid.uuid5(uuid.NAMESPACE_OID, key))},
                )
        data = _load(body)
        if not isinstance(data, dict):
            return self.error(400, "The request body has 1 error(s)")
        problems = _push_problems(data)
        if problems:
            return _json(
                400,
                {
                    "message": f"The request body has {len(problems)} error(s)",
                    "details": [{"message": m, "property": p} for p, m in problems],
                },
            )
        sent = []
        for msg in data["messages"]:
            mid = str(600000 + len(self.messages))
            self.messages.append({"to": data["to"], "text": msg["text"], "retry_key": key})
            sent.append({"id": mid, "quoteToken": f"q{mid}"})
        if key is not None:
            self.accepted[key] = sent
        if self.drop_answers:
            self.drop_answers -= 1
            return self.error(503, "upstream timed out")
        return _json(200, {"sentMessages": sent})


def _push_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if not isinstance(data.get("to"), str) or not data["to"]:
        problems.append(("to", "must be specified"))
    messages = data.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [*problems, ("messages", "Size must be between 1 and 5")]
    for i, msg in enumerate(messages):
        text = msg.get("text") if isinstance(msg, dict) else None
        if not isinstance(msg, dict) or msg.get("type") != "text" or not isinstance(text, str):
            problems.append((f"messages[{i}]", "must be a text message"))
        elif not text.strip():
            problems.append((f"messages[{i}].text", "must be specified"))
        elif units(text) > LINE_LIMIT:
            problems.append((f"messages[{i}].text", f"Length must be between 0 and {LINE_LIMIT}"))
    return problems
