"""The mailbox port: read messages, and apply label/folder/flag changes to them.

Every backend returns the same :class:`MailMessage` records and applies the
same changes (``labels`` add/remove, ``folder`` set, ``seen``/``flagged``
set) on targets ``messages:<id>`` where ``id`` is the backend's own id of the
message. Backends:

- the embedded store (the default: messages imported with ``ops mail import``
  or the demo); its changes are ordinary store changes;
- Maildir (``maildir:///path``): folders are Maildir++ subfolders, labels are
  subfolders holding a copy (``.返信待ち``), read/flagged are the ``:2,`` flags.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from .eml import (
    addresses,
    body_of,
    body_start,
    decode_text,
    envelope,
    first_value,
    index_fields,
    parse_message,
    split_headers,
)
from .errors import OpsError, UsageError
from .schema import MESSAGES
from .store import Store


@dataclass
class MailMessage:
    id: str
    message_id: str
    date: datetime
    mailbox: str | None = None
    folder: str | None = None
    uid: int | None = None
    from_addr: str = ""
    from_name: str = ""
    to_addrs: list[str] = field(default_factory=list)
    cc_addrs: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    subject: str = ""
    body_text: str = ""
    headers: dict[str, list[str]] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    seen: bool = False
    flagged: bool = False
    thread_id: str | None = None
    in_reply_to: str | None = None
    raw: bytes | None = None
    headers_raw: bool = False  # header values still encoded as read; decoded on access
    partial: bool = False  # read with its headers only (``raw`` is the header block)

    def header(self, name: str) -> list[str]:
        index = self.__dict__.get("_header_index")
        if index is None or index[0] is not self.headers:  # built once per headers dict
            lowered: dict[str, list[str]] = {}
            for k, vs in self.headers.items():
                lowered.setdefault(k.lower(), []).extend(vs)
            index = self.__dict__["_header_index"] = (self.headers, lowered)
        values = index[1].get(name.lower(), [])
        if self.headers_raw:
            return [decode_text(v) for v in values]
        return values


_BRIEF = ("id", "message_id", "date", "mailbox", "folder", "uid", "from_addr", "from_name",
          "subject", "labels", "seen", "flagged", "thread_id", "in_reply_to")  # fmt: skip


def brief(msg: MailMessage) -> tuple[Any, ...]:
    """What a run reports and plans changes from (who, when, what, where; labels and
    flags), without the headers, the body or the raw bytes: a message sent from one
    process to another in a tenth of the bytes. :func:`from_brief` makes it a message
    again, one no rule can be asked of."""
    d = msg.__dict__
    return tuple([d[k] for k in _BRIEF])


def from_brief(values: tuple[Any, ...]) -> MailMessage:
    return MailMessage(**dict(zip(_BRIEF, values, strict=True)))


def header_message(
    raw: bytes, *, name: str, mailbox: str, folder: str, uid: int | None, flags: set[str]
) -> MailMessage:
    """A message read with its header block only (an IMAP ``BODY[HEADER]``), built
    straight from the fields: what ``from_record(parse_message(raw, headers_only=True,
    decode_headers=False, iso_date=False))`` gives, without the record in between,
    with the addresses split once and the lower-case index of the fields kept (a run
    over a big mailbox builds thousands of these). A message without a usable Date is
    an error naming it."""
    items = split_headers(raw)
    if not items:
        raise UsageError(f"{name}: no headers, not an RFC 5322 message")
    index, headers = index_fields(items)  # values as read
    header = first_value(index)
    date, mid, in_reply_to, thread, from_name, from_addr = envelope(raw, header, name)

    def addrs(low: str) -> list[str]:
        return [a.strip().lower() for a in addresses(header(low)) if a.strip()]

    msg = MailMessage(
        id=mid,
        message_id=mid,
        date=date,
        mailbox=mailbox or None,
        folder=folder or None,
        uid=uid,
        from_addr=from_addr.lower(),
        from_name=from_name,
        to_addrs=addrs("to"),
        cc_addrs=addrs("cc"),
        reply_to=addrs("reply-to"),
        subject=header("subject"),
        headers=headers,
        seen="\\Seen" in flags,
        flagged="\\Flagged" in flags,
        thread_id=thread,
        in_reply_to=in_reply_to,
        raw=raw,
        headers_raw=True,
        partial=True,
    )
    msg.__dict__["_header_index"] = (headers, index)  # what MailMessage.header builds
    msg.__dict__["_fields"] = items  # in order, for reading the body later (body_of)
    return msg


def _split(addrs: str | None) -> list[str]:
    return [a.strip().lower() for a in (addrs or "").split(",") if a.strip()]


def from_record(rec: dict[str, Any], *, mid: str | None = None) -> MailMessage:
    """A message record (store row or parsed .eml) as a MailMessage."""
    date = rec["date"]
    if isinstance(date, str):
        date = datetime.fromisoformat(date.replace("Z", "+00:00"))
    return MailMessage(
        id=mid or rec["id"],
        message_id=rec["id"],
        date=date,
        mailbox=rec.get("mailbox"),
        folder=rec.get("folder"),
        uid=rec.get("uid"),
        from_addr=(rec.get("from_addr") or "").lower(),
        from_name=rec.get("from_name") or "",
        to_addrs=_split(rec.get("to_addrs")),
        cc_addrs=_split(rec.get("cc_addrs")),
        reply_to=_split(rec.get("reply_to")),
        subject=rec.get("subject") or "",
        body_text=rec.get("body_text") or "",
        headers=rec.get("headers") or {},
        attachments=rec.get("attachments") or [],
        labels=list(rec.get("labels") or []),
        seen=bool(rec.get("seen")),
        flagged=bool(rec.get("flagged")),
        thread_id=rec.get("thread_id"),
        in_reply_to=rec.get("in_reply_to"),
        raw=rec.get("raw"),
        headers_raw=bool(rec.get("headers_raw")),
    )


class Mailbox(Protocol):
    # Where its changes go: "store", or "<port>:<url>" so an undo can reopen it.
    backend: str
    display: str

    def messages(
        self,
        *,
        folder: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
    ) -> Iterator[MailMessage]: ...


class StoreMailbox:
    """Messages kept in the store; changes go through the store target."""

    backend = "store"

    def __init__(self, store: Store, mailbox: str | None = None) -> None:
        self.store = store
        self.mailbox = mailbox
        self.display = f"store {store.display_url}" + (f" ({mailbox})" if mailbox else "")

    def messages(
        self,
        *,
        folder: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
        until: datetime | None = None,
    ) -> Iterator[MailMessage]:
        where, params = [], []
        if until:
            where.append("date < ?")
            params.append(until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if self.mailbox:
            where.append("mailbox = ?")
            params.append(self.mailbox)
        if folder:
            where.append("folder = ?")
            params.append(folder)
        if since:
            where.append("date >= ?")
            params.append(since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if ids:
            where.append(f"id IN ({', '.join('?' for _ in ids)})")
            params.extend(ids)
        for rec in self.store.iter_records(MESSAGES, " AND ".join(where), params, order="date, id"):
            yield from_record(rec)


# -- Maildir ---------------------------------------------------------------------------

_INFO = re.compile(r":2,([A-Za-z]*)$")


def maildir_root(url: str) -> Path:
    parts = urlsplit(url)
    return Path(unquote(parts.path if parts.scheme else url)).expanduser()


class MaildirMailbox:
    """A Maildir++ tree: INBOX at the root, folders as ``.Name`` (``.Parent.Child``).

    Labels are folders holding a copy of the message, so a label such as
    ``関東/新宿店`` is the folder ``.関東.新宿店``; removing a label removes the
    copy, never the message. ``trash``/``move`` rename the file into the
    target folder; read and flagged are the Maildir info flags.
    """

    SEP = "."
    default_folder = "INBOX"

    def __init__(self, url: str) -> None:
        self.root = maildir_root(url)
        self.backend = f"mail:maildir://{self.root}"
        if not (self.root / "cur").is_dir() and not (self.root / "new").is_dir():
            raise UsageError(f"{self.root}: not a Maildir (no cur/ or new/ folder)")
        self.display = f"maildir {self.root}"
        self._index: dict[str, list[Path]] | None = None  # Message-ID → files
        self._made: set[Path] = set()  # folders known to have cur/, new/ and tmp/
        self._folders: dict[str, str] = {}  # a cur/ or new/ directory → its folder's name
        self._rank: dict[str, int] | None = None  # folder → its place in the listing
        self._apart: dict[str, list[Path]] = {}  # the index without the folder being read
        self._joining: str | None = None  # the folder whose files join() adds to the index
        # folder → name (without the flags) of each file whose inode this mailbox changed →
        # the change time it left the file with
        self._touched: dict[str, dict[str, float | None]] = {}

    # paths
    def folder_dir(self, folder: str | None) -> Path:
        if not folder or folder.upper() == "INBOX":
            return self.root
        return self.root / ("." + folder.replace("/", self.SEP))

    def folders(self) -> list[str]:
        out = ["INBOX"]
        for p in sorted(self.root.iterdir()):
            if p.is_dir() and p.name.startswith(".") and (p / "cur").is_dir():
                out.append(p.name[1:].replace(self.SEP, "/"))
        return out

    def _files(self, folder: str | None, after: MaildirCheckpoint | None = None) -> Iterator[Path]:
        """The message files of a folder; ``after``: only those that arrived since."""
        base = self.folder_dir(folder)
        for sub in ("new", "cur"):
            d = base / sub
            try:  # names sorted as strings: the order of Paths, without their comparisons
                with os.scandir(d) as entries:
                    names = sorted(
                        e.name
                        for e in entries
                        if e.is_file()
                        and not e.name.startswith(".")
                        and (after is None or after.takes(e))
                    )
            except (FileNotFoundError, NotADirectoryError):
                continue
            yield from (d / name for name in names)

    def _read(self, path: Path, folder: str) -> MailMessage:
        raw = path.read_bytes()
        rec = parse_message(raw, name=str(path), mailbox=self.root.name, folder=folder)
        flags = _INFO.search(path.name)
        letters = flags.group(1) if flags else ""
        msg = from_record({**rec, "seen": "S" in letters, "flagged": "F" in letters})
        msg.id = rec["id"]
        return msg

    def _head(self, path: Path, folder: str) -> MailMessage:
        """A message read with its header block only (see :meth:`whole`)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise OpsError(f"{path}: cannot read ({exc.strerror or exc})") from None
        info = _INFO.search(path.name)
        letters = info.group(1) if info else ""
        flags = {f for letter, f in (("S", "\\Seen"), ("F", "\\Flagged")) if letter in letters}
        msg = header_message(raw[: body_start(raw)], name=str(path), mailbox=self.root.name,
                             folder=folder, uid=None, flags=flags)  # fmt: skip
        msg.__dict__["_path"] = path
        return msg

    def whole(self, msg: MailMessage) -> MailMessage:
        """A message read by :meth:`head`, with its body: the file read again (a rule
        asked for the body)."""
        path = msg.__dict__.get("_path")
        if not msg.partial or path is None:
            return msg
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise OpsError(f"{path}: cannot read ({exc.strerror or exc})") from None
        body, attachments = body_of(raw, msg.__dict__.get("_fields"))
        out = object.__new__(MailMessage)  # a shallow copy, without copy's protocol
        out.__dict__.update(msg.__dict__)
        out.body_text, out.attachments, out.raw, out.partial = body, attachments, raw, False
        return out

    def index(self) -> dict[str, list[Path]]:
        """Message-ID → the files of the message, in every folder: the message itself
        first, then its label copies. Read from the header blocks only (the id is made
        of the headers), once."""
        if self._index is None:
            self._index = self._read_index()
        return self._index

    def _read_index(self, skip: str | None = None) -> dict[str, list[Path]]:
        idx: dict[str, list[Path]] = {}
        for folder in self.folders():
            if folder == skip:
                continue
            for path in self._files(folder):
                try:
                    rec = parse_message(path.read_bytes(), name=str(path),
                                        headers_only=True, decode_headers=False)  # fmt: skip
                except (OpsError, OSError):
                    continue
                idx.setdefault(rec["id"], []).append(path)
        for paths in idx.values():
            paths.sort(key=self._order)
        return idx

    def _order(self, path: Path) -> tuple[bool, int]:
        """Where a file goes among its message's: the message itself before its label
        copies, folders in the order they are listed (INBOX first)."""
        if self._rank is None:
            self._rank = {f: i for i, f in enumerate(self.folders())}
        return _is_label_copy(path), self._rank.get(self._folder_of(path), len(self._rank))

    # A big run reads a folder in other processes (commands.mail): ``listing`` and
    # ``apart`` here first, ``head`` (and ``whole``) there, ``join`` here with what they read.
    def listing(self, folder: str, after: MaildirCheckpoint | None = None) -> list[Path]:
        """The folder's message files, in the order :meth:`messages` reads them."""
        self._check(folder)
        return list(self._files(folder, after))

    def checkpoint(
        self, folder: str | None, saved: dict[str, Any] | None, use: bool
    ) -> tuple[dict[str, Any], dict[str, Any], str | None]:
        """Where a recurring run reads from (:class:`MaildirCheckpoint`: the files changed
        since the last run began), what to save once it has read, and a warning (none)."""
        saved = saved or {}
        began = _file_clock()
        touched = _touched_of(saved.get("touched"))
        query: dict[str, Any] = {}
        if use and isinstance(saved.get("began"), int | float):
            query["after"] = MaildirCheckpoint(float(saved["began"]), touched)
        # The files the last run changed count as this one's for the next run too while
        # they are inside its window (changed MARGIN before this run began, or later).
        ended = saved.get("ended")
        recent = isinstance(ended, int | float) and ended >= began - MaildirCheckpoint.MARGIN
        return query, {"began": began, "touched": touched if recent else {}}, None

    def checkpointed(self, folder: str | None, value: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint to save once the run has read: with the files it changed in the
        folder (renamed for read or flagged, linked to a label copy or unlinked from one;
        their names without the flags, and the change time each was left with), which the
        next run does not take for new mail unless changed again since (moved out and
        back in by a mail client)."""
        touched = dict(value["touched"])  # as :meth:`checkpoint` made it
        for name, at in self._touched.get(folder or self.default_folder, {}).items():
            touched[name] = _later(touched.get(name, at), at)
        return {**value, "touched": dict(sorted(touched.items())), "ended": _file_clock()}

    def _touch(self, path: Path) -> None:
        """Note a file this run changed (its inode: a rename, a link made or removed), with
        the change time it has now."""
        try:
            at: float | None = path.stat().st_ctime
        except OSError:  # gone meanwhile: not taken for new mail at all, as before
            at = None
        names = self._touched.setdefault(self._folder_of(path), {})
        name = _INFO.sub("", path.name)
        names[name] = _later(names.get(name, at), at)

    def _check(self, folder: str) -> None:
        """A folder asked for by name must be there: a typo reads nothing, every run."""
        d = self.folder_dir(folder)
        if d != self.root and not ((d / "cur").is_dir() or (d / "new").is_dir()):
            raise UsageError(
                f"{self.display}: no folder {folder!r} (there are: {', '.join(self.folders())})"
            )

    def apart(self, folder: str) -> None:
        """The index of every folder but this one (the label copies of its messages),
        to be completed with its own files by :meth:`join` as they are read."""
        if self._index is None:
            self._index = self._read_index(skip=folder)
            self._joining = folder
        self._apart = {}
        for mid, paths in self._index.items():
            there = [p for p in paths if self._folder_of(p) != folder]
            if there:
                self._apart[mid] = there

    def head(self, path: Path, folder: str) -> MailMessage | None:
        """One file of the folder being read, its header block only (None: not readable
        as a message); its labels as :meth:`labels_of` gives them."""
        msg = self._try(self._head, path, folder)
        if msg is not None:
            msg.labels = self.labels_for(path, msg.message_id)
        return msg

    def labels_for(self, path: Path, message_id: str) -> list[str]:
        """What :meth:`labels_of` gives for a message of the folder being read, known only
        from the other folders (:meth:`apart`) and its own file."""
        paths = sorted([*self._apart.get(message_id, []), path], key=self._order)
        main, *copies = [self._folder_of(p) for p in paths]
        return sorted(f for f in copies if f != main)

    def join(self, paths: list[Path], ids: list[str | None]) -> None:
        """Files of the folder being read, with their ids (None: unreadable), into the index."""
        if self._index is None or self._joining is None:
            return  # the index was read whole before: it has them
        for path, mid in zip(paths, ids, strict=True):
            if mid is not None:
                files = self._index.setdefault(mid, [])
                if path not in files:  # a folder read twice with the same mailbox
                    files.append(path)
                    files.sort(key=self._order)

    def labels_of(self, message_id: str) -> list[str]:
        paths = self.index().get(message_id)
        if not paths:
            return []
        main, *copies = [self._folder_of(p) for p in paths]
        return sorted(f for f in copies if f != main)

    def _folder_of(self, path: Path) -> str:
        cur = str(path.parent)  # a folder's cur/ or new/: looked up once
        found = self._folders.get(cur)
        if found is None:
            d = path.parent.parent
            found = "INBOX" if d == self.root else d.name[1:].replace(self.SEP, "/")
            self._folders[cur] = found
        return found

    def main_folder(self, message_id: str) -> str | None:
        paths = self.index().get(message_id, [])
        return self._folder_of(paths[0]) if paths else None

    def messages(
        self,
        *,
        folder: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
    ) -> Iterator[MailMessage]:
        """The messages of a folder, read whole, in file name order."""
        name = folder or "INBOX"
        self._check(name)
        read = ((path, self._try(self._read, path, name)) for path in self._files(name))
        seen_ids: set[str] = set()
        for path, msg in read:
            if msg is None:
                continue
            if msg.message_id in seen_ids or (ids and msg.message_id not in ids):
                continue
            if since and msg.date < since:
                continue
            seen_ids.add(msg.message_id)
            paths = self.index().setdefault(msg.message_id, [])
            if path not in paths:  # read whole, its id came out otherwise: it is this one
                paths.insert(0, path)
            msg.labels = self.labels_of(msg.message_id)
            yield msg

    @staticmethod
    def _try(
        read: Callable[[Path, str], MailMessage], path: Path, folder: str
    ) -> MailMessage | None:
        """A message file read, or None when it cannot be (it is left out of the run)."""
        try:
            return read(path, folder)
        except OpsError:
            return None

    # change target --------------------------------------------------------------
    def _path(self, message_id: str) -> Path:
        paths = self.index().get(message_id)
        if not paths:
            raise OpsError(f"message {message_id} is not in {self.display}")
        return paths[0]

    def read(self, change: Any) -> Any:
        mid = change.key
        if change.field == "labels":
            return self.labels_of(mid)
        path = self._path(mid)
        if change.field == "folder":
            return self._folder_of(path)
        flags = _INFO.search(path.name)
        letters = flags.group(1) if flags else ""
        if change.field == "seen":
            return "S" in letters
        if change.field == "flagged":
            return "F" in letters
        raise OpsError(f"maildir cannot change {change.field!r}")

    def _ensure(self, folder: str) -> Path:
        d = self.folder_dir(folder)
        if d not in self._made:
            for sub in ("cur", "new", "tmp"):
                (d / sub).mkdir(parents=True, exist_ok=True)
            self._made.add(d)
        return d

    def write(self, change: Any) -> None:
        try:
            self._write(change)
        except OSError as exc:  # a folder that cannot be made, a file gone or not writable
            where = f" ({exc.filename})" if exc.filename else ""
            raise OpsError(
                f"{self.display}: cannot {change.op} {change.field} of {change.key}: "
                f"{exc.strerror or exc}{where}"
            ) from None

    def write_batch(self, changes: list[Any]) -> None:
        """Each change in turn, the read and flagged ones first (so a label copy carries
        the flags the run gave the message, as on IMAP), the others in order; one the
        file system refuses fails alone, with why, and the others go on (so a run's
        journal takes a transaction a batch)."""
        flags = [ch for ch in changes if ch.field in ("seen", "flagged")]
        for ch in [*flags, *(ch for ch in changes if ch.field not in ("seen", "flagged"))]:
            try:
                self.write(ch)
            except OpsError as exc:
                ch.outcome, ch.error = "failed", str(exc)
                continue
            ch.outcome = "applied"

    def _write(self, change: Any) -> None:
        mid = change.key
        idx = self.index()
        if change.field == "labels" and change.op == "add":
            src = self._path(mid)
            dst = self._ensure(change.after) / "cur" / _unique_name(src.name)
            try:  # a hard link, as Maildir servers copy: a message file never changes
                os.link(src, dst)
                self._touch(src)  # one inode: its change time is the message's too
            except OSError:  # another file system, or links not allowed there
                shutil.copy2(src, dst)
            idx[mid].append(dst)
        elif change.field == "labels" and change.op == "remove":
            for p in list(idx.get(mid, [])):
                if self._folder_of(p) == change.before and p != idx[mid][0]:
                    p.unlink()
                    idx[mid].remove(p)
                    self._touch(idx[mid][0])
        elif change.field == "folder":
            src = self._path(mid)
            dst = self._ensure(change.after) / src.parent.name / src.name
            os.replace(src, dst)
            idx[mid][0] = dst
        elif change.field in ("seen", "flagged"):
            src = self._path(mid)
            letter = "S" if change.field == "seen" else "F"
            m = _INFO.search(src.name)
            letters = set(m.group(1)) if m else set()
            letters = letters | {letter} if change.after else letters - {letter}
            base = _INFO.sub("", src.name)
            dst = src.parent.parent / "cur" / f"{base}:2,{''.join(sorted(letters))}"
            os.replace(src, dst)
            idx[mid][0] = dst
            self._touch(dst)
        else:
            raise OpsError(f"maildir cannot {change.op} {change.field!r}")

    def transaction(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()


def _file_clock() -> float:
    """Now, by the clock the kernel stamps file times with: on Linux a coarse one, up to
    a tick behind time.time(), so a file renamed a millisecond after a quick run began
    would otherwise seem changed before it."""
    if sys.platform.startswith("linux"):
        return time.clock_gettime(getattr(time, "CLOCK_REALTIME_COARSE", 5))
    return time.time()


def _later(a: float | None, b: float | None) -> float | None:
    """The later of two change times; None (any time) is later than every time."""
    return None if a is None or b is None else max(a, b)


def _touched_of(saved: Any) -> dict[str, float | None]:
    """The files a checkpoint says its run changed: name → the change time it left them
    with. A checkpoint saved before the times were kept lists names only: those are
    not taken whatever their time (as then)."""
    if isinstance(saved, dict):
        return {str(k): float(v) if isinstance(v, int | float) else None for k, v in saved.items()}
    return dict.fromkeys((str(n) for n in saved or []), None)


@dataclass(frozen=True)
class MaildirCheckpoint:
    """Where the last run of a folder stopped reading: the files delivered or moved into
    the folder since it began (their inode change time: a new file, a rename, a link),
    but not those whose inode it changed itself (``touched``: their names without the
    flags, each with the change time the run left it with: a file changed again since,
    moved out and back in by a mail client, is read; :meth:`MaildirMailbox.checkpointed`).
    A file changed ``MARGIN`` seconds before the run began is read again: a network file
    system stamps the times of its own clock."""

    began: float
    touched: dict[str, float | None] = field(default_factory=dict)
    MARGIN = 120.0

    def takes(self, entry: os.DirEntry[str]) -> bool:
        try:
            changed = entry.stat().st_ctime
        except OSError:
            return True  # gone or unreadable now: listed, and left out when read
        if changed < self.began - self.MARGIN:
            return False
        name = _INFO.sub("", entry.name)
        if name not in self.touched:
            return True
        ours = self.touched[name]
        return ours is not None and changed > ours


_counter = 0
# In the unique part of a label copy's file name: which file is the message itself and
# which are copies is otherwise known only from the order folders are read in, and a
# message moved to a folder read after its label's would be taken for a copy of it.
_LABEL_MARK = "_label"


def _unique_name(name: str) -> str:
    """A new file name for a label copy of the message file ``name``."""
    global _counter
    _counter += 1
    info = _INFO.search(name)
    suffix = info.group(0) if info else ":2,"
    unique = f"M{_counter}P{os.getpid()}{_LABEL_MARK}"
    return f"{int(time.time())}.{unique}.{socket.gethostname()}{suffix}"


def _is_label_copy(path: Path) -> bool:
    parts = path.name.split(":", 1)[0].split(".")
    return len(parts) >= 3 and parts[1].endswith(_LABEL_MARK)
