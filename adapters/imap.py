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
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .eml import body_of, parse_message, strip_id
from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .mailbox import MailMessage, from_record
from .store import mask_url

CHUNK = 500  # UIDs per FETCH
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
        self._sending_fetch = False

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

        original = client._imap._command

        def counted(*args: Any, **kwargs: Any) -> Any:
            counter.commands += 1
            if counter._inflight and not counter._sending_fetch:
                counter._drain()  # answers to pipelined FETCHes come first
            return original(*args, **kwargs)

        client._imap._command = counted
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
        return dict(info)

    def folder_state(self, folder: str | None = None) -> tuple[int, int]:
        """(UIDVALIDITY, UIDNEXT) of a folder, for checkpoints."""
        c = self.connect()
        st = c.folder_status(folder or self.default_folder, [b"UIDVALIDITY", b"UIDNEXT"])
        return int(st[b"UIDVALIDITY"]), int(st[b"UIDNEXT"])

    # -- reading -----------------------------------------------------------------------------
    def messages(
        self,
        *,
        folder: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
        after_uid: int | None = None,
        headers_only: bool = False,
    ) -> Iterator[MailMessage]:
        folder = folder or self.default_folder
        self._select(folder, readonly=True)
        c = self.client
        criteria: list[Any] = ["ALL"]
        if since is not None:
            criteria = ["SINCE", since.date()]
        if ids:
            criteria = ["OR"] * (len(ids) - 1)
            for mid in ids:
                criteria += ["HEADER", "Message-ID", mid]
        uids = sorted(c.search(criteria))
        if after_uid is not None:
            uids = [u for u in uids if u > after_uid]
        yield from self._read(folder, list(chunks(uids, CHUNK)), headers_only=headers_only)

    def bodies(self, partial: list[MailMessage]) -> Iterator[MailMessage]:
        """The given header-only messages read whole: one ``BODY.PEEK[TEXT]`` FETCH per
        chunk, joined to the header block already read. Flags and labels stay as first
        read (one snapshot per run). A message gone meanwhile is left out."""
        by_folder: dict[str, list[MailMessage]] = {}
        for msg in partial:
            by_folder.setdefault(msg.folder or self.default_folder, []).append(msg)
        for folder, msgs in by_folder.items():
            head: dict[int, MailMessage] = {m.uid: m for m in msgs if m.uid is not None}
            yield from self._read(folder, list(chunks(sorted(head), CHUNK)), text_of=head)

    def _read(
        self,
        folder: str,
        uid_chunks: list[list[int]],
        *,
        headers_only: bool = False,
        text_of: dict[int, MailMessage] | None = None,
    ) -> Iterator[MailMessage]:
        item_name = b"BODY[HEADER]" if headers_only else b"BODY[TEXT]" if text_of else b"BODY[]"
        want = [b"FLAGS", item_name.replace(b"BODY[", b"BODY.PEEK[")]
        if self.gmail:
            want.append(b"X-GM-LABELS")
        fetched = self._fetch_many(folder, uid_chunks, want)
        for chunk, data in zip(uid_chunks, fetched, strict=False):
            yield from self._chunk(folder, chunk, data, item_name, headers_only, text_of)

    def _chunk(
        self,
        folder: str,
        chunk: list[int],
        data: dict[int, Any],
        item_name: bytes,
        headers_only: bool,
        text_of: dict[int, MailMessage] | None,
    ) -> Iterator[MailMessage]:
        for uid in chunk:
            item = data.get(uid)
            if not item:
                continue
            raw = item.get(item_name) or b""
            if text_of is not None:  # the body of a message whose headers were read
                first = text_of[uid]
                raw = (first.raw or b"").rstrip(b"\r\n") + b"\r\n\r\n" + raw
                body, attachments = body_of(raw)
                yield replace(first, body_text=body, attachments=attachments, raw=raw,
                              partial=False)  # fmt: skip
                continue
            try:
                rec = parse_message(
                    raw,
                    name=f"{folder}/{uid}",
                    mailbox=self.user,
                    folder=folder,
                    decode_headers=False,
                    headers_only=headers_only,
                )
            except OpsError:
                continue
            flags = {_text(f) for f in item.get(b"FLAGS", ())}
            msg = from_record({**rec, "uid": uid, "seen": "\\Seen" in flags,
                               "flagged": "\\Flagged" in flags})  # fmt: skip
            msg.id = msg.message_id
            msg.partial = headers_only
            if self.gmail:
                labels = {_text(x) for x in item.get(b"X-GM-LABELS", ())}
                msg.labels = sorted(GMAIL_SYSTEM.get(x, x) for x in labels
                                    if x not in ("\\Sent", "\\Draft"))  # fmt: skip
            else:
                msg.labels = sorted(k for k, kw in self.keywords.items() if kw in flags)
            self._where[msg.message_id] = (folder, uid)
            self._labels[msg.message_id] = set(msg.labels)
            self._flags[msg.message_id] = flags
            yield msg

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
        imap = self.client._imap
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
                    self._sending_fetch = True
                    try:
                        entry = [imap._command("UID", "FETCH", todo.pop(0), spec), None]
                    finally:
                        self._sending_fetch = False
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
        imap = self.client._imap
        typ, dat = imap._command_complete("UID", entry[0])
        typ, data = imap._untagged_response(typ, dat, "FETCH")
        self._inflight = [e for e in self._inflight if e is not entry]
        if typ != "OK":
            raise OpsError(f"{self.display}: FETCH failed ({_text(data)})")
        data = [d for d in data if d is not None]
        parsed = None if self.gmail else _parse_simple_fetch(data)
        if parsed is None:
            from imapclient.response_parser import parse_fetch_response

            parsed = dict(parse_fetch_response(data, True, True))
        entry[1] = parsed

    def _drain(self) -> None:
        """Read the answers to FETCH commands still in flight, in order, and keep them."""
        for entry in list(self._inflight):
            if entry[1] is None:
                self._complete(entry)

    def _label_kind(self, label: str) -> str:
        if self.gmail and self.label_mode != "folders":
            return "gmail"
        if label in self.keywords:
            return "keyword"
        return "folder"

    def _folder_index(self, folder: str) -> dict[str, int]:
        """Message-ID → UID of a label folder, read once per run (one FETCH of one header)."""
        if folder not in self._label_folders:
            c = self.connect()
            index: dict[str, int] = {}
            if folder in self.known_folders():
                self._select(folder, readonly=True)
                uids = c.search(["ALL"])
                for chunk in chunks(sorted(uids), CHUNK * 4):
                    data = self._fetch(chunk, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
                    for uid, item in data.items():
                        head = next((v for k, v in item.items() if k.startswith(b"BODY[")), b"")
                        mid = strip_id(_text(head).partition(":")[2])
                        if mid:
                            index[mid] = uid
            self._label_folders[folder] = index
        return self._label_folders[folder]

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
        item = self.client.fetch([uid], want).get(uid, {})
        flags = {_text(f) for f in item.get(b"FLAGS", ())}
        self._flags[mid] = flags
        if self.gmail:
            self._labels[mid] = {GMAIL_SYSTEM.get(_text(x), _text(x))
                                 for x in item.get(b"X-GM-LABELS", ())}  # fmt: skip
        else:
            self._labels[mid] = {k for k, kw in self.keywords.items() if kw in flags}

    def write(self, change: Any) -> None:
        self.write_batch([change])

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
        groups = dict(sorted(groups.items(), key=lambda kv: kv[0][0] == "folder"))
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
        for key, items in groups.items():
            try:
                self._write_group(key, items)
            except OpsError as exc:  # this action cannot be done (a folder name refused…)
                for ch, _ in items:
                    if ch.outcome != "applied":
                        ch.outcome, ch.error = "failed", str(exc)

    def _write_group(self, key: tuple[str, str, Any, str], items: list[tuple[Any, int]]) -> None:
        c = self.connect()
        field, op, value, folder = key
        uids = [u for _, u in items]
        if field == "labels" and self._label_kind(value) == "folder" and op == "remove":
            self._remove_label_copies(value, [ch.key for ch, _ in items])
            for ch, _ in items:
                self._forget(ch)
                ch.outcome = "applied"
            return
        self._select(folder)
        for part in chunks(sorted(uids), SET_CHUNK):
            seq = compress(part)
            if field == "labels":
                kind = self._label_kind(value)
                if kind == "gmail":
                    gl = _gmail_label(value)
                    (c.add_gmail_labels if op == "add" else c.remove_gmail_labels)(
                        seq, [gl], silent=True
                    )
                elif kind == "keyword":
                    kw = self.keywords[value]
                    (c.add_flags if op == "add" else c.remove_flags)(seq, [kw], silent=True)
                else:
                    self._ensure_folder(value)
                    c.copy(seq, value)
                    index = self._label_folders.setdefault(value, {})
                    for ch, _ in items:
                        index.setdefault(ch.key, 0)
            elif field == "folder":
                self._ensure_folder(value)
                if self.gmail and value == "Archive":
                    c.remove_gmail_labels(seq, ["\\Inbox"], silent=True)
                    continue
                if self._has_move:
                    c.move(seq, value)
                else:  # COPY, then mark the source \Deleted and expunge only those UIDs
                    c.copy(seq, value)
                    c.add_flags(seq, [b"\\Deleted"], silent=True)
                    if self._has_uidplus:
                        c.uid_expunge(seq)
                    else:
                        c.expunge()
                for ch, _ in items:
                    self._where.pop(ch.key, None)
            else:
                flag = b"\\Seen" if field == "seen" else b"\\Flagged"
                (c.add_flags if value else c.remove_flags)(seq, [flag], silent=True)
        for ch, _ in items:
            self._forget(ch)
            ch.outcome = "applied"  # this group's commands went through

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

    def _remove_label_copies(self, folder: str, mids: list[str]) -> None:
        """Removing a folder label removes the copy in that folder, never the message."""
        index = self._folder_index(folder)
        uids = [index[m] for m in mids if index.get(m)]
        if not uids:
            return
        c = self.connect()
        self._select(folder)
        for part in chunks(sorted(uids), SET_CHUNK):
            seq = compress(part)
            c.add_flags(seq, [b"\\Deleted"], silent=True)
            if self._has_uidplus:
                c.uid_expunge(seq)
            else:
                c.expunge()
        for m in mids:
            index.pop(m, None)

    def _ensure_folder(self, folder: str) -> None:
        """Create a folder and its parents (``関東/新宿店`` needs ``関東``) when missing."""
        c = self.connect()
        known = self.known_folders()
        if folder in known:
            return
        parts = folder.split("/")
        for i in range(1, len(parts) + 1):
            name = self._delim.join(parts[:i]) if self._delim != "/" else "/".join(parts[:i])
            if name not in known:
                try:
                    c.create_folder(name)
                except Exception as exc:  # noqa: BLE001
                    if not c.folder_exists(name):
                        raise OpsError(
                            f"{self.display}: cannot create folder {name!r} ({_text(exc)})"
                        ) from None
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


_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_LITERAL_ITEM = re.compile(rb"(BODY\[[^\]]*\](?:<\d+>)?) \{\d+\}$")


def _parse_simple_fetch(data: list[Any]) -> dict[int, dict[bytes, Any]] | None:
    """UID, FLAGS and one body literal per message, read with three regexes.

    imapclient's general response lexer is most of the time spent on a FETCH of
    thousands of messages; for the items we ask (not Gmail's quoted labels)
    this is enough. Anything unexpected returns None and the general parser
    reads the response instead.
    """
    out: dict[int, dict[bytes, Any]] = {}
    i = 0
    while i < len(data):
        item = data[i]
        if not isinstance(item, tuple) or len(item) != 2:
            return None
        head, literal = item
        tail = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
        i += 2 if tail else 1
        text = head + b" " + tail
        uid = _UID.search(text)
        body = _LITERAL_ITEM.search(head)
        if not uid or not body:
            return None
        flags = _FLAGS.search(text)
        out[int(uid.group(1))] = {
            body.group(1).replace(b".PEEK", b""): literal,
            b"FLAGS": tuple(flags.group(1).split()) if flags else (),
        }
    return out


def _gmail_label(label: str) -> str:
    return {"INBOX": "\\Inbox", "Important": "\\Important", "Starred": "\\Starred"}.get(
        label, label
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return re.sub(r"^b'|'$", "", str(value))
