"""IMAP answers read straight off the socket, and writes sent in pipelined stages."""

from __future__ import annotations

import imaplib
import io
from pathlib import Path
from types import SimpleNamespace

from test_imap import dovecot, fill, folders, imap_user, message  # noqa: F401  (fixtures)


class FakeImap:
    """What the reader uses of imaplib's connection: the socket file and the tags."""

    abort = imaplib.IMAP4.abort

    def __init__(self, data: bytes, tags: list[bytes]) -> None:
        self.file = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
        self.tagged_commands: dict[bytes, object] = dict.fromkeys(tags)


def box_reading(data: bytes, tags: list[bytes], *, gmail: bool = False):  # type: ignore[no-untyped-def]
    from deskops.adapters.imap import ImapMailbox

    box = ImapMailbox("imap://u@127.0.0.1/INBOX", password="x")
    box.client = SimpleNamespace(_imap=FakeImap(data, tags))
    box.gmail = gmail
    return box


def test_fetch_answers_are_read_around_whatever_else_the_server_says() -> None:
    head = b"From: a@b\r\nSubject: x\r\n\r\n"
    data = (
        b"* 3 EXISTS\r\n"
        b"* 1 FETCH (FLAGS (\\Seen))\r\n"  # another session's change, no UID: not ours
        b"* 1 FETCH (UID 10 FLAGS (\\Seen \\Flagged) BODY[HEADER] {%d}\r\n%s)\r\n"
        b"* 2 FETCH (UID 11 BODY[HEADER] {%d}\r\n%s FLAGS ())\r\n"  # items after the literal
        b"* 2 EXPUNGE\r\n"
        b"* 4 FETCH (UID 13 FLAGS () BODY[HEADER] {0}\r\n)\r\n"
        b"A1 OK FETCH done\r\n"  # an earlier command, completed first
        b"* 5 FETCH (UID 14 FLAGS () BODY[HEADER] NIL)\r\n"  # no literal: the general parser
        b"A2 OK FETCH done\r\n"
    ) % (len(head), head, len(head), head)
    box = box_reading(data, [b"A1", b"A2"])
    entry = [b"A2", None]
    box._inflight = [entry]
    box._complete(entry)
    got = entry[1]
    assert sorted(got) == [10, 11, 13, 14]
    assert got[10] == {b"BODY[HEADER]": head, b"FLAGS": (b"\\Seen", b"\\Flagged")}
    assert got[11][b"BODY[HEADER]"] == head and got[11][b"FLAGS"] == ()
    assert got[13][b"BODY[HEADER]"] == b""
    assert got[14][b"BODY[HEADER]"] is None
    assert box._done == {b"A1": ("OK", "FETCH done")} and not box._inflight


def test_gmail_labels_go_through_the_general_parser() -> None:
    data = (
        b'* 1 FETCH (X-GM-LABELS ("\\\\Inbox" "&MOkwwzDZMOs-" Work) UID 7 FLAGS ()'
        b" BODY[HEADER] {4}\r\nA: b)\r\n"
        b"T1 OK done\r\n"
    )
    box = box_reading(data, [b"T1"], gmail=True)
    entry = [b"T1", None]
    box._inflight = [entry]
    box._complete(entry)
    item = entry[1][7]
    assert item[b"BODY[HEADER]"] == b"A: b"
    assert set(item[b"X-GM-LABELS"]) == {b"\\Inbox", b"&MOkwwzDZMOs-", b"Work"}


def test_a_broken_connection_is_an_abort_not_a_hang() -> None:
    box = box_reading(b"* 1 FETCH (UID 1 BODY[HEADER] {50}\r\nshort", [b"B1"])
    entry = [b"B1", None]
    box._inflight = [entry]
    try:
        box._complete(entry)
    except imaplib.IMAP4.abort as exc:
        assert "EOF" in str(exc)
    else:
        raise AssertionError("no abort")


