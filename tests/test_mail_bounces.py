"""ops mail bounces: fixes from the store, and --resend over a real SMTP server on loopback."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from test_mail import PROFILE, eml


def dsn(path: Path, *, bounced_mid: str, recipient: str) -> None:
    """A Postfix-style RFC 3464 report, written as it arrives."""
    path.write_bytes(
        f"""From: Mail Delivery System <MAILER-DAEMON@mx.salon.example>
To: reservation1@salon.example
Subject: Undelivered Mail Returned to Sender
Date: Wed, 25 Nov 2026 11:05:00 +0900
Message-ID: <dsn1@mx.salon.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.salon.example.
I'm sorry to have to inform you that your message could not be delivered.

--BB
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.salon.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.2
Diagnostic-Code: smtp; 550 Host or domain name not found for {recipient}

--BB
Content-Type: text/rfc822-headers

Message-ID: <{bounced_mid}>
Subject: Re: inquiry
To: {recipient}

--BB--
""".replace("\n", "\r\n").encode()
    )


@pytest.fixture
def bounced(isolated: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    (isolated / "ops.toml").write_text(
        PROFILE + '\n[bounces.domain_fixes]\n"gmial.con" = "gmail.com"\n', encoding="utf-8"
    )
    box = isolated / "mail"
    box.mkdir()
    eml(
        box / "1.eml",
        mid="q1@c",
        frm="Yamada <yamada@gmail.con>",
        subject="問い合わせ",
        body="料金はいくらですか 090-1111-2222",
        date="Wed, 25 Nov 2026 10:00:00 +0900",
    )
    eml(
        box / "2.eml",
        mid="r1@salon",
        frm="reservation1@salon.example",
        to="yamada@gmail.con",
        subject="Re: 問い合わせ",
        body="6000円です",
        reply_to="q1@c",
        date="Wed, 25 Nov 2026 11:00:00 +0900",
    )
    dsn(box / "3.eml", bounced_mid="r1@salon", recipient="yamada@gmail.con")
    assert cli("mail", "import", str(box), "--mailbox", "reservation1", "--yes").code == 0
    return isolated


def test_bounce_rows_name_recipient_and_fix(cli, bounced) -> None:
    r = cli("mail", "bounces", "-o", "json")
    assert r.code == 0, r.err
    (row,) = json.loads(r.out)
    assert row["message_id"] == "dsn1@mx.salon.example"
    assert row["recipient"] == "yamada@gmail.con" and row["status"] == "5.1.2"
    assert row["suggested_address"] == "yamada@gmail.com"
    assert row["action"] == "resend to yamada@gmail.com"
    assert row["original_message_id"] == "r1@salon"
    assert row["alternatives"] == []


def test_resend_goes_out_once_and_is_not_undone(cli, bounced, smtp_server) -> None:
    sink, port = smtp_server
    url = f"smtp://127.0.0.1:{port}"
    r = cli("mail", "bounces", "--resend", "--smtp", url, "--dry-run", "-o", "json")
    assert r.code == 0 and json.loads(r.out)[0]["outcome"] == "dry run"
    assert sink.messages == []
    r = cli("mail", "bounces", "--resend", "--smtp", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)[0]["outcome"] == "applied"
    ((sender, rcpts, data),) = sink.messages
    assert sender == "reservation1@salon.example" and rcpts == ["yamada@gmail.com"]
    sent = message_from_bytes(data, policy=policy.default)
    assert sent["To"] == "yamada@gmail.com" and sent["X-Ops-Resend-Of"] == "<r1@salon>"
    assert sent.get_content().strip() == "6000円です"

    r = cli("mail", "bounces", "--resend", "--smtp", url, "--yes", "-o", "json")
    assert r.code == 0 and json.loads(r.out)[0]["outcome"] == "skipped"
    assert len(sink.messages) == 1  # never twice

    runs = json.loads(cli("journal", "list", "-o", "json").out)
    send_run = next(run for run in runs if run["summary"].get("applied"))
    r = cli("undo", send_run["run_id"], "--yes")
    assert r.code == 3 and "a send cannot be undone" in r.err
