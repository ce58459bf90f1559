"""IMAP mailboxes (``imap://user@host:port/FOLDER``, ``imaps://…``), Gmail over IMAP included.

Talks in batches, never a command per message:

- one ``UID SEARCH`` to find what to read, one ``UID FETCH`` per chunk of
  UIDs for what must be decided locally;
- writes grouped by action: one ``UID STORE``/``COPY``/``MOVE`` per action and
  target over compressed UID ranges (``1:500,502``), chunked to keep command
  lines short.

Labels: with Gmail's ``X-GM-EXT-1`` they are ``X-GM-LABELS``. Elsewhere a label
is a folder holding a copy of the message (non-ASCII names such as
``返信待ち`` or ``関東/新宿店`` are fine as folders, created parents first), or
an ASCII keyword where the profile maps it (``[mail.imap_keywords]``).
Messages are identified by Message-ID, which survives moves; UIDs are looked
up per folder. The password comes from ``OPS_MAIL_PASSWORD`` (or its
``_FILE``), never from the URL on the command line.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from copy import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from .eml import body_of, parse_message, strip_id
from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .mailbox import MailMessage, from_record, header_message
from .store import mask_url

CHUNK = 500  # UIDs per FETCH
PREFETCH_AT = 20  # messages to find: from this many on, their folders are read whole
HEADER, TEXT, WHOLE = b"BODY[HEADER]", b"BODY[TEXT]", b"BODY[]"  # what a FETCH reads
PIPELINE = 3  # FETCH commands in flight
SET_CHUNK = 2000  # UIDs per STORE/COPY/MOVE before the range string is compressed
GMAIL_SYSTEM = {"\\Inbox": "INBOX", "\\Important": "Important", "\\Starred": "Starred"}


def compress(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 5, 7, 8]`` → ``"1:3,5,7:8"``."""
    out: list[str] = []
    run: list[int] = []
    for u in sorted(set(uids)):
        if run and u == run[-1] + 1:
            run.append(u)
            continue
        if run:
            out.append(f"{run[0]}:{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [u]
    if run:
        out.append(f"{run[0]}:{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class RawChunk(NamedTuple):
    """The answers to one FETCH: UID → {item: value}, as read off the socket."""

    folder: str
    uids: list[int]
    data: dict[int, Any]
    part: bytes  # HEADER, TEXT or WHOLE
    gmail: bool

    @property
    def is_text(self) -> bool:
        """Bodies, to join to header blocks read before."""
        return self.part == TEXT


def _whole(first: MailMessage, text: bytes) -> MailMessage:
    """A header-only message made whole with its body (``BODY[TEXT]``)."""
    head = first.raw or b""
    raw = head.rstrip(b"\r\n") + b"\r\n\r\n" + text
    # the fields as read with the headers (body_of looks up the content ones)
    items = first.__dict__.get("_fields") or [
        (k, v) for k, values in first.headers.items() for v in values
    ]
    body, attachments = body_of(raw, items)
    whole = object.__new__(MailMessage)  # a shallow copy, without copy's protocol
    whole.__dict__.update(first.__dict__)
    whole.body_text, whole.attachments, whole.raw = body, attachments, raw
    whole.partial = False
    return whole


@dataclass
class _Run:
    """One write group on its way: its commands, their answers, its outcome."""

    key: tuple[str, str, Any, str]
    items: list[tuple[Any, int]]
    pending: int = 0  # commands sent, not yet answered
    sent: bool = False  # all its commands are sent
    marked: bool = False  # its changes carry their outcome
    error: str | None = None
    alone: bool = False  # it fails alone (its folder cannot be made); the run goes on

    def fail(self, error: str, *, alone: bool) -> None:
        if self.error is None:
            self.error, self.alone = error, alone


class ImapMailbox:
    def __init__(self, url: str, *, password: str | None = None,
                 keywords: dict[str, str] | None = None) -> None:  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps"):
            raise UsageError(f"{url}: not an imap:// or imaps:// URL")
        if not parts.hostname or not parts.username:
            raise UsageError(f"{mask_url(url)}: give user and host, imaps://user@host/INBOX")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or (993 if parts.scheme == "imaps" else 143)
        self.ssl = parts.scheme == "imaps"
        self.user = unquote(parts.username)
        self.password = password or (unquote(parts.password) if parts.password else None)
        self.default_folder = unquote(parts.path.lstrip("/")) or "INBOX"
        query = parse_qs(parts.query)
        self.label_mode = (query.get("labels") or ["auto"])[0]
        self.keywords = dict(keywords or {})
        safe = mask_url(url).split("?")[0]
        self.backend = f"mail:{safe.replace(':***@', '@')}"
        self.display = f"imap {self.user}@{self.host}:{self.port}"
        self.client: Any = None
        self.commands = 0  # IMAP commands sent (for benchmarks and tests)
        self.gmail = False
        self._selected: str | None = None
        self._selected_ro = True
        self._known_folders: set[str] | None = None
        self._delim = "/"
        self._where: dict[str, tuple[str, int]] = {}  # Message-ID → (folder, uid)
        self._labels: dict[str, set[str]] = {}  # Message-ID → labels
        self._flags: dict[str, set[str]] = {}
        self._label_folders: dict[str, dict[str, int]] = {}  # folder → Message-ID → uid
        self.uidvalidity: int | None = None
        self._inflight: list[list[Any]] = []  # pipelined FETCHes: [tag, data or None]
        self._sending_raw = False
        self._done: dict[bytes, tuple[str, str]] = {}  # pipelined tag → (status, text)
        self._writes: deque[tuple[bytes, _Run, str | None]] = deque()  # tag, group, CREATE
        self._create_errors: dict[str, str] = {}  # folder → why it could not be created
        self._validity: dict[str, int] = {}  # folder → UIDVALIDITY when first opened
        self._reader: ImapMailbox | None = None  # for a writer: the mailbox it writes for
        # called with each group's changes once their outcome is marked (a run journals
        # them while the rest of the batch is written)
        self.settled: Callable[[list[Any]], None] | None = None

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> ImapMailbox:
        """Keywords for ASCII labels come from ``[mail.imap_keywords]`` of the profile."""
        mail = profile.get("mail", {}) if isinstance(profile.get("mail"), dict) else {}
        kw = mail.get("imap_keywords", {})
        return cls(url, password=password,
                   keywords={str(k): str(v) for k, v in kw.items()} if isinstance(kw, dict)
                   else None)  # fmt: skip

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> Any:
        if self.client is not None:
            return self.client
        import imapclient

        if self.password is None:
            from_env = os.environ.get("OPS_MAIL_PASSWORD")
            if from_env is None and os.environ.get("OPS_MAIL_PASSWORD_FILE"):
                with open(os.environ["OPS_MAIL_PASSWORD_FILE"], encoding="utf-8") as fh:
                    from_env = fh.read().strip()
            self.password = from_env
        if not self.password:
            raise AuthError(f"{self.display}: no password; set OPS_MAIL_PASSWORD (or _FILE)")
        try:
            client = imapclient.IMAPClient(self.host, port=self.port, ssl=self.ssl, timeout=30)
        except OSError as exc:
            raise BackendUnreachable(f"{self.display}: cannot connect ({exc})") from None
        counter = self

        new_tag = client._imap._new_tag

        def counted() -> Any:
            # Every command takes a tag here, imaplib's and imapclient's own senders alike.
            counter.commands += 1
            if (counter._inflight or counter._writes) and not counter._sending_raw:
                counter._drain()  # answers to pipelined commands come first
            return new_tag()

        client._imap._new_tag = counted
        try:
            client.login(self.user, self.password)
        except imapclient.exceptions.LoginError as exc:
            raise AuthError(f"{self.display}: login refused ({_text(exc)})") from None
        self.client = client
        caps = {c.upper() for c in client.capabilities()}
        self.gmail = b"X-GM-EXT-1" in caps
        self._has_move = b"MOVE" in caps
        self._has_uidplus = b"UIDPLUS" in caps
        return client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
            self.client = None
        if self._reader is not None:
            self._reader.commands += self.commands
            self.commands = 0

    def writer(self) -> ImapMailbox:
        """A second connection for the writes of a run that is still reading.

        It shares what this mailbox has read (where each message is, its flags and
        labels, the label folders' contents, the folder list), so a batch of changes
        planned here can be written there, from another thread, while this one goes
        on fetching: the server works on both at once. Each message is read before
        its changes are planned, and written only after, so the two never touch the
        same entry at the same time. A folder whose UIDVALIDITY is not the one read
        here is not written (its UIDs would name other messages). Its commands count
        here once it is closed.
        """
        self.known_folders()  # listed once, for both
        w = copy(self)  # a shallow copy: the dicts of what was read are shared
        w.client = None
        w.commands = 0
        w._selected, w._selected_ro = None, True
        w._inflight, w._done, w._writes = [], {}, deque()
        w._create_errors, w._sending_raw = {}, False
        w._reader, w.settled = self, None
        return w

    def prepare(self) -> None:
        """A writer connects and opens the folder its reader reads, before its first batch
        (:class:`~deskops.commands.plan.RunningPlan` calls it from the writer's thread)."""
        self.connect()
        folder = self._reader._selected if self._reader is not None else None
        if folder is not None:
            self._select(folder)

    def _select(self, folder: str, readonly: bool = False) -> dict[bytes, Any]:
        c = self.connect()
        # A read-write selection serves reads too: no second SELECT per action group.
        if self._selected == folder and (readonly or not self._selected_ro):
            return {}
        try:
            info = c.select_folder(folder, readonly=readonly)
        except Exception as exc:  # imapclient raises IMAPClientError subclasses
            raise OpsError(
                f"{self.display}: cannot open folder {folder!r} ({_text(exc)})"
            ) from None
        self._selected = folder
        self._selected_ro = readonly
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        first = self._validity.setdefault(folder, self.uidvalidity)
        if first != self.uidvalidity:
            raise OpsError(
                f"{self.display}: folder {folder!r} was replaced during the run (UIDVALIDITY "
                f"{first} is now {self.uidvalidity}); run again"
            )
        return dict(info)

    def folder_state(self, folder: str | None = None) -> tuple[int, int]:
        """(UIDVALIDITY, UIDNEXT) of a folder, for checkpoints."""
        c = self.connect()
        st = c.folder_status(folder or self.default_folder, [b"UIDVALIDITY", b"UIDNEXT"])
        return int(st[b"UIDVALIDITY"]), int(st[b"UIDNEXT"])

    def checkpoint(
        self, folder: str | None, saved: dict[str, Any] | None, use: bool
    ) -> tuple[dict[str, Any], dict[str, Any], str | None]:
        """Where a recurring run reads from (the UIDs after the last one read, void when
        UIDVALIDITY changed), what to save once it has read, and a warning."""
        validity, uidnext = self.folder_state(folder)
        last, warning = 0, None
        if use and saved and saved.get("uidvalidity") == validity:
            last = int(saved.get("last_uid", 0))
        elif use and saved:
            warning = f"{self.display}: UIDVALIDITY changed; reading the whole folder again"
        return {"after_uid": last}, {"uidvalidity": validity, "last_uid": uidnext - 1}, warning

    def checkpointed(self, folder: str | None, value: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint to save once the run has read (as :meth:`checkpoint` made it)."""
        return value

    # -- reading -----------------------------------------------------------------------------
    # A read is three steps: the UIDs to read (one SEARCH), their FETCH answers as read off
    # the socket (RawChunk: plain data, which can be handed to another process), and the
    # messages made of them. A run that parses in a second process (commands.offload) takes
    # the steps apart: the FETCHes here, the parsing there; ``known``/``remember`` carry
    # back what this connection must know of each message to write its changes.
    def uids(
        self,
        *,
        folder: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
        after_uid: int | None = None,
    ) -> tuple[str, list[int]]:
        """The folder and the UIDs a read of these criteria takes, in order."""
        folder = folder or self.default_folder
        self._select(folder, readonly=True)
        criteria: list[Any] = ["ALL"]
        if since is not None:
            criteria = ["SINCE", since.date()]
        if ids:
            criteria = ["OR"] * (len(ids) - 1)
            for mid in ids:
                criteria += ["HEADER", "Message-ID", mid]
        uids = sorted(self.client.search(criteria))
        if after_uid is not None:
            uids = [u for u in uids if u > after_uid]
        return folder, uids

    def messages(
        self,
        *,
        folder: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
        after_uid: int | None = None,
    ) -> Iterator[MailMessage]:
        folder, uids = self.uids(folder=folder, since=since, ids=ids, after_uid=after_uid)
        for raw in self.raw(folder, uids):
            yield from self.parse(raw)

    def raw(self, folder: str, uids: list[int], *, part: bytes = WHOLE) -> Iterator[RawChunk]:
        """The FETCH answers for these UIDs of a folder, chunk by chunk (pipelined:
        :meth:`_fetch_many`). ``part``: ``HEADER``, ``TEXT`` (to join to a header block
        read before) or ``WHOLE``."""
        want = [b"FLAGS", part.replace(b"BODY[", b"BODY.PEEK[")]
        if self.gmail:
            want.append(b"X-GM-LABELS")
        uid_chunks = list(chunks(uids, CHUNK))
        fetched = self._fetch_many(folder, uid_chunks, want)
        for chunk, data in zip(uid_chunks, fetched, strict=False):
            yield RawChunk(folder, chunk, data, part, self.gmail)

    def parse(
        self, raw: RawChunk, text_of: dict[int, MailMessage] | None = None
    ) -> Iterator[MailMessage]:
        """The messages of one chunk of FETCH answers, in UID order; a UID gone meanwhile,
        or a message that cannot be read (no usable Date), is left out. For ``TEXT``,
        ``text_of`` holds the header-only messages the bodies belong to."""
        folder, item_name = raw.folder, raw.part
        headers_only = item_name == HEADER
        for uid in raw.uids:
            item = raw.data.get(uid)
            if not item:
                continue
            body = item.get(item_name) or b""
            if text_of is not None:  # the body of a message whose headers were read
                first = text_of.get(uid)
                if first is None:
                    continue
                yield _whole(first, body)
                continue
            flags = {_text(f) for f in item.get(b"FLAGS", ())}
            try:
                name = f"{folder}/{uid}"
                if headers_only:
                    msg = header_message(
                        body, name=name, mailbox=self.user, folder=folder, uid=uid, flags=flags
                    )
                else:
                    rec = parse_message(
                        body, name=name, mailbox=self.user, folder=folder,
                        decode_headers=False, iso_date=False,
                    )  # fmt: skip
                    rec["uid"], rec["seen"] = uid, "\\Seen" in flags
                    rec["flagged"] = "\\Flagged" in flags
                    msg = from_record(rec)
            except OpsError:
                continue
            if raw.gmail:
                labels = {_text(x) for x in item.get(b"X-GM-LABELS", ())}
                msg.labels = sorted(GMAIL_SYSTEM.get(x, x) for x in labels
                                    if x not in ("\\Sent", "\\Draft"))  # fmt: skip
            elif flags and self.keywords:  # else none: a new message has no flags
                msg.labels = sorted(k for k, kw in self.keywords.items() if kw in flags)
            self._where[msg.message_id] = (folder, uid)
            self._labels[msg.message_id] = set(msg.labels)
            self._flags[msg.message_id] = flags
            yield msg

    def known(self, msg: MailMessage) -> tuple[str, tuple[str, int], set[str], set[str]]:
        """What this connection learnt of a message it parsed: where it is, its labels and
        flags (for :meth:`remember` on the connection that will write its changes)."""
        mid = msg.message_id
        return mid, self._where[mid], self._labels[mid], self._flags[mid]

    def remember(self, known: tuple[str, tuple[str, int], set[str], set[str]]) -> None:
        mid, where, labels, flags = known
        self._where[mid], self._labels[mid], self._flags[mid] = where, labels, flags

    # -- change target -------------------------------------------------------------------------
    def _fetch(self, uids: list[int], items: list[bytes]) -> dict[int, Any]:
        """One UID FETCH over a compressed range (imapclient's fetch wants a list of ints)."""
        return next(self._fetch_many(self._selected or self.default_folder, [uids], items))

    def _fetch_many(
        self, folder: str, uid_chunks: list[list[int]], items: list[bytes]
    ) -> Iterator[dict[int, Any]]:
        """UID FETCH over chunks of UIDs of one folder, pipelined: a few commands are in
        flight at once, so the server prepares the next chunk while this one is parsed
        and a slow link costs a round trip per window, not per chunk. Yields each
        chunk's data in order. The server may interleave the answers of pipelined
        commands (FETCH responses name no command), so data is pooled by UID; a chunk
        is complete once its own command has completed. Any other command sent
        meanwhile (the consumer looking into a label folder) first reads the answers
        in flight (:meth:`_drain`)."""
        spec = "(" + " ".join(i.decode() for i in items) + ")"
        mine: list[list[Any]] = []  # [tag, data or None], oldest first
        todo = [compress(c) for c in uid_chunks]
        waiting = list(uid_chunks)
        pool: dict[int, Any] = {}
        try:
            while todo or mine:
                while todo and len(mine) < PIPELINE:
                    if self._selected != folder:
                        self._select(folder, readonly=True)
                    if any(all(e is not m for m in mine) for e in self._inflight):
                        self._drain()  # another reader's answers first: one reader in flight
                    entry = [self._send("UID", "FETCH", todo.pop(0), spec), None]
                    mine.append(entry)
                    self._inflight.append(entry)
                entry = mine.pop(0)
                if entry[1] is None:
                    self._complete(entry)
                pool.update(entry[1])
                chunk = waiting.pop(0)
                yield {u: pool.pop(u) for u in chunk if u in pool}
        finally:
            try:
                self._drain()  # a consumer that stopped early: read what is still coming
            except Exception:  # noqa: BLE001 - the connection is gone; that error stands
                self._inflight.clear()

    def _complete(self, entry: list[Any]) -> None:
        """Read the answer to one pipelined FETCH (and whatever comes before it)."""
        parsed: dict[int, dict[bytes, Any]] = {}
        general: list[Any] = []  # responses in imaplib's shape, for imapclient's parser

        def on_untagged(segments: list[bytes], literals: list[bytes]) -> None:
            if not self.gmail and _fetch_fast(segments, literals, parsed):
                return
            if any(_UID.search(s) for s in segments):  # a FETCH naming no UID is not ours
                _as_imaplib(segments, literals, general)

        try:
            typ, text = self._answer(entry[0], on_untagged)
        finally:
            self._inflight = [e for e in self._inflight if e is not entry]
        if typ != "OK":
            raise OpsError(f"{self.display}: FETCH failed ({text})")
        if general:
            from imapclient.response_parser import parse_fetch_response

            for uid, item in parse_fetch_response(general, True, True).items():
                parsed.setdefault(uid, {}).update(item)
        entry[1] = parsed

    # -- raw protocol: pipelined commands, answers read straight off the socket ------------
    def _send(self, *args: Any) -> Any:
        """Send one command without waiting for its answer; its tag (read by :meth:`_answer`)."""
        self._sending_raw = True
        try:
            return self.client._imap._command(*args)
        finally:
            self._sending_raw = False

    def _answer(
        self, tag: bytes, on_untagged: Callable[[list[bytes], list[bytes]], None] | None = None
    ) -> tuple[str, str]:
        """Read the server's output up to the completion of ``tag``: (OK/NO/BAD, its text).

        Untagged responses go to ``on_untagged`` as line segments (CRLF kept) and the
        literals between them; those of other kinds than FETCH (EXISTS, EXPUNGE, a
        status line) are skipped. Completions of other pipelined tags that arrive
        first are kept for their own turn. imaplib's line machinery is bypassed: on a
        FETCH of thousands of messages it costs more than parsing the messages.
        """
        imap = self.client._imap
        done = self._done
        if imap.tagged_commands.get(tag):  # only this reader may read a pipelined answer
            raise imap.abort(f"the answer to {tag!r} was read by another reader")
        readline, read = imap.file.readline, imap.file.read
        while tag not in done:
            line = readline(_MAXLINE)
            if not line.endswith(b"\n"):
                raise imap.abort("socket error: EOF" if not line else "line too long")
            if line.startswith(b"* "):
                segments, literals = [line], []
                while line.endswith(b"}\r\n"):
                    m = _LITERAL.search(line)
                    if m is None:
                        break
                    size = int(m.group(1))
                    literal = read(size)
                    if len(literal) != size:
                        raise imap.abort("socket error: EOF")
                    literals.append(literal)
                    line = readline(_MAXLINE)
                    if not line.endswith(b"\n"):
                        raise imap.abort("socket error: EOF" if not line else "line too long")
                    segments.append(line)
                if on_untagged is not None and b" FETCH " in segments[0][:24]:
                    on_untagged(segments, literals)
                continue
            other, _, rest = line.partition(b" ")
            if other not in imap.tagged_commands:
                raise imap.abort(f"unexpected response {line[:80]!r}")
            status, _, text = rest.rstrip(b"\r\n").partition(b" ")
            del imap.tagged_commands[other]
            done[other] = (status.decode("ascii", "replace").upper(), _text(text))
        return done.pop(tag)

    def _drain(self) -> None:
        """Read the answers to commands still in flight, in order: FETCH data is kept for
        its reader, a write marks its group."""
        for entry in list(self._inflight):
            if entry[1] is None:
                self._complete(entry)
        while self._writes:
            tag, run, create = self._writes[0]
            typ, text = self._answer(tag)
            self._writes.popleft()
            self._answered(run, create, typ, text)

    def labelled(self, label: str) -> set[str]:
        """Message-IDs with a copy in a folder label's folder (read once per run)."""
        return set(self._folder_index(label))

    def carries(self, label: str) -> bool:
        """Whether a message read here carries this label (a keyword, a Gmail label); a
        folder label is a copy in that folder, looked into only when a change asks."""
        return self._label_kind(label) != "folder"

    def _label_kind(self, label: str) -> str:
        if self.gmail and self.label_mode != "folders":
            return "gmail"
        if label in self.keywords:
            return "keyword"
        return "folder"

    def _folder_index(self, folder: str) -> dict[str, int]:
        """Message-ID → UID of a label folder, read once per run (one FETCH of one header)."""
        if folder not in self._label_folders:
            index: dict[str, int] = {}
            if folder in self.known_folders():
                for mid, uid, _item in self._scan(folder, []):
                    index[mid] = uid
            self._label_folders[folder] = index
        return self._label_folders[folder]

    def _scan(self, folder: str, items: list[bytes]) -> Iterator[tuple[str, int, dict[bytes, Any]]]:
        """(Message-ID, UID, the other FETCH items) of every message of a folder: one
        SEARCH and a FETCH a few thousand messages, whatever the folder holds."""
        c = self.connect()
        self._select(folder, readonly=True)
        uids = c.search(["ALL"])
        for chunk in chunks(sorted(uids), CHUNK * 4):
            data = self._fetch(chunk, [*items, b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for uid, item in data.items():
                head = next((v for k, v in item.items() if k.startswith(b"BODY[")), b"")
                mid = strip_id(_text(head).partition(":")[2])
                if mid:
                    yield mid, uid, item

    def prefetch(self, changes: list[Any]) -> None:
        """Find the messages of many changes at once, before each is assessed (an undo,
        on a connection that has read none of them): the folders they may be in are read
        in one pass each (Message-ID, flags), instead of a SEARCH and a FETCH for every
        message. A message not found this way is still looked for on its own."""
        where: dict[str, list[str]] = {}  # Message-ID → the folders to look in, in order
        for ch in changes:
            mid = ch.key
            if mid in self._where and mid in self._flags:
                continue
            if ch.field == "labels":
                value = ch.after if ch.op == "add" else ch.before
                if self._label_kind(value) == "folder":
                    continue  # read from the label's folder, one pass already
            folders = where.setdefault(mid, [])
            hints = [ch.before, ch.after] if ch.field == "folder" else []
            for f in [*hints, self.default_folder]:
                if isinstance(f, str) and f and f not in folders:
                    folders.append(f)
        if len(where) < PREFETCH_AT:
            return
        known = self.known_folders()
        wanted = {f for folders in where.values() for f in folders if f in known}
        want = [b"FLAGS"] + ([b"X-GM-LABELS"] if self.gmail else [])
        found: dict[str, dict[str, tuple[int, dict[bytes, Any]]]] = {}
        for folder in sorted(wanted):
            found[folder] = {mid: (uid, item) for mid, uid, item in self._scan(folder, want)
                             if mid in where}  # fmt: skip
        for mid, folders in where.items():
            hit = next(((f, found[f][mid]) for f in folders if mid in found.get(f, {})), None)
            if hit is None:
                continue
            folder, (uid, item) = hit
            self._where[mid] = (folder, uid)
            self._remember_flags(mid, item)

    def _remember_flags(self, mid: str, item: dict[bytes, Any]) -> None:
        flags = {_text(f) for f in item.get(b"FLAGS", ())}
        self._flags[mid] = flags
        if self.gmail:
            self._labels[mid] = {GMAIL_SYSTEM.get(_text(x), _text(x))
                                 for x in item.get(b"X-GM-LABELS", ())}  # fmt: skip
        else:
            self._labels[mid] = {k for k, kw in self.keywords.items() if kw in flags}

    def _locate(self, message_id: str, folders: Iterable[str | None] = ()) -> tuple[str, int]:
        if message_id in self._where:
            return self._where[message_id]
        c = self.connect()
        for folder in [*[f for f in folders if f], self.default_folder]:
            if folder not in self.known_folders():
                continue
            self._select(folder, readonly=True)
            found = c.search(["HEADER", "Message-ID", message_id])
            if found:
                self._where[message_id] = (folder, int(found[0]))
                return self._where[message_id]
        raise OpsError(f"message {message_id} not found in {self.display}")

    def read(self, change: Any) -> Any:
        mid = change.key
        if change.field == "labels":
            value = change.after if change.op == "add" else change.before
            kind = self._label_kind(value)
            if kind == "folder":
                has = mid in self._folder_index(value)
                return [value] if has else []
            if mid not in self._labels:
                self._refresh(mid, change)
            return sorted(self._labels.get(mid, set()))
        if change.field == "folder":
            folders = [change.before, change.after]
            return self._locate(mid, folders)[0]
        if change.field in ("seen", "flagged"):
            if mid not in self._flags:
                self._refresh(mid, change)
            flag = "\\Seen" if change.field == "seen" else "\\Flagged"
            return flag in self._flags.get(mid, set())
        raise OpsError(f"imap cannot change {change.field!r}")

    def _refresh(self, mid: str, change: Any) -> None:
        folder, uid = self._locate(mid, [getattr(change, "before", None)])
        self._select(folder, readonly=True)
        want = [b"FLAGS"] + ([b"X-GM-LABELS"] if self.gmail else [])
        self._remember_flags(mid, self.client.fetch([uid], want).get(uid, {}))

    def write(self, change: Any) -> None:
        self.write_batch([change])

    @staticmethod
    def costly(change: Any) -> bool:
        """Moves: a MOVE (or COPY + EXPUNGE) takes messages out of their folder, which
        the server must then resync, in every session that has it open: on a Maildir
        of 10,000 messages about 25 ms a command, against 1–3 ms for a COPY or STORE.
        A run that writes while it reads sends them in bigger batches."""
        return bool(change.field == "folder")

    def write_batch(self, changes: list[Any]) -> None:
        """Apply changes grouped by (action, value, folder): one command per group and chunk."""
        groups: dict[tuple[str, str, Any, str], list[tuple[Any, int]]] = {}
        for ch in changes:
            mid = ch.key
            if (
                ch.field == "labels"
                and ch.op == "remove"
                and self._label_kind(ch.before) == "folder"
            ):
                # The copy in the label folder goes; where the message itself is does not matter.
                groups.setdefault(("labels", "remove", ch.before, ch.before), []).append((ch, 0))
                continue
            folder, uid = self._locate(mid, [ch.before if ch.field == "folder" else None])
            if ch.field == "labels":
                value = ch.after if ch.op == "add" else ch.before
                key = (ch.field, ch.op, value, folder)
            elif ch.field == "folder":
                key = ("folder", "set", ch.after, folder)
            else:
                key = (ch.field, "set", bool(ch.after), folder)
            groups.setdefault(key, []).append((ch, uid))
        # Copies and flag stores act on UIDs in the source folder: they go before the moves
        # that take those UIDs away (a COPY of moved UIDs answers OK and copies nothing).
        # Flags go before the label copies, so a copy has the flags the run gave the message
        # whatever batches its changes were written in.
        groups = dict(sorted(groups.items(), key=lambda kv: (kv[0][0] == "folder",
                                                             kv[0][0] == "labels")))  # fmt: skip
        try:
            self._write_groups(groups)
        except OpsError:
            raise
        except Exception as exc:  # noqa: BLE001 - connection lost, or the server said NO/BAD
            # Groups already done are marked applied; the executor journals the rest as failed.
            raise BackendUnreachable(
                f"{self.display}: {type(exc).__name__}: {_text(exc)}"
            ) from None

    def _write_groups(self, groups: dict[tuple[str, str, Any, str], list[tuple[Any, int]]]) -> None:
        """Two pipelined stages: label copies and flag stores, then the moves.

        Within a stage the commands are sent without waiting for each answer (the
        server runs them in order, so a CREATE comes before the COPY into that folder)
        and the answers are read in order; a group is applied once all its commands
        answered OK. A group whose folder cannot be created fails alone. Any other
        refusal stops the run after the stage it happened in: the moves, which take
        the UIDs away, are not sent after a failed copy, so a rerun finishes both.
        """
        copies = [_Run(k, v) for k, v in groups.items() if k[0] != "folder"]
        moves = [_Run(k, v) for k, v in groups.items() if k[0] == "folder"]
        for stage in (copies, moves):
            try:
                self._open_first(stage)
                for run in stage:  # the folders first: one round trip for all of them
                    target = self._target_folder(run)
                    if target is not None:
                        self._ensure_folder(target, run)
                for run in stage:
                    self._start(run)
                    run.sent = True
                    self._settled(run)
                self._drain()
            except BaseException:
                try:
                    self._drain()  # what was answered still counts
                except Exception:  # noqa: BLE001 - the connection is gone; the first error stands
                    self._writes.clear()
                raise
            refused = next((r.error for r in stage if r.error and not r.alone), None)
            if refused:  # the executor journals what is left as failed, with this reason
                raise BackendUnreachable(refused)

    def _open_first(self, stage: list[_Run]) -> None:
        """Select the folder the first group acts in before any CREATE is sent: a SELECT
        waits for the answers before it, so the CREATEs and the commands after them go
        out together (a group whose folder cannot be opened fails alone, later)."""
        for run in stage:
            field, op, value, folder = run.key
            if field == "labels" and op == "remove" and self._label_kind(value) == "folder":
                continue  # acts in the label's folder, opened there
            try:
                self._select(folder)
            except OpsError:
                pass
            return

    def _target_folder(self, run: _Run) -> str | None:
        """The folder a group copies or moves into, when it must exist."""
        field, op, value, _ = run.key
        if field == "labels" and op == "add" and self._label_kind(value) == "folder":
            return str(value)
        if field == "folder" and not (self.gmail and value == "Archive"):
            return str(value)
        return None

    def _start(self, run: _Run) -> None:
        """Send the commands of one group (UIDs of one folder, one action and value)."""
        c = self.connect()
        field, op, value, folder = run.key
        items = run.items
        if field == "labels" and self._label_kind(value) == "folder" and op == "remove":
            self._remove_label_copies(run, value, [ch.key for ch, _ in items])
            return
        try:
            self._select(folder)
        except OpsError as exc:  # this group's folder cannot be opened: the group fails alone
            run.fail(str(exc), alone=True)
            return
        for part in chunks(sorted(u for _, u in items), SET_CHUNK):
            seq = compress(part)
            if field == "labels":
                kind = self._label_kind(value)
                if kind == "gmail":
                    gl = _gmail_label(value)
                    self._sync(run, c.add_gmail_labels if op == "add" else c.remove_gmail_labels,
                               seq, [gl], silent=True)  # fmt: skip
                elif kind == "keyword":
                    sign = "+" if op == "add" else "-"
                    self._raw(run, None, "UID", "STORE", seq, f"{sign}FLAGS.SILENT",
                              f"({self.keywords[value]})")  # fmt: skip
                else:
                    self._ensure_folder(value, run)
                    self._raw(run, None, "UID", "COPY", seq, c._normalise_folder(value))
            elif field == "folder":
                self._ensure_folder(value, run)
                if self.gmail and value == "Archive":
                    self._sync(run, c.remove_gmail_labels, seq, ["\\Inbox"], silent=True)
                elif self._has_move:
                    self._raw(run, None, "UID", "MOVE", seq, c._normalise_folder(value))
                else:
                    self._move_by_copy(run, folder, part, seq, value)
            else:
                flag = "\\Seen" if field == "seen" else "\\Flagged"
                sign = "+" if value else "-"
                self._raw(run, None, "UID", "STORE", seq, f"{sign}FLAGS.SILENT", f"({flag})")

    def _move_by_copy(self, run: _Run, folder: str, uids: list[int], seq: str, target: str) -> None:
        r"""A move where the server has no MOVE: COPY, and only once the copy is answered
        OK, flag the sources \Deleted and expunge them (a refused copy leaves them where
        they are). Without UIDPLUS an EXPUNGE takes every message of the folder flagged
        \Deleted: while others are, the move is not made, so that no message goes that
        no rule moved."""
        if run.error is not None:  # a copy of this group was refused: no more of it
            return
        c = self.connect()
        if not self._has_uidplus and self._others_deleted(run, folder, uids):
            return
        self._sync(run, c.copy, seq, target)
        if run.error is not None:
            return
        self._raw(run, None, "UID", "STORE", seq, "+FLAGS.SILENT", "(\\Deleted)")
        if self._has_uidplus:
            self._raw(run, None, "UID", "EXPUNGE", seq)
        else:
            self._raw(run, None, "EXPUNGE")

    def _others_deleted(self, run: _Run, folder: str, uids: list[int]) -> bool:
        r"""Whether messages other than these are flagged \Deleted in the selected folder
        (an EXPUNGE without UIDPLUS would remove them too); if so, the group fails alone."""
        others = set(self.connect().search(["DELETED"])) - set(uids)
        if others:
            run.fail(
                f"{self.display}: {len(others)} other message(s) in {folder!r} are marked "
                "deleted and the server cannot expunge only some (no UIDPLUS); expunge or "
                "undelete them first",
                alone=True,
            )
        return bool(others)

    def _raw(self, run: _Run, create: str | None, *args: Any) -> None:
        """A pipelined command of ``run``; ``create``: the folder a CREATE makes."""
        run.pending += 1
        self._writes.append((self._send(*args), run, create))

    def _sync(self, run: _Run, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """An imapclient call of ``run``, which waits for its own answer (and, first, for
        those of the pipelined commands before it)."""
        import imaplib

        try:
            method(*args, **kwargs)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:  # the server said NO or BAD
            self._failed(run, _text(exc))

    def _answered(self, run: _Run, create: str | None, typ: str, text: str) -> None:
        run.pending -= 1
        if typ != "OK":
            if create is None:
                self._failed(run, text)
            elif "[ALREADYEXISTS]" not in text.upper():
                # Not an error yet: a folder that exists under another spelling still takes
                # the copy. Whatever fails next in this group is explained by this.
                self._create_errors[create] = (
                    f"{self.display}: cannot create folder {create!r} ({text})"
                )
        self._settled(run)

    def _failed(self, run: _Run, text: str) -> None:
        field, _, value, _ = run.key
        if field in ("labels", "folder") and isinstance(value, str):
            names = [self._delim.join(value.split("/")[:i])
                     for i in range(1, len(value.split("/")) + 1)]  # fmt: skip
            why = next((self._create_errors[n] for n in names if n in self._create_errors), None)
            if why is not None:  # this action cannot be done (a folder name refused…)
                run.fail(why, alone=True)
                return
        run.fail(f"{self.display}: {text}", alone=False)

    def _settled(self, run: _Run) -> None:
        """Mark a group's changes once its last command is answered."""
        if not run.sent or run.pending or run.marked:
            return
        run.marked = True
        field, op, value, _ = run.key
        for ch, _ in run.items:
            if run.error is not None:
                if run.alone and ch.outcome != "applied":
                    ch.outcome, ch.error = "failed", run.error
                continue  # otherwise left planned: the executor journals them as failed
            if field == "labels" and op == "add" and self._label_kind(value) == "folder":
                self._label_folders.setdefault(value, {}).setdefault(ch.key, 0)
            elif field == "folder":
                self._where.pop(ch.key, None)
            self._forget(ch)
            ch.outcome = "applied"  # this group's commands went through
        if self.settled is not None:
            self.settled([ch for ch, _ in run.items])

    def _forget(self, ch: Any) -> None:
        if ch.field == "labels":
            labels = self._labels.setdefault(ch.key, set())
            if ch.op == "add":
                labels.add(ch.after)
            else:
                labels.discard(ch.before)
        elif ch.field in ("seen", "flagged"):
            flag = "\\Seen" if ch.field == "seen" else "\\Flagged"
            flags = self._flags.setdefault(ch.key, set())
            if ch.after:
                flags.add(flag)
            else:
                flags.discard(flag)

    def _remove_label_copies(self, run: _Run, folder: str, mids: list[str]) -> None:
        """Removing a folder label removes the copy in that folder, never the message."""
        index = self._folder_index(folder)
        uids = [index[m] for m in mids if index.get(m)]
        if not uids:
            return
        own = [m for m in mids if index.get(m) and self._where.get(m) == (folder, index[m])]
        if own:  # read in that folder: the message itself, not a copy
            run.fail(
                f"{self.display}: {len(own)} message(s) are themselves in {folder!r}, not "
                "copies: removing the label would delete them (move them out first)",
                alone=True,
            )
            return
        c = self.connect()
        self._select(folder)
        if not self._has_uidplus and self._others_deleted(run, folder, uids):
            return
        for part in chunks(sorted(uids), SET_CHUNK):
            seq = compress(part)
            c.add_flags(seq, [b"\\Deleted"], silent=True)
            if self._has_uidplus:
                c.uid_expunge(seq)
            else:
                c.expunge()
        for m in mids:
            index.pop(m, None)

    def _ensure_folder(self, folder: str, run: _Run) -> None:
        """Create a folder and its parents (``関東/新宿店`` needs ``関東``) when missing:
        pipelined CREATEs, answered before the command that needs the folder is run."""
        known = self.known_folders()
        if folder in known:
            return
        parts = folder.split("/")
        for i in range(1, len(parts) + 1):
            name = self._delim.join(parts[:i]) if self._delim != "/" else "/".join(parts[:i])
            if name not in known:
                self._raw(run, name, "CREATE", self.connect()._normalise_folder(name))
                known.add(name)

    def known_folders(self) -> set[str]:
        """The server's folders, listed once per run (one LIST, not one per label)."""
        if self._known_folders is None:
            listing = self.connect().list_folders()
            self._known_folders = {_text(f[2]) for f in listing}
            if listing and listing[0][1]:
                self._delim = _text(listing[0][1])
        return self._known_folders

    def transaction(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()


_MAXLINE = 1_000_000  # as imaplib: a longer line is a broken or hostile server
_LITERAL = re.compile(rb"\{(\d+)\}\r\n\Z")
_ONE_LITERAL = re.compile(
    rb"\* \d+ FETCH \((.*?)(BODY(?:\.PEEK)?\[[^\]]*\](?:<\d+>)?) \{\d+\}\r\n\Z", re.S
)
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


def _fetch_fast(segments: list[bytes], literals: list[bytes], out: dict[int, Any]) -> bool:
    """One FETCH response holding UID, FLAGS and one body literal, read with three regexes.

    imapclient's general response lexer is most of the time spent on a FETCH of
    thousands of messages; for the items we ask (not Gmail's quoted labels) this
    is enough. False, for anything else: the general parser reads that response.
    """
    if len(literals) != 1:
        return False
    m = _ONE_LITERAL.match(segments[0])
    if m is None:
        return False
    text = m.group(1) + segments[1]
    uid = _UID.search(text)
    if uid is None:
        return False
    flags = _FLAGS.search(text)
    out.setdefault(int(uid.group(1)), {}).update({
        m.group(2).replace(b".PEEK", b""): literals[0],
        b"FLAGS": tuple(flags.group(1).split()) if flags else (),
    })  # fmt: skip
    return True


def _as_imaplib(segments: list[bytes], literals: list[bytes], out: list[Any]) -> None:
    """One untagged FETCH as imaplib hands it over: ``(line, literal)`` pairs then the
    last line, CRLF stripped, ``* n FETCH`` shortened to ``n``."""
    first = segments[0][2:].replace(b" FETCH ", b" ", 1)
    lines = [first, *segments[1:]]
    for line, literal in zip(lines, literals, strict=False):
        out.append((line.rstrip(b"\r\n"), literal))
    last = lines[len(literals)].rstrip(b"\r\n")
    if last or not literals:
        out.append(last)


def _gmail_label(label: str) -> str:
    return {"INBOX": "\\Inbox", "Important": "\\Important", "Starred": "\\Starred"}.get(
        label, label
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return re.sub(r"^b'|'$", "", str(value))