def test_a_refused_copy_stops_the_moves_and_keeps_the_rest(imap_user, isolated: Path) -> None:  # noqa: F811
    """The server refuses a label copy (say, over quota): the flags of the same stage are
    applied, the copy and the moves that would take its UIDs away are not; a rerun
    finishes both."""
    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    user, port = imap_user
    fill(user, port, [message(f"q{i}@c", "x@example.jp", "SEO") for i in range(6)])
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    rules = load_rules(
        [
            {"name": "flag", "when": {"subject": "SEO"}, "flag": True},
            {"name": "r", "when": {"subject": "SEO"}, "add_labels": ["確認"], "trash": True},
        ],
        "t.toml",
    )
    ctx = RuleContext(tz=zone("Asia/Tokyo"), now=now_utc())
    store = Store.open(str(isolated / "s.sqlite"))
    box = ImapMailbox(url, password="secret")
    res = plan_label(box, rules, ctx, store=None)

    real_send = box._send

    def refused_copy(*args):  # type: ignore[no-untyped-def]
        if args[:2] == ("UID", "COPY"):  # the server refuses it (NO [TRYCREATE] …)
            args = (*args[:3], '"no such folder"')
        return real_send(*args)

    box._send = refused_copy
    result = planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    assert result.status == "partial"
    by_field = {(c.field, c.outcome) for c in res.plan.changes}
    assert by_field == {("flagged", "applied"), ("labels", "failed"), ("folder", "failed")}
    assert all("TRYCREATE" in (c.error or "") for c in res.plan.changes if c.outcome == "failed")
    box.close()

    check = ImapMailbox(url, password="secret")
    inbox = list(check.messages())
    assert len(inbox) == 6 and all(m.flagged for m in inbox)  # nothing moved
    check.close()
    again = ImapMailbox(url, password="secret")
    res2 = plan_label(again, rules, ctx, store=None)
    assert planmod.execute(res2.plan, store, {again.backend: again}, atomic=False).counts == {
        "applied": 12
    }
    again.close()
    store.close()


def test_keyword_labels_and_many_groups_in_one_pipeline(imap_user, isolated: Path) -> None:  # noqa: F811
    """Keyword labels (STORE), folder labels under a new parent (CREATE, COPY), flags and
    moves to several folders: every change applied, in one round of answers per stage."""
    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    user, port = imap_user
    msgs = [message(f"k{i}@c", "x@example.jp", f"件名{i % 3}") for i in range(30)]
    fill(user, port, msgs)
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    rules = load_rules(
        [
            {"name": "kw", "when": {"subject": "件名0"}, "add_labels": ["Important"]},
            {"name": "a", "when": {"subject": "件名1"}, "add_labels": ["親/子"], "move": "A"},
            {"name": "b", "when": {"subject": "件名2"}, "mark_read": True, "move": "B/C"},
            {"name": "all", "when": {}, "flag": True},
        ],
        "t.toml",
    )
    box = ImapMailbox(url, password="secret", keywords={"Important": "$Important"})
    res = plan_label(box, rules, RuleContext(tz=zone("UTC"), now=now_utc()), store=None)
    store = Store.open(str(isolated / "s.sqlite"))
    result = planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    assert result.counts == {"applied": 10 + 20 + 20 + 30}
    box.close()
    check = ImapMailbox(url, password="secret", keywords={"Important": "$Important"})
    inbox = list(check.messages())
    assert len(inbox) == 10 and all(m.labels == ["Important"] and m.flagged for m in inbox)
    assert len(list(check.messages(folder="親/子"))) == 10
    moved_a = list(check.messages(folder="A"))
    moved_b = list(check.messages(folder="B/C"))
    assert len(moved_a) == 10 and all(m.flagged for m in moved_a)
    assert len(moved_b) == 10 and all(m.seen and m.flagged for m in moved_b)
    check.close()
    store.close()


def _without(monkeypatch, *caps: str) -> None:  # type: ignore[no-untyped-def]
    """Connections that act as if the server did not offer these capabilities."""
    from deskops.adapters.imap import ImapMailbox

    real = ImapMailbox.connect

    def connect(self):  # type: ignore[no-untyped-def]
        client = real(self)
        for cap in caps:
            setattr(self, f"_has_{cap.lower()}", False)
        return client

    monkeypatch.setattr(ImapMailbox, "connect", connect)


