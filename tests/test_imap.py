"""ops mail on a real IMAP server: a throwaway Dovecot on a free loopback port."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import integration_skip
from test_mail import PROFILE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from dovecot import Dovecot, DovecotUnavailable  # noqa: E402  (tools/dovecot.py)

USERS = [f"u{i}" for i in range(1, 41)]  # one per test that writes into a mailbox


@pytest.fixture(scope="session")
def dovecot() -> Iterator[int]:
    try:
        server = Dovecot(USERS)
        port, _paths = server.start()
    except DovecotUnavailable as exc:
        integration_skip(str(exc))
    try:
        yield port
    finally:
        server.stop()


_next_user = iter(USERS)


@pytest.fixture
def imap_user(dovecot: int, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    user = next(_next_user)
    monkeypatch.setenv("OPS_MAIL_PASSWORD", "secret")
    return user, dovecot


def message(
    mid: str,
    frm: str,
    subject: str,
    body: str = "本文",
    *,
    charset: str = "iso-2022-jp",
    attachment: str | None = None,
    date: str = "Wed, 25 Nov 2026 10:00:00 +0900",
    reply_to: str | None = None,
) -> bytes:
    """A message; ``attachment``: the file name of a PDF attached to it; ``reply_to``:
    the Message-ID it answers."""
    m = EmailMessage()
    m["From"] = frm
    m["To"] = "reservation1@salon.example"
    m["Subject"] = subject
    m["Date"] = date
    m["Message-ID"] = f"<{mid}>"
    if reply_to:
        m["In-Reply-To"] = m["References"] = f"<{reply_to}>"
    m.set_content(body, charset=charset)
    if attachment:
        m.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename=attachment)
    return bytes(m)


def fill(user: str, port: int, msgs: list[bytes]) -> None:
    import imapclient

    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    for raw in msgs:
        c.append("INBOX", raw)
    c.logout()


def folders(user: str, port: int) -> dict[str, int]:
    import imapclient

    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    out = {}
    for _flags, _delim, name in c.list_folders():
        out[name] = c.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
    c.logout()
    return out


def test_label_on_imap_moves_copies_and_undoes(cli, isolated: Path, imap_user) -> None:
    user, port = imap_user
    (isolated / "ops.toml").write_text(PROFILE, encoding="utf-8")
    msgs = [
        message(f"b{i}@stores", "noreply@stores.example", "【和楽 新宿店】予約が入りました")
        for i in range(40)
    ]
    msgs += [message(f"s{i}@spam", "info@seo.example", "SEOで集客") for i in range(15)]
    msgs += [message(f"q{i}@c", "someone@example.jp", "問い合わせ") for i in range(5)]
    fill(user, port, msgs)
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"

    r = cli("-v", "mail", "label", "--mailbox", url, "--dry-run", "-o", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert len(rows) == 55 and all(row["outcome"] == "dry run" for row in rows)
    assert folders(user, port)["INBOX"] == 60  # a dry run changes nothing

    r = cli("-v", "mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert {row["outcome"] for row in json.loads(r.out)} == {"applied"}
    got = folders(user, port)
    assert got["INBOX"] == 5 and got["Trash"] == 15 and got["Archive"] == 40
    assert got["関東/新宿店"] == 40 and "関東" in got  # the parent was created first

    r = cli("mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0 and json.loads(r.out) == []  # moved mail is no longer in INBOX

    r = cli("undo", "last", "--yes")
    assert r.code == 0, r.err
    got = folders(user, port)
    assert got["INBOX"] == 60 and got["Trash"] == 0 and got["Archive"] == 0
    assert got["関東/新宿店"] == 0


def test_imap_commands_do_not_grow_with_messages(imap_user, isolated: Path) -> None:
    from deskops.adapters.imap import ImapMailbox, compress
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    assert compress([1, 2, 3, 5, 7, 8, 10]) == "1:3,5,7:8,10"
    user, port = imap_user
    fill(
        user,
        port,
        [message(f"x{i}@spam", "info@seo.example", "SEO") for i in range(300)]
        + [message(f"k{i}@c", "a@example.jp", "hello") for i in range(300)],
    )
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    rules = load_rules(
        [{"name": "spam", "when": {"subject": "SEO"}, "trash": True, "add_labels": ["確認"]}],
        "t.toml",
    )
    ctx = RuleContext(tz=zone("Asia/Tokyo"), now=now_utc())
    res = plan_label(box, rules, ctx, store=None)
    assert len(res.plan.changes) == 600
    from deskops.adapters.store import Store

    store = Store.open(str(isolated / "s.sqlite"))
    before = box.commands
    result = planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    assert result.counts == {"applied": 600}
    assert box.commands - before < 20, box.commands - before
    box.close()
    store.close()


def test_headers_first_then_only_the_bodies_rules_ask_for(imap_user, monkeypatch) -> None:
    """IMAP label reads headers, then bodies only of messages a body rule reaches; the
    FETCHes are pipelined in small chunks (the server may interleave their answers) and
    the decisions are those of reading every message whole."""
    from deskops.adapters import imap as imapmod
    from deskops.adapters.eml import parse_message
    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.mailbox import from_record
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, decide, load_rules

    monkeypatch.setattr(imapmod, "CHUNK", 7)
    user, port = imap_user
    msgs = [message(f"n{i}@news", "news@partner.example", f"通信 {i}") for i in range(25)]
    msgs += [
        message(
            f"c{i}@cust", "guest@example.jp", "ご相談", "キャンセルしたいです" if i % 3 else "空き"
        )
        for i in range(30)
    ]
    fill(user, port, msgs)
    rules = load_rules(
        [
            {"name": "news", "when": {"from": "@partner.example"}, "move": "News", "stop": True},
            {"name": "cancel", "when": {"body": "キャンセル"}, "add_labels": ["取消"]},
            {"name": "any", "when": {"subject": "ご相談"}, "flag": True},
        ],
        "t.toml",
    )
    ctx = RuleContext(tz=zone("Asia/Tokyo"), now=now_utc())
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    fetched: list[str] = []
    real = box._fetch_many

    def spy(folder, uid_chunks, items):
        fetched.extend(i.decode() for i in items if b"BODY" in i for _ in uid_chunks)
        return real(folder, uid_chunks, items)

    monkeypatch.setattr(box, "_fetch_many", spy)
    res = plan_label(box, rules, ctx, store=None)
    box.close()
    assert fetched.count("BODY.PEEK[HEADER]") == 8  # 55 messages in chunks of 7
    assert fetched.count("BODY.PEEK[TEXT]") == 5  # only the 30 that reach the body rule
    whole = [from_record(parse_message(m, name="m")) for m in msgs]
    expected = {m.message_id: decide(rules, m, ctx).rules for m in whole}
    got = {row["message_id"]: row["rules"] for row in res.rows}
    assert got == {k: "; ".join(v) for k, v in expected.items() if v}
    assert sum("+取消" in row["changes"] for row in res.rows) == 20


def test_pipelined_reads_survive_a_look_into_another_folder(imap_user, monkeypatch) -> None:
    from deskops.adapters import imap as imapmod
    from deskops.adapters.imap import ImapMailbox

    monkeypatch.setattr(imapmod, "CHUNK", 5)
    user, port = imap_user
    fill(
        user,
        port,
        [message(f"m{i}@x", "a@example.jp", f"件名 {i}", f"本文 {i}") for i in range(40)],
    )
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    seen = []
    for i, msg in enumerate(box.messages()):
        seen.append((msg.subject, msg.body_text))
        if i in (3, 17):  # commands in flight while another folder is opened
            box._label_folders.pop("INBOX", None)
            assert len(box._folder_index("INBOX")) == 40
    box.close()
    assert seen == [(f"件名 {i}", f"本文 {i}") for i in range(40)]


def test_awaiting_on_imap_reads_the_label_folder(cli, isolated: Path, imap_user) -> None:
    """On IMAP the awaiting-reply label is a folder holding copies: `mail awaiting` finds
    the threads through it, and --clear removes the copy, never the message."""
    import imapclient
    from test_mail import AS_OF

    user, port = imap_user
    (isolated / "ops.toml").write_text(PROFILE, encoding="utf-8")

    fill(user, port, [
        message("q1@c", "yamada@example.jp", "問い合わせ",
                date="Tue, 24 Nov 2026 10:00:00 +0900"),
        message("r1@salon", "reservation1@salon.example", "Re: 問い合わせ",
                date="Tue, 24 Nov 2026 11:00:00 +0900", reply_to="q1@c"),
        message("c2@c", "yamada@example.jp", "Re: Re: 問い合わせ",
                date="Tue, 24 Nov 2026 12:00:00 +0900", reply_to="r1@salon"),
    ])  # fmt: skip
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    c.create_folder("返信待ち")
    c.select_folder("INBOX")
    c.copy(c.search(["HEADER", "Message-ID", "r1@salon"]), "返信待ち")
    c.logout()
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    r = cli("--as-of", AS_OF, "mail", "awaiting", "--mailbox", url, "-o", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert [(row["message_id"], row["state"]) for row in rows] == [("r1@salon", "answered")]
    assert folders(user, port)["返信待ち"] == 1  # listing changes nothing
    r = cli("--as-of", AS_OF, "mail", "awaiting", "--mailbox", url, "--clear", "--yes")
    assert r.code == 0, r.err
    got = folders(user, port)
    assert got["返信待ち"] == 0 and got["INBOX"] == 3
