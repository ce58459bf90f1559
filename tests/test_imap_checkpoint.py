"""A cron run on IMAP reads only what arrived since the last run (UIDVALIDITY-checked)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from test_imap import dovecot, fill, imap_user, message  # noqa: F401  (fixtures)
from test_mail import PROFILE


def test_checkpoint_reads_only_new_mail(cli, isolated: Path, imap_user) -> None:  # noqa: F811
    user, port = imap_user
    (isolated / "ops.toml").write_text(PROFILE, encoding="utf-8")
    fill(user, port, [message(f"a{i}@c", "x@example.jp", f"hello {i}") for i in range(5)])
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    rules = isolated / "r.toml"
    rules.write_text('[[mail.rules]]\nname = "all"\nwhen = {}\nadd_labels = ["seen-by-ops"]\n')

    r = cli("mail", "label", "--mailbox", url, "--rules", str(rules), "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert len(json.loads(r.out)) == 5
    fill(user, port, [message(f"b{i}@c", "x@example.jp", f"new {i}") for i in range(2)])
    r = cli("mail", "label", "--mailbox", url, "--rules", str(rules), "--yes", "-o", "json")
    assert [row["message_id"] for row in json.loads(r.out)] == ["b0@c", "b1@c"]
    r = cli("mail", "label", "--mailbox", url, "--rules", str(rules), "--yes", "-o", "json")
    assert json.loads(r.out) == []
    r = cli(
        "mail", "label", "--mailbox", url, "--rules", str(rules), "--all", "--dry-run", "-o", "json"
    )
    rows = json.loads(r.out)
    assert len(rows) == 7 and {row["changes"] for row in rows} == {"(in place)"}


def test_interrupted_run_converges_on_rerun(imap_user, isolated: Path) -> None:  # noqa: F811
    """The connection drops after the first COPY; the rerun finishes, nothing twice."""
    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    user, port = imap_user
    fill(user, port, [message(f"i{i}@c", "x@example.jp", "SEO") for i in range(30)])
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    rules = load_rules(
        [{"name": "r", "when": {"subject": "SEO"}, "add_labels": ["確認"], "trash": True}], "t.toml"
    )
    ctx = RuleContext(tz=zone("Asia/Tokyo"), now=now_utc())
    store = Store.open(str(isolated / "s.sqlite"))

    box = ImapMailbox(url, password="secret")
    res = plan_label(box, rules, ctx, store=None)
    real_answered = box._answered

    def copy_then_drop(run, create, typ, text):  # type: ignore[no-untyped-def]
        real_answered(run, create, typ, text)
        if run.key[0] == "labels" and create is None:  # the line dies after the copy
            box.client._imap.sock.shutdown(socket.SHUT_RDWR)

    box._answered = copy_then_drop
    result = planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    assert result.status == "partial"
    assert result.counts.get("applied") == 30 and result.counts.get("failed") == 30

    box2 = ImapMailbox(url, password="secret")
    res2 = plan_label(box2, rules, ctx, store=None)
    assert {c.field for c in res2.plan.changes} == {"folder"}  # the labels are in place
    result2 = planmod.execute(res2.plan, store, {box2.backend: box2}, atomic=False)
    assert result2.counts == {"applied": 30}
    box3 = ImapMailbox(url, password="secret")
    assert list(box3.messages()) == []
    assert len(list(box3.messages(folder="確認"))) == 30  # one copy each, not two
    assert len(list(box3.messages(folder="Trash"))) == 30
    store.close()


def test_read_and_flag_over_uid_ranges(imap_user, isolated: Path) -> None:  # noqa: F811
    import imapclient

    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    user, port = imap_user
    fill(user, port, [message(f"f{i}@c", "x@example.jp", "注文") for i in range(12)])
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    rules = load_rules(
        [{"name": "r", "when": {"subject": "注文"}, "mark_read": True, "flag": True}], "t.toml"
    )
    res = plan_label(box, rules, RuleContext(tz=zone("UTC"), now=now_utc()), store=None)
    store = Store.open(str(isolated / "s.sqlite"))
    assert planmod.execute(res.plan, store, {box.backend: box}, atomic=False).counts == {
        "applied": 24
    }
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    c.select_folder("INBOX", readonly=True)
    flags = c.get_flags(c.search(["ALL"]))
    assert all({b"\\Seen", b"\\Flagged"} <= set(f) for f in flags.values()) and len(flags) == 12
    c.logout()
    store.close()


def test_label_that_cannot_be_created_fails_alone(cli, isolated: Path, imap_user) -> None:  # noqa: F811
    user, port = imap_user
    fill(user, port, [message(f"L{i}@c", "x@example.jp", "件名") for i in range(3)])
    rules = isolated / "r.toml"
    rules.write_text(
        '[[mail.rules]]\nname = "bad"\nwhen = {}\nadd_labels = ["~bad"]\n\n'
        '[[mail.rules]]\nname = "good"\nwhen = {}\nflag = true\n',
        encoding="utf-8",
    )
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    r = cli("mail", "label", "--mailbox", url, "--rules", str(rules), "--yes", "-o", "json")
    assert r.code == 3, r.err
    assert "cannot create folder '~bad'" in r.out
    r = cli(
        "mail", "label", "--mailbox", url, "--rules", str(rules), "--all", "--dry-run", "-o", "json"
    )
    changes = {row["changes"] for row in json.loads(r.out)}
    assert changes == {"+~bad"}  # the flags went through; only the label is left to do


def test_copies_run_before_moves_of_the_same_uids(imap_user, isolated: Path) -> None:  # noqa: F811
    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mail import plan_label
    from deskops.commands.mailrules import RuleContext, load_rules

    user, port = imap_user
    fill(
        user,
        port,
        [
            message("only-move@c", "x@example.jp", "move me"),
            message("both@c", "x@example.jp", "label and move me"),
        ],
    )
    rules = load_rules(
        [
            {"name": "label", "when": {"subject": "label"}, "add_labels": ["ラベル"]},
            {"name": "move", "when": {"subject": "move"}, "move": "Done"},
        ],
        "t.toml",
    )
    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    res = plan_label(box, rules, RuleContext(tz=zone("UTC"), now=now_utc()), store=None)
    assert [c.field for c in res.plan.changes] == ["folder", "labels", "folder"]
    store = Store.open(str(isolated / "s.sqlite"))
    planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    check = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    assert [m.message_id for m in check.messages(folder="ラベル")] == ["both@c"]
    assert len(list(check.messages(folder="Done"))) == 2
    store.close()
