"""Gmail through its REST API (``gmail://USER/LABEL?q=...``).

``USER`` is the mailbox address or ``me``; ``LABEL`` the label read by
default (``INBOX`` when absent; nested names as ``関東/新宿店``); ``q`` a Gmail
search added to every listing. The OAuth access token comes from
``OPS_GMAIL_TOKEN``, the file named by ``OPS_GMAIL_TOKEN_FILE`` (the plain
token, or JSON with ``access_token``), or the mail password of the profile —
never from the URL, and it never appears in messages or the journal.

Requests, and why:

- reading: one ``labels.list`` (label ids → names), ``messages.list`` pages
  of 500 ids, then the raw messages through the batch endpoint
  (``POST /batch/gmail/v1``, ``multipart/mixed``): one request carries 50
  ``messages.get?format=raw`` calls (``?batch=N`` on the URL, at most 100, the
  documented limit; Google advises 50 for Gmail, larger batches trip the
  per-user rate limit), so 10,000 messages cost 200 requests, not 10,000.
  Each batch is read whole before its messages are handed on, in listing
  order, so memory holds one batch. Quota is unchanged (a batched call counts
  as a call); the gain is round trips. A part answering 429/5xx/rate-limit
  403 is sent again, alone with the other failed parts of that batch and
  after a backoff, so a message once read is never asked for again; a part
  404 (deleted since the listing) is skipped; a part 401/403 is
  :class:`AuthError`; an answer that is not a well-formed ``multipart/mixed``
  with one ``Content-ID: <response-…>`` part per call is a one-line error;
- writing: changes become label edits grouped by identical add/remove sets,
  one ``messages.batchModify`` per group and 1,000 ids (the API's limit), so
  1,500 messages given one label cost two calls. Folders are labels here:
  Archive removes ``INBOX``, Trash adds ``TRASH`` (the delete endpoints are
  never called), any other folder adds its label and removes ``INBOX``.
  Missing labels are created parents first (``関東`` before ``関東/新宿店``),
  because Gmail does not create nested parents itself.

Every HTTP request goes through :meth:`GmailMailbox._call`: 429, 5xx, a
403 that is a rate limit, and network errors are retried with exponential
backoff (``Retry-After`` honoured) before giving up with
:class:`BackendUnreachable`; 401/403 are :class:`AuthError`. A batch request
is retried whole that way; its parts are judged by the same rules, one by one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from .eml import parse_message
from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .http import NotFound, Retryable, retry_after, with_retries
from .mailbox import MailMessage, from_record

DEFAULT_API = "https://gmail.googleapis.com"
BATCH_MAX = 1000  # ids per users.messages.batchModify (documented limit)
PAGE_SIZE = 500  # ids per users.messages.list page (documented maximum)
BATCH_PATH = "/batch/gmail/v1"  # the Gmail API's batch endpoint
READ_BATCH = 50  # calls per batch request by default (Google's advice for Gmail)
READ_BATCH_MAX = 100  # calls per batch request (documented limit)
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}

# Folder names that are Gmail system labels (compared case-folded).
_FOLDER_KIND = {
    "inbox": "INBOX",
    "trash": "TRASH",
    "[gmail]/trash": "TRASH",
    "[gmail]/bin": "TRASH",
    "spam": "SPAM",
    "junk": "SPAM",
    "[gmail]/spam": "SPAM",
    "archive": "ARCHIVE",
    "all mail": "ARCHIVE",
    "[gmail]/all mail": "ARCHIVE",
}
_KIND_NAME = {"INBOX": "INBOX", "TRASH": "Trash", "SPAM": "Spam", "ARCHIVE": "Archive"}


def folder_kind(name: str | None) -> str | None:
    """``INBOX``/``TRASH``/``SPAM``/``ARCHIVE`` for a folder name that is one, else None."""
    return _FOLDER_KIND.get(name.casefold()) if name else None


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class GmailMailbox:
    """The mailbox port over the Gmail API; targets are ``messages:<gmail id>``."""

    # Retry policy (tests make the waits short through these, or replace ``sleep``).
    attempts = 5
    backoff = 1.0  # seconds before the 2nd attempt, doubled each time
    max_wait = 60.0
    timeout = 30.0

    def __init__(self, url: str, *, token: str | None = None, password: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "gmail":
            raise UsageError(f"{url.split('?')[0]}: not a gmail:// URL")
        user = unquote(parts.netloc)
        if not user or ":" in user.rpartition("@")[0]:
            raise UsageError(
                f"{url.split('?')[0]}: give the mailbox, gmail://me/INBOX or "
                "gmail://user@example.com/INBOX (the token comes from OPS_GMAIL_TOKEN)"
            )
        self.user = user
        self.label = unquote(parts.path.strip("/")) or "INBOX"
        query = parse_qs(parts.query)
        self.query = " ".join(query.get("q", []))
        self.batch = READ_BATCH
        if query.get("batch"):
            try:
                self.batch = int(query["batch"][-1])
            except ValueError:
                self.batch = 0
            if not 1 <= self.batch <= READ_BATCH_MAX:
                raise UsageError(
                    f"{url.split('?')[0]}: batch={query['batch'][-1]} must be a number of "
                    f"messages per batch request from 1 to {READ_BATCH_MAX} (default {READ_BATCH})"
                )
        self.api = (os.environ.get("OPS_GMAIL_API_URL") or DEFAULT_API).rstrip("/")
        self.backend = f"mail:gmail://{quote(self.user, safe='@')}/{quote(self.label, safe='/')}"
        self.display = f"gmail {self.user}/{self.label}"
        self._explicit_token = token
        self._password = password
        self._token: str | None = None
        self.client: httpx.Client | None = None
        self.commands = 0  # HTTP requests sent, retries included (for benchmarks and tests)
        self.sleep: Callable[[float], None] = time.sleep
        self._names: dict[str, str] | None = None  # label id → name
        self._ids: dict[str, str] = {}  # label name → id
        self._state: dict[str, set[str]] = {}  # gmail id → label ids

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> GmailMailbox:
        """``password`` (the profile's mail secret) is a fallback for the access token."""
        return cls(url, password=password)

    # -- connection --------------------------------------------------------------------------
    def _access_token(self) -> str:
        if self._token:
            return self._token
        token = self._explicit_token or os.environ.get("OPS_GMAIL_TOKEN")
        path = os.environ.get("OPS_GMAIL_TOKEN_FILE")
        if not token and path:
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read().strip()
            except OSError as exc:
                raise AuthError(
                    f"{self.display}: cannot read OPS_GMAIL_TOKEN_FILE {path} ({exc.strerror})"
                ) from None
            if text.startswith("{"):
                try:
                    data = json.loads(text)
                except ValueError:
                    raise AuthError(f"{path}: not valid JSON (OPS_GMAIL_TOKEN_FILE)") from None
                token = data.get("access_token") if isinstance(data, dict) else None
                if not token:
                    raise AuthError(f"{path}: no access_token in OPS_GMAIL_TOKEN_FILE")
            else:
                token = text
        token = token or self._password
        if not token:
            raise AuthError(
                f"{self.display}: no access token",
                hint="set OPS_GMAIL_TOKEN or OPS_GMAIL_TOKEN_FILE to an OAuth access token",
            )
        self._token = str(token).strip()
        return self._token

    def connect(self) -> httpx.Client:
        if self.client is None:
            base = f"{self.api}/gmail/v1/users/{quote(self.user, safe='@')}/"
            self.client = httpx.Client(
                base_url=base,
                headers={
                    "Authorization": f"Bearer {self._access_token()}",
                    "Accept": "application/json",
                    "User-Agent": "deskops",
                },
                timeout=httpx.Timeout(self.timeout, connect=10.0),
            )
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str | None = None,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One HTTP request, retried; the response once it is a success."""
        client = self.connect()
        what = what or f"{method} {path.split('?')[0]}"

        def once() -> httpx.Response:
            self.commands += 1
            try:
                resp = client.request(
                    method, path, params=params, json=body, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                raise Retryable(f"cannot reach {self.api} ({type(exc).__name__}: {exc})") from None
            self._check(resp, what)
            return resp

        try:
            resp = with_retries(once, attempts=self.attempts, backoff=self.backoff,
                                max_wait=self.max_wait, sleep=self.sleep)  # fmt: skip
        except Retryable as exc:
            raise BackendUnreachable(
                self._scrub(f"{self.display}: {what}: {exc.message}, {self.attempts} attempts"),
                hint="try again later",
            ) from None
        return resp

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API call, retried; the decoded JSON object (``{}`` for an empty body)."""
        what = f"{method} {path.split('?')[0]}"
        return self._decode(self._call(method, path, what=what, params=params, body=body), what)

    def _check(self, resp: httpx.Response, what: str) -> None:
        """Raise for an error answer: :class:`Retryable` when another try may succeed."""
        code = resp.status_code
        if code < 400:
            return
        message, reason = _api_error(resp)
        if code == 429 or code >= 500 or (code == 403 and reason in RATE_REASONS):
            raise Retryable(
                f"HTTP {code} {message}".strip(), retry_after(resp.headers.get("Retry-After"))
            )
        text = self._scrub(f"{self.display}: {what}: HTTP {code} {message}".strip())
        if code in (401, 403):
            raise AuthError(
                text, hint="renew the OAuth access token in OPS_GMAIL_TOKEN or OPS_GMAIL_TOKEN_FILE"
            )
        if code == 404:
            raise NotFound(text)
        raise OpsError(text)

    def _decode(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        if not resp.content.strip():
            return {}
        try:
            data = resp.json()
        except ValueError:
            snippet = resp.text[:60].replace("\n", " ")
            raise OpsError(
                self._scrub(f"{self.display}: {what}: malformed response, not JSON ({snippet!r})")
            ) from None
        if not isinstance(data, dict):
            raise OpsError(f"{self.display}: {what}: malformed response, not a JSON object")
        return data

    # -- batch endpoint ----------------------------------------------------------------------
    def _batch(self, mids: list[str], fmt: str) -> list[tuple[str, httpx.Response]]:
        """One batch request of ``messages.get`` calls; each id with the answer to its call.

        The batch request itself is retried like any other; the answers to its parts
        are returned as they came (errors included), matched back by ``Content-ID``.
        """
        boundary = f"batch_{os.urandom(12).hex()}"
        prefix = urlsplit(self.api).path.rstrip("/")
        base = f"{prefix}/gmail/v1/users/{quote(self.user, safe='@')}/messages/"
        lines: list[str] = []
        for n, mid in enumerate(mids):
            lines += [
                f"--{boundary}",
                "Content-Type: application/http",
                f"Content-ID: <{n}>",
                "",
                f"GET {base}{quote(mid, safe='')}?format={fmt} HTTP/1.1",
                "",
                "",
            ]
        lines += [f"--{boundary}--", ""]
        resp = self._call(
            "POST",
            f"{self.api}{BATCH_PATH}",
            what=f"POST {BATCH_PATH}",
            content="\r\n".join(lines).encode("ascii"),
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
        )
        answers = self._batch_answers(resp)
        out: list[tuple[str, httpx.Response]] = []
        for n, mid in enumerate(mids):
            if str(n) not in answers:
                raise self._malformed(f"no answer for message {mid}")
            out.append((mid, answers[str(n)]))
        return out

    def _batch_answers(self, resp: httpx.Response) -> dict[str, httpx.Response]:
        """The parts of a batch answer by the ``Content-ID`` of their call."""
        ctype = resp.headers.get("Content-Type", "")
        m = re.search(r'boundary="?([^";\s]+)"?', ctype, re.I)
        if not ctype.lower().startswith("multipart/mixed") or not m:
            raise self._malformed(f"not multipart/mixed ({ctype or 'no Content-Type'!r})")
        pieces = _split_multipart(resp.content, m.group(1).encode("ascii", "replace"))
        if pieces is None:
            raise self._malformed("the closing boundary is missing (truncated?)")
        answers: dict[str, httpx.Response] = {}
        for piece in pieces:
            part_headers, payload = _head_body(piece)
            cid = next((v for k, v in part_headers if k.lower() == "content-id"), "")
            cid = cid.strip().strip("<>").strip()
            if not cid.startswith("response-"):
                raise self._malformed(f"a part without a Content-ID response-… ({cid!r})")
            head, body = _head_body(payload.lstrip(b"\r\n"), status_line=True)
            line = head[0][1] if head else ""
            status = re.fullmatch(r"HTTP/\d(?:\.\d)?\s+(\d{3})(?:\s.*)?", line)
            if status is None:
                raise self._malformed(f"part {cid} is not an HTTP response ({line[:40]!r})")
            answers[cid.removeprefix("response-")] = httpx.Response(
                int(status.group(1)), headers=head[1:], content=body
            )
        return answers

    def _malformed(self, why: str) -> OpsError:
        text = f"{self.display}: POST {BATCH_PATH}: malformed batch response, {why}"
        return OpsError(self._scrub(" ".join(text.split())))

    def _batch_get(self, mids: list[str], fmt: str) -> dict[str, dict[str, Any]]:
        """``messages.get`` of each id through batch requests; ids deleted meanwhile are absent.

        Parts that may succeed later (429, 5xx, a rate-limit 403) go again, alone, in
        the next request after a backoff (their ``Retry-After`` honoured): the parts
        that succeeded are never asked twice.
        """
        got: dict[str, dict[str, Any]] = {}
        todo = list(mids)
        for attempt in range(1, self.attempts + 1):
            failed: list[tuple[str, Retryable]] = []
            for mid, resp in self._batch(todo, fmt):
                what = f"GET messages/{mid}"
                try:
                    self._check(resp, what)
                except Retryable as exc:
                    failed.append((mid, exc))
                    continue
                except NotFound:
                    continue  # deleted between the listing and now
                got[mid] = self._decode(resp, what)
            if not failed:
                break
            if attempt == self.attempts:
                first, err = failed[0]
                more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
                raise BackendUnreachable(
                    self._scrub(
                        f"{self.display}: GET messages/{first}{more} in POST {BATCH_PATH}: "
                        f"{err.message}, {self.attempts} attempts"
                    ),
                    hint="try again later",
                )
            told = [e.retry_after for _, e in failed if e.retry_after is not None]
            wait = max(told) if told else self.backoff * 2 ** (attempt - 1)
            self.sleep(min(wait, self.max_wait))
            todo = [mid for mid, _ in failed]
        return got

    # -- labels ------------------------------------------------------------------------------
    def _load_labels(self) -> dict[str, str]:
        data = self._request("GET", "labels")
        labels = data.get("labels") or []
        if not isinstance(labels, list):
            raise OpsError(f"{self.display}: GET labels: malformed response, no label list")
        names: dict[str, str] = {}
        for lab in labels:
            if isinstance(lab, dict) and lab.get("id"):
                names[str(lab["id"])] = str(lab.get("name") or lab["id"])
        self._names = names
        self._ids = {name: lid for lid, name in names.items()}
        return names

    def labels(self) -> dict[str, str]:
        """Label id → name, read once per run."""
        return self._names if self._names is not None else self._load_labels()

    def label_id(self, name: str) -> str | None:
        """The id of a label name; system labels also match case-insensitively (``Inbox``)."""
        self.labels()
        if name in self._ids:
            return self._ids[name]
        upper = name.upper()
        if upper in self._ids and self._ids[upper] == upper:  # system labels: id == name
            return upper
        return None

    def label_name(self, lid: str) -> str:
        names = self.labels()
        if lid not in names:
            names = self._load_labels()  # created elsewhere since we listed
        return names.get(lid, lid)

    def ensure_label(self, name: str) -> str:
        """The id of ``name``, creating it and its missing parents first."""
        lid = self.label_id(name)
        if lid is not None:
            return lid
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            part = "/".join(parts[:i])
            if not part or self.label_id(part) is not None:
                continue
            try:
                made = self._request(
                    "POST",
                    "labels",
                    body={
                        "name": part,
                        "labelListVisibility": "labelShow",
                        "messageListVisibility": "show",
                    },
                )
            except OpsError as exc:
                if isinstance(exc, AuthError | BackendUnreachable):
                    raise
                self._load_labels()  # 409: made meanwhile (or by a retried request)
                if self.label_id(part) is None:
                    raise OpsError(
                        f"{self.display}: cannot create label {part!r} ({exc})"
                    ) from None
                continue
            if not made.get("id"):
                raise OpsError(f"{self.display}: POST labels: malformed response, no label id")
            assert self._names is not None
            self._names[str(made["id"])] = str(made.get("name") or part)
            self._ids[str(made.get("name") or part)] = str(made["id"])
        lid = self.label_id(name)
        if lid is None:
            raise OpsError(f"{self.display}: label {name!r} is missing after creating it")
        return lid

    # -- reading -----------------------------------------------------------------------------
    def _list_label(self, folder: str) -> str:
        kind = folder_kind(folder)
        if kind == "ARCHIVE":
            raise UsageError(f"{self.display}: Archive is not a Gmail label; read a label instead")
        lid = kind if kind else self.label_id(folder)
        if lid is None:
            raise UsageError(f"{self.display}: no label {folder!r} in this mailbox")
        return lid

    def list_ids(self, *, label_id: str | None, query: str, spam_trash: bool = False) -> list[str]:
        """Message ids of a label and search, every page, newest first as Gmail gives them."""
        out: list[str] = []
        seen: set[str] = set()
        token: str | None = None
        tokens: set[str] = set()
        while True:
            params: dict[str, Any] = {"maxResults": PAGE_SIZE}
            if label_id:
                params["labelIds"] = label_id
            if spam_trash or label_id in ("TRASH", "SPAM"):
                params["includeSpamTrash"] = "true"
            if query:
                params["q"] = query
            if token:
                params["pageToken"] = token
            data = self._request("GET", "messages", params=params)
            page = data.get("messages") or []  # absent when there is nothing
            if not isinstance(page, list):
                raise OpsError(f"{self.display}: GET messages: malformed response, no list")
            for item in page:
                mid = str(item.get("id") or "") if isinstance(item, dict) else ""
                if mid and mid not in seen:
                    seen.add(mid)
                    out.append(mid)
            token = data.get("nextPageToken") or None
            if not token or token in tokens:  # a repeated token would loop for ever
                return out
            tokens.add(token)

    def _get(self, mid: str, fmt: str) -> dict[str, Any]:
        return self._request("GET", f"messages/{quote(mid, safe='')}", params={"format": fmt})

    def messages(
        self,
        *,
        folder: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
    ) -> Iterator[MailMessage]:
        """Messages of the label (oldest first), or the given ids (Gmail ids or Message-IDs)."""
        name = folder or self.label
        query = self.query
        if since is not None:
            query = f"{query} after:{int(since.timestamp())}".strip()
        if ids:
            wanted: list[str] = []
            for one in ids:
                if "@" in one:  # a Message-ID, wherever the message is
                    q = f"rfc822msgid:{one.strip('<>')}"
                    wanted += self.list_ids(label_id=None, query=q, spam_trash=True)
                else:
                    wanted.append(one)
            found = list(dict.fromkeys(wanted))
        else:
            found = list(reversed(self.list_ids(label_id=self._list_label(name), query=query)))
        for i in range(0, len(found), self.batch):
            chunk = found[i : i + self.batch]
            got = self._batch_get(chunk, "raw")
            for mid in chunk:  # the order of the listing, whatever the answer's order
                data = got.pop(mid, None)
                if data is None:
                    continue  # deleted between the listing and now
                msg = self._message(data, name)
                if msg is None or (since is not None and msg.date < since):
                    continue
                yield msg

    def _message(self, data: dict[str, Any], listed: str) -> MailMessage | None:
        mid = str(data.get("id") or "")
        raw_text = data.get("raw")
        if not mid or not isinstance(raw_text, str):
            raise OpsError(f"{self.display}: GET messages/{mid}: malformed response, no raw")
        try:
            raw = _b64url(raw_text)
        except (binascii.Error, ValueError):
            raise OpsError(
                f"{self.display}: message {mid}: raw is not base64url; malformed response"
            ) from None
        lids = {str(x) for x in data.get("labelIds") or []}
        self._state[mid] = lids
        try:
            rec = parse_message(raw, name=f"gmail:{mid}", mailbox=self.user)
        except OpsError:
            date = _internal_date(data)
            if date is None:
                return None
            try:  # no usable Date header: Gmail's own receive time stands in
                dated = b"Date: " + date.encode() + b"\r\n" + raw
                rec = parse_message(dated, name=f"gmail:{mid}", mailbox=self.user)
            except OpsError:
                return None
        msg = from_record(
            {
                **rec,
                "folder": self._folder_of(lids, [listed]),
                "labels": sorted(self.label_name(x) for x in lids),
                "seen": "UNREAD" not in lids,
                "flagged": "STARRED" in lids,
            }
        )
        msg.id = mid
        return msg

    # -- change target -----------------------------------------------------------------------
    def _folder_of(self, lids: set[str], hints: Iterable[str | None]) -> str:
        """The folder a message is in, named as the change that put it there named it."""
        names = [h for h in hints if h]
        kind: str | None = next((k for k in ("TRASH", "SPAM", "INBOX") if k in lids), None)
        if kind is None:
            for h in names:
                if folder_kind(h) is None and self.label_id(h) in lids:
                    return h
            kind = "ARCHIVE"
        return next((h for h in names if folder_kind(h) == kind), _KIND_NAME[kind])

    def _labels_of(self, mid: str) -> set[str]:
        if mid not in self._state:
            try:
                data = self._get(mid, "minimal")
            except NotFound:
                raise OpsError(f"message {mid} is not in {self.display}") from None
            self._state[mid] = {str(x) for x in data.get("labelIds") or []}
        return self._state[mid]

    def prefetch(self, changes: list[Any]) -> None:
        """The labels of many messages at once (batch requests of ``format=minimal``),
        before each change is assessed: an undo, on an adapter that has read none of
        them, would otherwise ask Gmail once a message. A message gone is left to the
        change's own read, which says so."""
        mids = list(dict.fromkeys(ch.key for ch in changes if ch.key not in self._state))
        if len(mids) < 2:
            return
        for i in range(0, len(mids), self.batch):
            for mid, data in self._batch_get(mids[i : i + self.batch], "minimal").items():
                self._state[mid] = {str(x) for x in data.get("labelIds") or []}

    def read(self, change: Any) -> Any:
        lids = self._labels_of(change.key)
        if change.field == "labels":
            return sorted(self.label_name(x) for x in lids)
        if change.field == "folder":
            return self._folder_of(lids, [change.before, change.after])
        if change.field == "seen":
            return "UNREAD" not in lids
        if change.field == "flagged":
            return "STARRED" in lids
        raise OpsError(f"gmail cannot change {change.field!r}")

    def _edit(self, change: Any) -> tuple[frozenset[str], frozenset[str]]:
        """The label ids a change adds and removes."""
        add: set[str] = set()
        remove: set[str] = set()
        if change.field == "labels":
            if change.op == "add":
                add.add(self.ensure_label(str(change.after)))
            else:
                lid = self.label_id(str(change.before))
                if lid:
                    remove.add(lid)
        elif change.field == "folder":
            lids = self._labels_of(change.key)
            target = str(change.after)
            kind = folder_kind(target)
            if kind in ("INBOX", "TRASH", "SPAM"):
                add.add(str(kind))
            elif kind is None:
                add.add(self.ensure_label(target))
            # leave where it is now: INBOX, Trash/Spam, or the label it was moved to
            remove |= {k for k in ("INBOX", "TRASH", "SPAM") if k in lids}
            before = change.before
            if before and folder_kind(before) is None:
                lid = self.label_id(before)
                if lid in lids:
                    remove.add(str(lid))
        elif change.field == "seen":
            (remove if change.after else add).add("UNREAD")
        elif change.field == "flagged":
            (add if change.after else remove).add("STARRED")
        else:
            raise OpsError(f"gmail cannot change {change.field!r}")
        return frozenset(add), frozenset(remove - add)

    def write(self, change: Any) -> None:
        self.write_batch([change])

    def write_batch(self, changes: list[Any]) -> None:
        """One ``batchModify`` per distinct add/remove set and 1,000 ids.

        A group the API refuses is marked failed and the others go on; losing
        the token or the network stops the batch (what is left is failed).
        """
        groups: dict[tuple[frozenset[str], frozenset[str]], list[Any]] = {}
        for ch in changes:
            try:
                key = self._edit(ch)
            except (AuthError, BackendUnreachable):
                raise
            except OpsError as exc:
                ch.outcome, ch.error = "failed", str(exc)
                continue
            groups.setdefault(key, []).append(ch)
        for (add, remove), items in groups.items():
            if not add and not remove:
                for ch in items:
                    ch.outcome = "applied"
                continue
            by_id: dict[str, list[Any]] = {}
            for ch in items:
                by_id.setdefault(ch.key, []).append(ch)
            mids = list(by_id)
            for i in range(0, len(mids), BATCH_MAX):
                part = mids[i : i + BATCH_MAX]
                body: dict[str, Any] = {"ids": part}
                if add:
                    body["addLabelIds"] = sorted(add)
                if remove:
                    body["removeLabelIds"] = sorted(remove)
                try:
                    self._request("POST", "messages/batchModify", body=body)
                except (AuthError, BackendUnreachable):
                    raise
                except OpsError as exc:
                    for mid in part:
                        for ch in by_id[mid]:
                            ch.outcome, ch.error = "failed", str(exc)
                    continue
                for mid in part:
                    state = self._state.get(mid)
                    if state is not None:
                        state -= remove
                        state |= add
                    for ch in by_id[mid]:
                        ch.outcome = "applied"  # this call went through

    def transaction(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()


def _api_error(resp: httpx.Response) -> tuple[str, str]:
    """Message and first reason of a Google API error body (``{"error": {...}}``)."""
    try:
        data = resp.json()
    except ValueError:
        return resp.reason_phrase or "", ""
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return (str(err) if err else resp.reason_phrase or ""), ""
    reasons = [e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)]
    return str(err.get("message") or resp.reason_phrase or ""), str(reasons[0] if reasons else "")


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes] | None:
    """The body parts of a multipart entity (RFC 2046); None without the closing delimiter."""
    delimiter = re.compile(rb"(?:\A|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    parts: list[bytes] = []
    start: int | None = None
    for m in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start : m.start()])
        if m.group(1):
            return parts
        start = m.end()
    return None


def _head_body(data: bytes, *, status_line: bool = False) -> tuple[list[tuple[str, str]], bytes]:
    """Header fields and body of a MIME part or an HTTP message (whose first line, with
    ``status_line``, comes back as the first pair, ``("", line)``)."""
    blank = re.match(rb"\r?\n", data)
    m = re.search(rb"\r?\n\r?\n", data)
    if blank and not status_line:  # a part with no header fields
        head, body = b"", data[blank.end() :]
    elif m is None:
        head, body = data, b""
    else:
        head, body = data[: m.start()], data[m.end() :]
    fields: list[tuple[str, str]] = []
    for n, line in enumerate(head.decode("latin-1").splitlines()):
        if status_line and n == 0:
            fields.append(("", line.strip()))
        elif line[:1] in (" ", "\t") and fields:  # folded
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
    return fields, body


def _internal_date(data: dict[str, Any]) -> str | None:
    try:
        ms = int(data.get("internalDate") or "")
    except ValueError:
        return None
    return format_datetime(datetime.fromtimestamp(ms / 1000, UTC))
