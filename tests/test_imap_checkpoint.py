"""A cron run on IMAP reads only what arrived since the last run (UIDVALIDITY-checked)."""

from __future__ import annotations

import json
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
    r = cli("mail", "label", "--mailbox", url, "--rules", str(rules), "--all", "--dry-run",
            "-o", "json")
    rows = json.loads(r.out)
    assert len(rows) == 7 and {row["changes"] for row in rows} == {"(in place)"}