def _move_run(user: str, port: int, isolated: Path, rules=None):  # type: ignore[no-untyped-def]
    """Plan and apply ``rules`` (by default "SEO → trash, read"): (the plan's changes,
    the run's result)."""
    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    rules = load_rules(
        rules or [{"name": "r", "when": {"subject": "SEO"}, "trash": True, "mark_read": True}],
        "t.toml",
    )
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    res = plan_label(box, rules, RuleContext(tz=zone("UTC"), now=now_utc()), store=None)
    store = Store.open(str(isolated / "s.sqlite"))
    try:
        return res.plan.changes, planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    finally:
        box.close()
        store.close()


def _inbox(user: str, port: int) -> dict[str, set[bytes]]:
    """Message-ID → flags of what is in INBOX."""
    import imapclient

    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    c.select_folder("INBOX", readonly=True)
    got = c.fetch(c.search(["ALL"]), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    c.logout()
    out = {}
    for item in got.values():
        head = next(v for k, v in item.items() if k.startswith(b"BODY"))
        out[head.decode().split(":", 1)[1].strip()] = set(item[b"FLAGS"])
    return out


def test_without_move_a_refused_copy_expunges_nothing(imap_user, isolated, monkeypatch) -> None:  # noqa: F811
    """A server without MOVE: a move is COPY, then \\Deleted and an expunge, and the
    sources go only once the copy is answered OK. A refused copy keeps every message."""
    import imapclient

    user, port = imap_user
    fill(user, port, [message(f"m{i}@c", "x@example.jp", "SEO") for i in range(5)])
    _without(monkeypatch, "MOVE")
    real_copy = imapclient.IMAPClient.copy
    monkeypatch.setattr(  # the server refuses it (NO [TRYCREATE] …)
        imapclient.IMAPClient, "copy", lambda self, seq, _f: real_copy(self, seq, "no such")
    )
    changes, result = _move_run(user, port, isolated)
    assert result.status == "partial"
    assert {(c.field, c.outcome) for c in changes} == {("seen", "applied"), ("folder", "failed")}
    inbox = _inbox(user, port)
    assert len(inbox) == 5 and all(b"\\Deleted" not in f for f in inbox.values())

    monkeypatch.setattr(imapclient.IMAPClient, "copy", real_copy)
    _changes, result = _move_run(user, port, isolated)  # the rerun moves them
    assert result.counts == {"applied": 5} and _inbox(user, port) == {}
    assert folders(user, port)["Trash"] == 5


def test_without_uidplus_no_move_expunges_a_message_marked_elsewhere(
    imap_user,  # noqa: F811
    isolated,
    monkeypatch,
) -> None:
    """Without MOVE and UIDPLUS an EXPUNGE removes every message flagged \\Deleted: while
    a message no rule moves is flagged so, the move is not made, and that one stays."""
    import imapclient

    user, port = imap_user
    fill(user, port, [message(f"m{i}@c", "x@example.jp", "SEO") for i in range(3)])
    fill(user, port, [message("kept@c", "y@example.jp", "相談")])
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    c.select_folder("INBOX")
    kept = c.search(["SUBJECT", "相談"], charset="UTF-8")
    c.add_flags(kept, [b"\\Deleted"])  # marked in a mail client, not expunged
    _without(monkeypatch, "MOVE", "UIDPLUS")

    changes, result = _move_run(user, port, isolated)
    moves = [ch for ch in changes if ch.field == "folder"]
    assert {ch.outcome for ch in moves} == {"failed"}
    assert "1 other message(s) in 'INBOX' are marked deleted" in (moves[0].error or "")
    inbox = _inbox(user, port)
    assert len(inbox) == 4 and inbox["<kept@c>"] == {b"\\Deleted"}

    c.remove_flags(kept, [b"\\Deleted"])
    c.logout()
    _changes, result = _move_run(user, port, isolated)
    assert result.counts == {"applied": 3}
    assert list(_inbox(user, port)) == ["<kept@c>"] and folders(user, port)["Trash"] == 3


def test_a_label_copy_has_the_flags_the_run_gave_the_message(imap_user, isolated: Path) -> None:  # noqa: F811
    """Flag stores go before label copies in a batch: the copy carries the flag, whichever
    order the rules gave the changes in and whatever batches they were written in."""
    user, port = imap_user
    fill(user, port, [message(f"f{i}@c", "x@example.jp", "SEO") for i in range(4)])
    rules = [
        {"name": "label", "when": {"subject": "SEO"}, "add_labels": ["確認"]},
        {"name": "flag", "when": {"subject": "SEO"}, "flag": True, "mark_read": True},
    ]
    _changes, result = _move_run(user, port, isolated, rules)
    assert result.counts == {"applied": 12}
    from deskops.adapters.imap import ImapMailbox

    check = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    copies = list(check.messages(folder="確認"))
    assert len(copies) == 4 and all(m.flagged and m.seen for m in copies)
    check.close()


def test_without_uidplus_undoing_a_label_expunges_no_copy_marked_elsewhere(
    imap_user,  # noqa: F811
    isolated,
    monkeypatch,
) -> None:
    """Undoing a folder label removes its copies; without UIDPLUS that EXPUNGE would take
    any other message of the label folder marked \\Deleted, so it is not made then."""
    import imapclient

    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod

    user, port = imap_user
    fill(user, port, [message(f"l{i}@c", "x@example.jp", "SEO") for i in range(2)])
    rules = [{"name": "label", "when": {"subject": "SEO"}, "add_labels": ["確認"]}]
    _changes, result = _move_run(user, port, isolated, rules)
    assert result.counts == {"applied": 2} and folders(user, port)["確認"] == 2
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    c.append("確認", message("other@c", "y@example.jp", "メモ"), flags=[b"\\Deleted"])
    c.logout()
    _without(monkeypatch, "UIDPLUS")

    store = Store.open(str(isolated / "s.sqlite"))
    undo = planmod.undo_plan(store, result.run_id)
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    done = planmod.execute(undo, store, {box.backend: box}, atomic=False)
    box.close()
    store.close()
    assert done.counts == {"failed": 2}
    assert "1 other message(s) in '確認' are marked deleted" in (undo.changes[0].error or "")
    assert folders(user, port)["確認"] == 3  # the copies and the marked message are all there


def test_removing_a_label_never_expunges_the_message_itself(imap_user, isolated) -> None:  # noqa: F811
    """A run over the label's own folder (``--folder 確認``): the messages read there are
    not copies, so "remove the label 確認" would delete them; it is refused instead."""
    import imapclient

    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    user, port = imap_user
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    c.create_folder("確認")
    for i in range(2):
        c.append("確認", message(f"own{i}@c", "x@example.jp", "済"))
    c.logout()
    rules = load_rules(
        [{"name": "done", "when": {"subject": "済"}, "remove_labels": ["確認"]}], "t.toml"
    )
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    res = plan_label(box, rules, RuleContext(tz=zone("UTC"), now=now_utc()), store=None,
                     folder="確認")  # fmt: skip
    store = Store.open(str(isolated / "s.sqlite"))
    result = planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    box.close()
    store.close()
    assert result.counts == {"failed": 2}
    assert "are themselves in '確認'" in (res.plan.changes[0].error or "")
    assert folders(user, port)["確認"] == 2


def test_a_rule_removes_a_folder_label_on_imap(imap_user, isolated) -> None:  # noqa: F811
    """A folder label is a copy in that folder, not read with the message: a rule that
    removes it looks into the folder, and removes the copy, never the message."""
    user, port = imap_user
    fill(user, port, [message(f"r{i}@c", "x@example.jp", "SEO") for i in range(3)])
    add = [{"name": "add", "when": {"subject": "SEO"}, "add_labels": ["確認"]}]
    assert _move_run(user, port, isolated, add)[1].counts == {"applied": 3}
    assert folders(user, port)["確認"] == 3
    remove = [{"name": "done", "when": {"subject": "SEO"}, "remove_labels": ["確認"]}]
    changes, result = _move_run(user, port, isolated, remove)
    assert result.counts == {"applied": 3}
    assert {(c.field, c.op, c.before) for c in changes} == {("labels", "remove", "確認")}
    assert folders(user, port)["確認"] == 0 and len(_inbox(user, port)) == 3
    assert _move_run(user, port, isolated, remove)[1].counts == {"unchanged": 3}  # all done
