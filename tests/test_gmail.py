"""The Gmail API backend against a local fake Gmail server on 127.0.0.1.

The fake speaks the documented REST contract the adapter relies on: labels
list/create (409 on a duplicate, 400 for a nested label whose parent is
missing), messages list with ``labelIds``/``q`` and ``nextPageToken`` paging
(no ``messages`` key on an empty page), messages get ``format=raw|minimal``,
``batchModify`` (400 above 1,000 ids), Google-style error bodies, bearer
auth, and one-shot faults (429 + Retry-After, 503, malformed JSON).

It also serves the batch endpoint ``POST /batch/gmail/v1``: a ``multipart/mixed``
body parsed strictly (a defect is a 400), each ``application/http`` part an HTTP
request dispatched to the same handlers with the outer headers (auth) applying
unless the part overrides them, at most 100 calls (400 above, the documented
limit), and a ``multipart/mixed`` answer whose ``application/http`` parts carry
``Content-ID: <response-…>`` — in request order, or reversed with
``batch_reverse`` (the contract promises matching by Content-ID, not order).
A fault whose pattern matches a call inside a batch answers that part only.
Counters: ``log`` holds the HTTP requests, ``inner`` the calls inside batches,
``calls()`` counts API calls either way, ``served`` the raw reads answered.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from test_mail import PROFILE

from deskops.adapters.errors import AuthError, BackendUnreachable, OpsError, UsageError
from deskops.adapters.gmail import GmailMailbox, retry_after
from deskops.commands import plan as planmod
from deskops.commands.plan import Change

TOKEN = "ya29.test-token-do-not-log"
SYSTEM = ["INBOX", "SENT", "TRASH", "SPAM", "DRAFT", "UNREAD", "STARRED", "IMPORTANT"]


class FakeGmail:
    """State and behaviour of one Gmail account; the HTTP handler below serves it."""

    def __init__(self) -> None:
        self.labels: dict[str, dict[str, Any]] = {
            s: {"id": s, "name": s, "type": "system"} for s in SYSTEM
        }
        self.messages: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []  # (method, path) of every HTTP request
        self.inner: list[tuple[str, str]] = []  # (method, path) of every call inside a batch
        self.served: Counter[str] = Counter()  # message id → raw reads answered 200
        self.batch_sizes: list[int] = []  # calls in each batch request served
        self.faults: list[tuple[str, str, int, dict[str, str], bytes]] = []
        self.page_cap = 500
        self.batch_cap = 100  # calls per batch request (documented limit)
        self.batch_reverse = False
        self.token = TOKEN
        self.lock = threading.Lock()
        self._next = 0

    # -- set-up helpers used by the tests ------------------------------------------------
    def add_label(self, name: str) -> str:
        self._next += 1
        lid = f"Label_{self._next}"
        self.labels[lid] = {"id": lid, "name": name, "type": "user"}
        return lid

    def add_message(self, raw: bytes, labels: list[str], when: datetime) -> str:
        self._next += 1
        mid = f"{0x18C0000000 + self._next:016x}"
        self.messages[mid] = {
            "id": mid,
            "threadId": mid,
            "labelIds": list(labels),
            "raw": raw,
            "internalDate": str(int(when.timestamp() * 1000)),
        }
        return mid

    def fault(self, method: str, pattern: str, status: int, body: bytes = b"", **headers: str):  # type: ignore[no-untyped-def]
        """Answer the next request matching ``pattern`` (a regex on the path) this way, once."""
        self.faults.append((method, pattern, status, headers, body))

    def calls(self, method: str, pattern: str) -> int:
        """API calls matching, sent alone or inside a batch (Gmail's quota counts both)."""
        both = self.log + self.inner
        return sum(1 for m, p in both if m == method and re.search(pattern, p))

    def names(self, mid: str) -> set[str]:
        return {self.labels[x]["name"] for x in self.messages[mid]["labelIds"]}

    # -- the API -------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
        *,
        inner: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        (self.inner if inner else self.log).append((method, path))
        for i, (m, pattern, status, hdrs, fbody) in enumerate(self.faults):
            if m == method and re.search(pattern, path):
                del self.faults[i]
                return status, hdrs, fbody
        if path == "/batch/gmail/v1" and method == "POST" and not inner:
            return self.batch(headers, body)  # each call inside is authorised on its own
        if headers.get("Authorization") != f"Bearer {self.token}":
            return error(401, "Request had invalid authentication credentials.", "authError")
        m = re.fullmatch(r"/gmail/v1/users/([^/]+)/(.*)", path)
        if not m or unquote(m.group(1)) not in ("me", "reservation1@salon.example"):
            return error(404, "Not Found", "notFound")
        rest = m.group(2)
        if rest == "labels" and method == "GET":
            return ok({"labels": list(self.labels.values())})
        if rest == "labels" and method == "POST":
            name = json.loads(body)["name"]
            if any(lab["name"] == name for lab in self.labels.values()):
                return error(409, "Label name exists or conflicts", "conflict")
            parent = name.rpartition("/")[0]
            if parent and not any(lab["name"] == parent for lab in self.labels.values()):
                return error(400, f"Parent label {parent} does not exist", "invalidArgument")
            lid = self.add_label(name)
            return ok(self.labels[lid])
        if rest == "messages" and method == "GET":
            return self.list(query)
        if rest == "messages/batchModify" and method == "POST":
            return self.batch_modify(json.loads(body))
        mm = re.fullmatch(r"messages/([^/]+)", rest)
        if mm and method == "GET":
            msg = self.messages.get(mm.group(1))
            if msg is None:
                return error(404, "Requested entity was not found.", "notFound")
            fmt = (query.get("format") or ["full"])[0]
            out = {k: v for k, v in msg.items() if k != "raw"}
            if fmt == "raw":
                out["raw"] = base64.urlsafe_b64encode(msg["raw"]).decode().rstrip("=")
                self.served[msg["id"]] += 1
            return ok(out)
        # delete, trash and anything else the adapter must never call
        return error(405, f"{method} {rest} is not supported by the fake", "badRequest")

    def list(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        label_ids = query.get("labelIds") or []
        spam_trash = (query.get("includeSpamTrash") or ["false"])[0] == "true"
        q = (query.get("q") or [""])[0]
        found = []
        for msg in sorted(self.messages.values(), key=lambda x: -int(x["internalDate"])):
            lids = set(msg["labelIds"])
            if not all(x in lids for x in label_ids):
                continue
            if not spam_trash and lids & {"TRASH", "SPAM"}:
                continue
            if q and not matches(q, msg):
                continue
            found.append(msg)
        size = min(int((query.get("maxResults") or ["100"])[0]), 500, self.page_cap)
        start = int((query.get("pageToken") or ["0"])[0])
        page = found[start : start + size]
        out: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if page:  # Gmail leaves "messages" out when there is none
            out["messages"] = [{"id": x["id"], "threadId": x["threadId"]} for x in page]
        if start + size < len(found):
            out["nextPageToken"] = str(start + size)
        return ok(out)

    def batch(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """``POST /batch/gmail/v1``: the calls of a multipart/mixed body, answered alike."""
        ctype = headers.get("Content-Type") or ""
        if not ctype.lower().startswith("multipart/mixed") or "boundary=" not in ctype:
            return error(400, "Batch request must be multipart/mixed with a boundary", "badRequest")
        envelope = b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
        msg = BytesParser(policy=compat32).parsebytes(envelope)
        if msg.defects or not msg.is_multipart():
            return error(400, f"Malformed multipart body: {msg.defects}", "badRequest")
        parts = msg.get_payload()
        assert isinstance(parts, list)
        if len(parts) > self.batch_cap:
            return error(400, f"Too many calls in a batch: at most {self.batch_cap}", "badRequest")
        answers: list[tuple[str | None, tuple[int, dict[str, str], bytes]]] = []
        for part in parts:
            if part.get_content_type() != "application/http":
                return error(400, "Each part must be application/http", "badRequest")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            head, _, sub_body = payload.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").strip("\r\n").split("\r\n")
            words = lines[0].split(" ")
            if len(words) not in (2, 3) or not words[1].startswith("/"):
                return error(400, f"Bad request line in a part: {lines[0]!r}", "badRequest")
            sub_headers = Message()  # the outer headers apply unless the part sets its own
            for k, v in headers.items():
                if not k.lower().startswith("content-"):
                    sub_headers[k] = v
            for line in lines[1:]:
                k, _, v = line.partition(":")
                del sub_headers[k.strip()]
                sub_headers[k.strip()] = v.strip()
            target = urlsplit(words[1])
            cid = part.get("Content-ID")
            answer = self.handle(
                words[0], target.path, parse_qs(target.query), sub_headers, sub_body, inner=True
            )
            answers.append((cid.strip().strip("<>") if cid else None, answer))
        self.batch_sizes.append(len(parts))
        if self.batch_reverse:
            answers.reverse()
        boundary = f"batch_{len(self.log)}_fake"
        out = b""
        for cid, (status, hdrs, rbody) in answers:
            out += f"--{boundary}\r\nContent-Type: application/http\r\n".encode()
            if cid:
                out += f"Content-ID: <response-{cid}>\r\n".encode()
            out += f"\r\nHTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()
            for k, v in {**hdrs, "Content-Length": str(len(rbody))}.items():
                out += f"{k}: {v}\r\n".encode()
            out += b"\r\n" + rbody + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return 200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, out

    def batch_modify(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        ids = body.get("ids") or []
        if len(ids) > 1000:
            return error(400, "Too many ids: at most 1000", "invalidArgument")
        add, remove = body.get("addLabelIds") or [], body.get("removeLabelIds") or []
        for lid in add + remove:
            if lid not in self.labels:
                return error(400, f"Invalid label: {lid}", "invalidArgument")
        for mid in ids:
            msg = self.messages.get(mid)
            if msg is None:
                continue
            lids = [x for x in msg["labelIds"] if x not in remove]
            msg["labelIds"] = lids + [x for x in add if x not in lids]
        return 204, {}, b""


def matches(q: str, msg: dict[str, Any]) -> bool:
    """A small part of Gmail's search: after:EPOCH, rfc822msgid:, from:, subject:, words."""
    raw = msg["raw"].decode("utf-8", "replace")
    head = raw.split("\n\n", 1)[0]
    for term in q.split():
        key, sep, value = term.partition(":")
        if sep and key == "after":
            if int(msg["internalDate"]) // 1000 <= int(value):
                return False
        elif sep and key == "rfc822msgid":
            if f"<{value}>" not in head:
                return False
        elif sep and key in ("from", "subject"):
            line = next((ln for ln in head.splitlines() if ln.lower().startswith(key + ":")), "")
            if value.lower() not in line.lower():
                return False
        elif term.lower() not in raw.lower():
            return False
    return True


def ok(data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()


def error(code: int, message: str, reason: str) -> tuple[int, dict[str, str], bytes]:
    body = {"error": {"code": code, "message": message, "errors": [{"reason": reason}]}}
    return code, {"Content-Type": "application/json"}, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the adapter reuses its connection
    disable_nagle_algorithm = True  # headers and body go out in two writes
    fake: FakeGmail

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.fake.lock:
            status, headers, out = self.fake.handle(
                self.command, parts.path, parse_qs(parts.query), self.headers, body
            )
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def gmail(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGmail]:
    fake = FakeGmail()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("OPS_GMAIL_API_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("OPS_GMAIL_TOKEN", TOKEN)
    yield fake
    server.shutdown()
    server.server_close()


def message(
    mid: str, frm: str, subject: str, date: str = "Wed, 25 Nov 2026 10:00:00 +0900"
) -> bytes:
    m = EmailMessage()
    m["From"] = frm
    m["To"] = "reservation1@salon.example"
    m["Subject"] = subject
    m["Date"] = date
    m["Message-ID"] = f"<{mid}>"
    m.set_content("本文です", charset="iso-2022-jp")
    return bytes(m)


def put(fake: FakeGmail, mid: str, frm: str, subject: str, labels: list[str], **kw: str) -> str:
    raw = message(mid, frm, subject, **kw)
    when = parsedate_to_datetime(kw.get("date", "Wed, 25 Nov 2026 10:00:00 +0900"))
    return fake.add_message(raw, labels, when)


def box(url: str = "gmail://me/INBOX", **kw: Any) -> GmailMailbox:
    b = GmailMailbox(url, **kw)
    b.sleep = lambda s: None  # retries do not wait in tests (waits are checked apart)
    return b


# -- reading -----------------------------------------------------------------------------------
def test_reads_every_page_with_labels_flags_and_query(gmail: FakeGmail) -> None:
    gmail.page_cap = 4  # 11 INBOX messages → 3 pages
    shop = gmail.add_label("関東/新宿店")
    ids = [
        put(
            gmail,
            f"m{i}@x",
            "noreply@stores.example",
            f"予約 {i}",
            ["INBOX", "UNREAD"],
            date=format_datetime(datetime(2026, 11, 20 + i % 5, 1, i, tzinfo=UTC)),
        )
        for i in range(10)
    ]
    starred = put(gmail, "s@x", "yamada@example.jp", "問い合わせ", ["INBOX", "STARRED", shop])
    put(gmail, "t@x", "yamada@example.jp", "ゴミ", ["TRASH"])  # not in INBOX

    b = box()
    msgs = list(b.messages())
    assert len(msgs) == 11
    assert {m.id for m in msgs} == {*ids, starred}
    byid = {m.id: m for m in msgs}
    s = byid[starred]
    assert s.message_id == "s@x" and s.subject == "問い合わせ" and s.body_text == "本文です"
    assert s.labels == ["INBOX", "STARRED", "関東/新宿店"] and s.flagged and s.seen
    assert s.folder == "INBOX" and s.from_addr == "yamada@example.jp"
    m0 = byid[ids[0]]
    assert not m0.seen and not m0.flagged and m0.labels == ["INBOX", "UNREAD"]
    assert [m.date for m in msgs] == sorted(m.date for m in msgs)  # oldest first
    # 1 labels.list + 3 pages + 1 batch request of the 11 gets
    assert b.commands == 5
    assert gmail.calls("GET", r"/messages$") == 3 and gmail.calls("GET", r"/labels$") == 1
    assert gmail.batch_sizes == [11] and gmail.calls("GET", r"/messages/\w+$") == 11

    # ?q= and since: Gmail does the filtering; a label given by name is read by its id
    q = box("gmail://me/INBOX?q=from:yamada@example.jp")
    assert [m.id for m in q.messages()] == [starred]
    since = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    got = {m.id for m in box().messages(since=since)}
    assert got == {ids[4], ids[9], starred}  # 24 Nov 01:0x UTC and the 25 Nov 01:00 one
    shop_url = "gmail://me/%E9%96%A2%E6%9D%B1/%E6%96%B0%E5%AE%BF%E5%BA%97"  # 関東/新宿店
    assert [m.id for m in box(shop_url).messages()] == [starred]
    assert [m.folder for m in box().messages(folder="Trash")] == ["Trash"]
    # by Message-ID or Gmail id, whatever label they carry
    assert [m.id for m in box().messages(ids=["t@x", starred])] == [
        next(k for k, v in gmail.messages.items() if b"<t@x>" in v["raw"]),
        starred,
    ]


def test_empty_label_and_unknown_label(gmail: FakeGmail) -> None:
    b = box()
    assert list(b.messages()) == []  # the empty page has no "messages" key at all
    with pytest.raises(UsageError, match="no label 'nope'"):
        list(box("gmail://me/nope").messages())


def test_message_without_date_uses_gmail_time(gmail: FakeGmail) -> None:
    raw = b"From: a@example.jp\r\nSubject: x\r\nMessage-ID: <nodate@x>\r\n\r\nbody\r\n"
    gmail.add_message(raw, ["INBOX"], datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    (m,) = box().messages()
    assert m.message_id == "nodate@x" and m.date == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


# -- reading through the batch endpoint ----------------------------------------------------------
BATCH = "^/batch/gmail/v1$"


def _many(fake: FakeGmail, n: int) -> list[str]:
    """``n`` INBOX messages a minute apart; their ids oldest first."""
    return [
        put(
            fake,
            f"n{i}@x",
            "noreply@stores.example",
            f"予約 {i}",
            ["INBOX"],
            date=format_datetime(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i)),
        )
        for i in range(n)
    ]


def _one_line_malformed(b: GmailMailbox) -> str:
    with pytest.raises(OpsError) as exc:
        list(b.messages())
    assert not isinstance(exc.value, AuthError | BackendUnreachable)
    text = str(exc.value)
    assert "\n" not in text and "POST /batch/gmail/v1: malformed batch response" in text, text
    return text


def test_250_messages_take_5_batch_requests_in_listing_order(gmail: FakeGmail) -> None:
    ids = _many(gmail, 250)
    b = box()
    msgs = list(b.messages())
    assert [m.id for m in msgs] == ids  # oldest first: the listing, reversed
    assert [m.message_id for m in msgs] == [f"n{i}@x" for i in range(250)]
    # labels.list + one listing page + 5 batch requests of 50 calls; no single get
    assert b.commands == 7 and gmail.batch_sizes == [50] * 5
    assert gmail.calls("POST", BATCH) == 5 and len(gmail.log) == 7
    assert not any(re.search(r"/messages/\w+$", p) for _, p in gmail.log)
    assert gmail.served == Counter(dict.fromkeys(ids, 1))

    # ?batch=N tunes it; answers in any order are matched back by Content-ID
    gmail.batch_sizes.clear()
    gmail.batch_reverse = True
    assert [m.id for m in box("gmail://me/INBOX?batch=100").messages()] == ids
    assert gmail.batch_sizes == [100, 100, 50]

    # a generator: the first message costs one batch, not the whole label
    gmail.batch_sizes.clear()
    first = next(iter(box("gmail://me/INBOX?batch=10").messages()))
    assert first.id == ids[0] and gmail.batch_sizes == [10]


def test_a_part_429_is_retried_alone_after_a_backoff(gmail: FakeGmail) -> None:
    ids = _many(gmail, 120)
    rate = error(429, "Too many concurrent requests for user", "rateLimitExceeded")[2]
    gmail.fault("GET", f"/messages/{ids[7]}$", 429, rate, **{"Retry-After": "3"})
    gmail.fault("GET", f"/messages/{ids[9]}$", 503, b"backend error")
    gmail.fault("GET", f"/messages/{ids[60]}$", 403, error(403, "x", "userRateLimitExceeded")[2])
    b = box()
    waits: list[float] = []
    b.sleep = waits.append
    assert [m.id for m in b.messages()] == ids
    # the failed parts go again on their own, before the next batch; the others never do
    assert gmail.batch_sizes == [50, 2, 50, 1, 20]
    assert waits == [3.0, 1.0]  # Retry-After of the 429 part, then plain backoff
    assert gmail.served == Counter(dict.fromkeys(ids, 1))
    assert gmail.calls("GET", f"/messages/{ids[7]}$") == 2
    assert gmail.calls("GET", f"/messages/{ids[8]}$") == 1

    # a whole batch answering 503 is retried whole, like any request
    gmail.served.clear()
    gmail.fault("POST", BATCH, 503, b"Service Unavailable")
    b = box("gmail://me/INBOX?batch=100")
    assert len(list(b.messages())) == 120
    assert b.commands == 2 + 3 and gmail.served == Counter(dict.fromkeys(ids, 1))

    # a part that keeps failing: given up after the usual attempts, naming the message
    for _ in range(5):
        gmail.fault("GET", f"/messages/{ids[0]}$", 500, b"oops")
    b = box()
    waits.clear()
    b.sleep = waits.append
    with pytest.raises(BackendUnreachable, match=f"GET messages/{ids[0]} in POST .*5 attempts"):
        list(b.messages())
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_a_part_404_is_skipped_and_auth_parts_fail(gmail: FakeGmail) -> None:
    ids = _many(gmail, 5)
    it = box("gmail://me/INBOX?batch=2").messages()
    assert next(it).id == ids[0]
    del gmail.messages[ids[3]]  # deleted after the listing, before its batch
    assert [m.id for m in it] == [ids[1], ids[2], ids[4]]
    assert gmail.batch_sizes == [2, 2, 1]
    assert [m.id for m in box().messages(ids=["18cdeadbeef00000", ids[4]])] == [ids[4]]

    denied = error(403, "Insufficient Permission", "insufficientPermissions")[2]
    gmail.fault("GET", f"/messages/{ids[1]}$", 403, denied)
    with pytest.raises(AuthError, match=f"GET messages/{ids[1]}: HTTP 403 Insufficient"):
        list(box().messages())
    # a token revoked mid-run: every part answers 401 (the outer headers apply to each call)
    it = box("gmail://me/INBOX?batch=2").messages()
    next(it)
    gmail.token = "rotated"
    with pytest.raises(AuthError, match=f"GET messages/{ids[2]}: HTTP 401") as exc:
        list(it)
    assert TOKEN not in str(exc.value) and gmail.inner[-2:] == [
        ("GET", f"/gmail/v1/users/me/messages/{ids[2]}"),
        ("GET", f"/gmail/v1/users/me/messages/{ids[4]}"),
    ]


def test_batch_size_limit(gmail: FakeGmail) -> None:
    ids = _many(gmail, 101)
    for bad in ("101", "0", "many"):
        with pytest.raises(UsageError, match=f"batch={bad} must be .* from 1 to 100"):
            GmailMailbox(f"gmail://me/INBOX?batch={bad}")
    assert len(list(box("gmail://me/INBOX?batch=100").messages())) == 101
    assert gmail.batch_sizes == [100, 1]
    # the fake enforces the documented limit as Gmail does: the whole batch is refused
    b = box()
    b.batch = 101
    with pytest.raises(OpsError, match=r"POST /batch/gmail/v1: HTTP 400 Too many calls"):
        list(b.messages())
    assert gmail.batch_sizes == [100, 1] and gmail.served == Counter(dict.fromkeys(ids, 1))


def test_malformed_batch_answers_are_one_line_errors(gmail: FakeGmail) -> None:
    ids = _many(gmail, 2)
    part = (
        b"--b\r\nContent-Type: application/http\r\nContent-ID: <response-0>\r\n\r\n"
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"id": "x"}\r\n'
    )
    multipart = {"Content-Type": "multipart/mixed; boundary=b"}
    cases = [
        (b'{"responses": []}', {"Content-Type": "application/json"}, "not multipart/mixed"),
        (part, multipart, "closing boundary is missing"),
        (part + b"--b--\r\n", multipart, f"no answer for message {ids[1]}"),
        (part.replace(b"response-0", b"0") + b"--b--", multipart, "without a Content-ID"),
        (part.replace(b"HTTP/1.1 200 OK", b"<html>") + b"--b--", multipart, "not an HTTP resp"),
    ]
    for body, headers, why in cases:
        gmail.fault("POST", BATCH, 200, body, **headers)
        assert why in _one_line_malformed(box())
    # a part that is an HTTP answer but not JSON: the usual malformed-response error
    gmail.fault("GET", f"/messages/{ids[0]}$", 200, b"<html>oops\n</html>")
    with pytest.raises(OpsError, match=f"GET messages/{ids[0]}: malformed response, not JSON"):
        list(box().messages())


def test_bad_urls() -> None:
    with pytest.raises(UsageError):
        GmailMailbox("gmail:///INBOX")
    with pytest.raises(UsageError):
        GmailMailbox("imap://me/INBOX")
    b = GmailMailbox("gmail://reservation1@salon.example/関東/新宿店?q=is:unread")
    assert b.user == "reservation1@salon.example" and b.label == "関東/新宿店"
    assert b.query == "is:unread" and "?" not in b.backend
    from deskops.adapters.registry import resolve

    assert resolve("mail", "gmail://me/INBOX") is GmailMailbox


# -- auth, retries, malformed bodies ---------------------------------------------------------------
def test_token_from_file_plain_or_json(gmail: FakeGmail, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPS_GMAIL_TOKEN")
    with pytest.raises(AuthError, match="no access token"):
        box().labels()
    f = tmp_path / "token.json"
    f.write_text(json.dumps({"access_token": TOKEN, "expires_in": 3599}), encoding="utf-8")
    monkeypatch.setenv("OPS_GMAIL_TOKEN_FILE", str(f))
    assert "INBOX" in box().labels().values()
    f.write_text(TOKEN + "\n", encoding="utf-8")
    assert "INBOX" in box().labels().values()
    monkeypatch.delenv("OPS_GMAIL_TOKEN_FILE")
    assert "INBOX" in GmailMailbox.from_config("gmail://me/INBOX", {}, TOKEN).labels().values()


def test_bad_token_is_auth_error_without_retry_or_leak(gmail: FakeGmail) -> None:
    b = box(token="wrong-token")
    with pytest.raises(AuthError) as exc:
        list(b.messages())
    assert b.commands == 1 and "wrong-token" not in str(exc.value)
    assert "HTTP 401" in str(exc.value)
    gmail.fault(
        "GET", "/labels", 403, error(403, "Insufficient Permission", "insufficientPermissions")[2]
    )
    with pytest.raises(AuthError, match="Insufficient Permission"):
        box().labels()


def test_retries_429_with_retry_after_and_503(gmail: FakeGmail) -> None:
    put(gmail, "a@x", "a@example.jp", "x", ["INBOX"])
    gmail.fault(
        "GET",
        r"/messages$",
        429,
        error(429, "Too many requests", "rateLimitExceeded")[2],
        **{"Retry-After": "7"},
    )
    gmail.fault("GET", r"/messages/[0-9a-f]+$", 503, b"Service Unavailable")
    gmail.fault("GET", r"/labels$", 403, error(403, "User-rate limit", "userRateLimitExceeded")[2])
    b = box()
    waits: list[float] = []
    b.sleep = waits.append
    msgs = list(b.messages())
    assert [m.message_id for m in msgs] == ["a@x"]
    # Retry-After (list), backoff (the get, a part of the batch), backoff (labels)
    assert waits == [7.0, 1.0, 1.0]
    assert b.commands == 3 + 3  # labels, list, batch + one retry each
    assert gmail.batch_sizes == [1, 1] and gmail.served == Counter({msgs[0].id: 1})


def test_gives_up_after_a_few_attempts(gmail: FakeGmail) -> None:
    for _ in range(5):
        gmail.fault("GET", r"/labels$", 500, b"oops")
    b = box()
    waits: list[float] = []
    b.sleep = waits.append
    with pytest.raises(BackendUnreachable, match="HTTP 500.*5 attempts"):
        b.labels()
    assert b.commands == 5 and waits == [1.0, 2.0, 4.0, 8.0]
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and retry_after("x") is None


def test_connection_refused_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPS_GMAIL_API_URL", f"http://127.0.0.1:{port}")
    b = box(token=TOKEN)
    with pytest.raises(BackendUnreachable, match="cannot reach") as exc:
        b.labels()
    assert b.commands == b.attempts and TOKEN not in str(exc.value)


def test_malformed_json_is_a_clear_error(gmail: FakeGmail) -> None:
    gmail.fault("GET", r"/labels$", 200, b'{"labels": [', **{"Content-Type": "application/json"})
    with pytest.raises(OpsError, match=r"GET labels: malformed response, not JSON"):
        box().labels()
    gmail.fault("GET", r"/messages$", 200, b'{"messages": "nope"}')
    with pytest.raises(OpsError, match="malformed response"):
        list(box().messages())


# -- changes -----------------------------------------------------------------------------------
def _store(tmp_path: Path) -> Any:
    from deskops.adapters.store import Store

    return Store.open(str(tmp_path / "s.sqlite"))


def test_1500_label_changes_take_two_batch_calls(
    gmail: FakeGmail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = message("bulk@x", "info@seo.example", "SEO")
    when = datetime(2026, 11, 25, tzinfo=UTC)
    ids = [gmail.add_message(raw, ["INBOX", "UNREAD"], when) for _ in range(1500)]
    b = box()
    assert len(list(b.messages())) == 1500  # reading fills the label cache
    before = b.commands
    changes = [
        Change(f"messages:{i}", "labels", "add", None, "関東/新宿店", "t", b.backend) for i in ids
    ]
    plan = planmod.Plan("t", changes)
    store = _store(tmp_path)
    result = planmod.execute(plan, store, {b.backend: b}, atomic=False)
    assert result.counts == {"applied": 1500}
    assert gmail.calls("POST", "batchModify") == 2
    # two label creations (parent first) and two batchModify calls, nothing per message
    assert b.commands - before == 4
    created = [lab["name"] for lab in gmail.labels.values() if lab["type"] == "user"]
    assert created == ["関東", "関東/新宿店"]
    assert all("関東/新宿店" in gmail.names(i) for i in ids)

    # the fake enforces the documented limit: a bigger batch is refused, changes fail clearly
    monkeypatch.setattr("deskops.adapters.gmail.BATCH_MAX", 1500)
    again = [Change(f"messages:{i}", "seen", "set", False, True, "t", b.backend) for i in ids]
    result = planmod.execute(planmod.Plan("t", again), store, {b.backend: b}, atomic=False)
    assert result.counts == {"failed": 1500}
    assert "HTTP 400 Too many ids" in (again[0].error or "")
    store.close()


def test_folders_flags_and_undo(gmail: FakeGmail, tmp_path: Path) -> None:
    a = put(gmail, "a@x", "a@example.jp", "a", ["INBOX", "UNREAD"])
    c = put(gmail, "c@x", "c@example.jp", "c", ["INBOX", "UNREAD"])
    d = put(gmail, "d@x", "d@example.jp", "d", ["INBOX", "UNREAD"])
    e = put(gmail, "e@x", "e@example.jp", "e", ["INBOX"])
    b = box()
    msgs = {m.id: m for m in b.messages()}
    assert all(m.folder == "INBOX" for m in msgs.values())
    B = b.backend
    changes = [
        Change(f"messages:{a}", "folder", "set", "INBOX", "Trash", "t", B),
        Change(f"messages:{c}", "folder", "set", "INBOX", "Archive", "t", B),
        Change(f"messages:{d}", "folder", "set", "INBOX", "要確認/後で", "t", B),
        Change(f"messages:{d}", "seen", "set", False, True, "t", B),
        Change(f"messages:{e}", "flagged", "set", False, True, "t", B),
        Change(f"messages:{e}", "labels", "add", None, "返信待ち", "t", B),
    ]
    store = _store(tmp_path)
    first = planmod.execute(planmod.Plan("t", changes), store, {B: b}, atomic=False)
    assert first.counts == {"applied": 6}
    assert gmail.names(a) == {"TRASH", "UNREAD"}
    assert gmail.names(c) == {"UNREAD"}
    assert gmail.names(d) == {"要確認/後で"}
    assert gmail.names(e) == {"INBOX", "STARRED", "返信待ち"}
    assert gmail.calls("POST", "batchModify") == 6  # one per distinct add/remove set
    assert not any(m == "DELETE" or p.endswith("/trash") for m, p in gmail.log)

    # a re-run is all skipped, read back from Gmail (a fresh adapter, nothing cached)
    again = [Change(x.target, x.field, x.op, x.before, x.after, x.reason, B) for x in changes]
    b2 = box()
    result = planmod.execute(planmod.Plan("t", again), store, {B: b2}, atomic=False)
    assert result.counts == {"skipped": 6}

    # undo, the way `ops undo` does it: atomic, one change at a time, on a reopened adapter
    plan = planmod.undo_plan(store, first.run_id)
    result = planmod.execute(plan, store, {B: box()})
    assert result.counts == {"applied": 6}, [x.error for x in plan.changes]
    for mid in (a, c, d):
        assert gmail.names(mid) == {"INBOX", "UNREAD"}
    assert gmail.names(e) == {"INBOX"}
    store.close()


# -- through the CLI ---------------------------------------------------------------------------
def test_cli_label_then_undo(cli, isolated: Path, gmail: FakeGmail) -> None:  # type: ignore[no-untyped-def]
    (isolated / "ops.toml").write_text(PROFILE, encoding="utf-8")
    subject = "【和楽 新宿店】予約が入りました"
    booking = [
        put(gmail, f"b{i}@stores", "noreply@stores.example", subject, ["INBOX", "UNREAD"])
        for i in range(3)
    ]
    spam = [put(gmail, f"s{i}@spam", "info@seo.example", "SEOで集客", ["INBOX"]) for i in range(2)]
    other = put(gmail, "q1@c", "someone@example.jp", "問い合わせ", ["INBOX", "IMPORTANT"])
    before = {mid: gmail.names(mid) for mid in gmail.messages}
    url = "gmail://me/INBOX"

    r = cli("mail", "label", "--mailbox", url, "--dry-run", "-o", "json")
    assert r.code == 0, r.err
    assert len(json.loads(r.out)) == 5 and gmail.calls("POST", "batchModify") == 0

    gmail.log.clear()
    gmail.inner.clear()
    r = cli("mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    # list + 1 batch (6 gets) + labels.list + 2 label creations (関東, 関東/新宿店)
    # + 3 batchModify
    assert len(gmail.log) == 8, gmail.log
    assert len(gmail.inner) == 6 and gmail.calls("POST", "^/batch/gmail/v1$") == 1
    rows = json.loads(r.out)
    assert {row["outcome"] for row in rows} == {"applied"} and len(rows) == 5
    for mid in booking:
        assert gmail.names(mid) == {"UNREAD", "関東/新宿店"}  # labelled and archived
    for mid in spam:
        assert gmail.names(mid) == {"TRASH"}
    assert gmail.names(other) == before[other]
    assert gmail.calls("POST", "batchModify") == 3  # label, archive, trash

    r = cli("mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0 and json.loads(r.out) == []  # moved mail is no longer in INBOX

    gmail.log.clear()
    gmail.inner.clear()
    r = cli("undo", "last", "--yes")
    assert r.code == 0, r.err
    assert {mid: gmail.names(mid) for mid in gmail.messages} == before
    # 8 changes on 5 messages: their labels read in one batch request (5 format=minimal
    # gets), labels.list, one batchModify per distinct add/remove set
    assert len(gmail.log) == 5, gmail.log
    assert gmail.calls("POST", "^/batch/gmail/v1$") == 1 and len(gmail.inner) == 5
    assert all(m == "GET" and "/messages/" in p for m, p in gmail.inner), gmail.inner
    assert gmail.calls("POST", "batchModify") == 3

    stores = list((isolated.parent / "data").rglob("*.sqlite*"))
    assert stores
    for f in stores:
        assert TOKEN.encode() not in f.read_bytes()
    for out in (r.out, r.err):
        assert TOKEN not in out


def test_cli_errors_map_to_exit_codes(cli, isolated: Path, gmail: FakeGmail, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (isolated / "ops.toml").write_text(PROFILE, encoding="utf-8")
    gmail.fault("GET", r"/messages$", 200, b"<html>not json</html>")
    r = cli("mail", "label", "--mailbox", "gmail://me/INBOX", "--yes")
    assert r.code == 1 and "malformed response, not JSON" in r.err and "Traceback" not in r.err
    put(gmail, "a@x", "a@example.jp", "x", ["INBOX"])
    gmail.fault("POST", r"^/batch/gmail/v1$", 200, b"--cut", **{"Content-Type": "text/html"})
    r = cli("mail", "label", "--mailbox", "gmail://me/INBOX", "--yes")
    assert r.code == 1 and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    assert "POST /batch/gmail/v1: malformed batch response, not multipart/mixed" in r.err
    monkeypatch.setenv("OPS_GMAIL_TOKEN", "ya29.expired-secret")
    r = cli("mail", "label", "--mailbox", "gmail://me/INBOX", "--yes")
    assert r.code == 4 and "HTTP 401" in r.err and "expired-secret" not in r.err
