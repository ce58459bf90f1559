"""ops mail: the rule grammar, labeling plans on the store and on a Maildir, staff labels,
the awaiting-reply lifecycle and the unanswered SLA."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from deskops.adapters import mailbox as mailbox_module
from deskops.adapters.errors import UsageError
from deskops.adapters.mailbox import MaildirMailbox, MailMessage
from deskops.commands.clock import zone
from deskops.commands.mail import in_morning_batch, threads
from deskops.commands.mailrules import RuleContext, decide, load_rules

TOKYO = zone("Asia/Tokyo")
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def msg(**kw) -> MailMessage:  # type: ignore[no-untyped-def]
    base = dict(
        id="m1",
        message_id="m1@x",
        date=NOW - timedelta(hours=1),
        from_addr="yamada@example.jp",
        subject="",
        body_text="",
    )
    base.update(kw)
    return MailMessage(**base)  # type: ignore[arg-type]


def ctx(**kw) -> RuleContext:  # type: ignore[no-untyped-def]
    base = dict(
        tz=TOKYO,
        now=NOW,
        our_addresses={"reservation1@salon.example"},
        tables={"labels": {"stores": {"新宿店": "関東/新宿店"}}},
    )
    base.update(kw)
    return RuleContext(**base)  # type: ignore[arg-type]


def rules(*specs: dict) -> list:  # type: ignore[type-arg]
    return load_rules(list(specs), "rules.toml")


def test_conditions_combinators_and_templates() -> None:
    rs = rules(
        {
            "name": "booking",
            "when": {
                "from": "noreply@stores.example",
                "subject_regex": "【和楽 (?P<store>\\S+?店)】",
            },
            "add_labels": ["{store:labels.stores}"],
            "archive": True,
            "stop": True,
        },
        {
            "name": "domain",
            "when": {"from": "@example.jp", "not": {"subject": "spam"}},
            "add_labels": ["jp"],
        },
        {
            "name": "any",
            "when": {"any": [{"body": "クレーム"}, {"subject": ["苦情", "返金"]}]},
            "add_labels": ["確認"],
            "flag": True,
        },
        {"name": "never", "when": {"from": "nobody@x"}, "add_labels": ["no"]},
    )
    d = decide(
        rs,
        msg(from_addr="noreply@stores.example", subject="【和楽 新宿店】予約が入りました"),
        ctx(),
    )
    assert d.rules == ["booking"] and d.add == ["関東/新宿店"] and d.folder == "Archive"
    d = decide(rs, msg(subject="返金について"), ctx())
    assert d.rules == ["domain", "any"] and d.add == ["jp", "確認"] and d.flagged
    d = decide(rs, msg(from_addr="a@sub.example.jp", subject="SPAM"), ctx())
    assert d.rules == []  # casefolded: "SPAM" matches "spam"; subdomains match the domain


def test_a_body_rule_resumes_where_the_headers_stopped() -> None:
    """Read with headers only, a message stops at the first rule that needs its body;
    with the body it goes on from there, and decides what the whole message decides.
    The rules before that one are not asked again."""
    from dataclasses import replace

    from deskops.commands.mailrules import BodyNeeded

    rs = rules(
        {"name": "store", "when": {"subject_regex": "【(?P<store>\\S+?店)】"},
         "add_labels": ["{store:labels.stores}"]},
        {"name": "jp", "when": {"from": "@example.jp"}, "add_labels": ["jp"], "flag": True},
        {"name": "cancel", "when": {"body_regex": "(?P<what>キャンセル)"},
         "add_labels": ["{what}"], "move": "Cancel"},
        {"name": "late", "when": {"subject": "予約"}, "add_labels": ["予約"], "stop": True},
        {"name": "after stop", "when": {}, "add_labels": ["never"]},
    )  # fmt: skip
    asked: dict[str, int] = {}
    for r in rs:

        def counted(f, when=r.when, name=r.name):  # type: ignore[no-untyped-def]
            asked[name] = asked.get(name, 0) + 1
            return when(f)

        r.when = counted
    for body in ("予約のキャンセルをお願いします", "予約の変更です"):
        whole = msg(subject="【新宿店】予約", body_text=body)
        partial = replace(whole, body_text="", partial=True)
        expected = decide(rs, whole, ctx())
        asked.clear()
        with pytest.raises(BodyNeeded) as stopped:
            decide(rs, partial, ctx())
        assert stopped.value.resume is not None and stopped.value.resume.index == 2
        got = decide(rs, whole, ctx(), resume=stopped.value.resume)
        assert got == expected and got.msg is whole
        assert asked == {"store": 1, "jp": 1, "cancel": 2, "late": 1}
    assert expected.add == ["関東/新宿店", "jp", "予約"] and expected.folder is None
    assert decide(rs, msg(subject="【新宿店】予約", body_text="キャンセル"), ctx()).add == [
        "関東/新宿店", "jp", "キャンセル", "予約"
    ]  # fmt: skip


def test_a_template_that_needs_the_body_leaves_no_half_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rule that matched on headers but whose label needs the body (the customer's
    store) stops before writing anything; resumed, it is applied once."""
    from dataclasses import replace

    from deskops.commands.mailrules import BodyNeeded

    rs = rules(
        {"name": "first", "when": {"subject": "件"}, "add_labels": ["a"]},
        {"name": "store", "when": {"subject": "件"}, "add_labels": ["b", "{customer_store}"],
         "flag": True},
    )  # fmt: skip

    class Customers:
        def find(self, emails, phones):  # type: ignore[no-untyped-def]
            return ["match"] if phones or emails else []

    import deskops.commands.mailrules as mr

    monkeypatch.setattr(
        mr, "store_of", lambda matches, customers: ("関東", "新宿店") if matches else (None, None)
    )
    c = ctx(customers=Customers(), region="JP")
    whole = msg(subject="件", body_text="電話 090-1234-5678")
    with pytest.raises(BodyNeeded) as stopped:
        decide(rs, replace(whole, body_text="", partial=True), c)
    half = stopped.value.resume
    assert half is not None and half.index == 1 and half.decision.rules == ["first"]
    assert half.decision.add == ["a"] and not half.decision.flagged
    got = decide(rs, whole, c, resume=half)
    assert got.rules == ["first", "store"] and got.add == ["a", "b", "関東/新宿店"]
    assert got == decide(rs, whole, c)


def test_width_and_case_insensitive_text() -> None:
    rs = rules({"name": "r", "when": {"subject": "ＳＥＯ"}, "trash": True})
    assert decide(rs, msg(subject="seo対策のご提案"), ctx()).folder == "Trash"


def test_regexes_match_any_case_whether_or_not_compiled_case_insensitive() -> None:
    """A pattern casefolding leaves alone is compiled as it is (the text is casefolded);
    one with capitals or a class like \\S keeps matching any case."""
    rs = rules(
        {"name": "refund", "when": {"text_regex": "返金|возврат"}, "add_labels": ["r"]},
        {"name": "caps", "when": {"subject_regex": "ORDER\\s+#?\\d+"}, "add_labels": ["o"]},
        {"name": "nonspace", "when": {"body_regex": "Ｎo\\.\\S+"}, "add_labels": ["n"]},
    )
    m = msg(subject="Order #12 ВОЗВРАТ", body_text="NO.A-1 STRASSE")
    assert decide(rs, m, ctx()).add == ["r", "o", "n"]
    from deskops.commands.mailrules import _regex

    assert _regex("返金|возврат", "w").flags & 2 == 0  # re.IGNORECASE is 2
    assert _regex("ORDER", "w").flags & 2 and _regex(r"\S+", "w").flags & 2


def test_text_is_the_folded_subject_and_body_joined() -> None:
    """The text rules search, folded as subject and body apart (each folded once),
    is what folding them joined by a line break gives, on every fixture message."""
    from deskops.adapters.eml import parse_message
    from deskops.adapters.mailbox import from_record
    from deskops.commands.lookup import fold
    from deskops.commands.mailrules import Facts
    from deskops.fixtures import FIXTURES_DIR

    files = sorted(FIXTURES_DIR.glob("*/mail/**/*.eml"))
    assert len(files) > 100
    extra = [msg(subject="ｶﾞ", body_text="\u0301x"), msg(subject="Ｓtraße", body_text="ﾊﾟ\u3099")]
    for m in [from_record(parse_message(f.read_bytes(), name=f.name)) for f in files] + extra:
        f = Facts(m, ctx())
        assert f.text == fold(f"{m.subject}\n{m.body_text}"), m.id


def test_a_ruleset_asks_only_the_rules_a_sender_can_match() -> None:
    """Rules with a top-level ``from`` are left out for other senders; what is decided
    is the same as asking every rule, for all five profiles over every fixture message."""
    import tomllib

    from deskops.adapters.eml import parse_message
    from deskops.adapters.mailbox import from_record
    from deskops.commands.mailrules import RuleSet
    from deskops.fixtures import FIXTURES_DIR

    rs = rules(
        {"name": "shop", "when": {"from": "@shop.example", "subject": "注文"}, "flag": True},
        {"name": "any", "when": {"subject": "注文"}, "add_labels": ["注文"]},
        {"name": "one", "when": {"from": ["a@b.example", "c@d.example"]}, "trash": True},
        {"name": "nested", "when": {"any": [{"from": "a@b.example"}, {"subject": "x"}]},
         "flag": True},
    )  # fmt: skip
    assert isinstance(rs, RuleSet)
    assert [r.name for _, r in rs.for_sender("x@mail.shop.example")] == ["shop", "any", "nested"]
    assert [r.name for _, r in rs.for_sender("c@d.example")] == ["any", "one", "nested"]
    assert decide(rs, msg(from_addr="x@shop.example", subject="ご注文"), ctx()).rules == [
        "shop", "any"
    ]  # fmt: skip
    messages = [
        from_record(parse_message(f.read_bytes(), name=f.name))
        for f in sorted(FIXTURES_DIR.glob("*/mail/**/*.eml"))
    ]
    for profile in sorted((FIXTURES_DIR / "profiles").glob("*.toml")):
        data = tomllib.loads(profile.read_text("utf-8"))
        loaded = load_rules(data.get("mail", {}).get("rules"), str(profile))
        every = list(loaded)  # a plain list: every rule asked
        for m in messages:
            c = ctx(tables=data)
            assert decide(loaded, m, c) == decide(every, m, c), (profile.name, m.id)


def test_headers_age_attachments_scripts() -> None:
    rs = rules(
        {"name": "list", "when": {"header": {"List-Id": "news"}}, "add_labels": ["list"]},
        {"name": "old", "when": {"older_than": "2d"}, "add_labels": ["old"]},
        {
            "name": "att",
            "when": {"has_attachment": True, "attachment_name": ".pdf"},
            "add_labels": ["pdf"],
        },
        {
            "name": "ru",
            "when": {"language": ["ru", "uk"], "script": "cyrillic"},
            "add_labels": ["ru"],
        },
    )
    m = msg(
        headers={"List-Id": ["<news.shop.example>"]},
        date=NOW - timedelta(days=3),
        attachments=[{"filename": "бланк.PDF"}],
        subject="Возврат заказа",
    )
    assert decide(rs, m, ctx()).add == ["list", "old", "pdf", "ru"]


def test_invalid_rules_name_file_line_and_rule(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text('[[mail.rules]]\nname = "first"\nwhen = { subjekt = "x" }\n')
    import tomllib

    data = tomllib.loads(f.read_text())
    with pytest.raises(UsageError, match=r"r.toml:2: rule 'first': unknown condition 'subjekt'"):
        load_rules(data["mail"]["rules"], str(f))
    with pytest.raises(UsageError, match="unknown key 'lables'"):
        load_rules([{"name": "a", "lables": ["x"]}], "x.toml")
    with pytest.raises(UsageError, match="bad regular expression"):
        load_rules([{"name": "a", "when": {"subject_regex": "("}}], "x.toml")
    with pytest.raises(UsageError, match="comes earlier"):
        load_rules([{"name": "a"}, {"name": "a"}], "x.toml")
    with pytest.raises(UsageError, match="not a duration"):
        load_rules([{"name": "a", "when": {"older_than": "soon"}}], "x.toml")


def test_morning_batch_window() -> None:
    prof = {
        "morning_batch": {
            "time": "08:30",
            "window_minutes": 5,
            "weekdays": ["mon", "tue", "wed", "thu", "fri"],
        }
    }
    wed_0830 = datetime(2026, 11, 25, 8, 31, tzinfo=TOKYO)
    assert in_morning_batch(wed_0830, prof, TOKYO)
    assert not in_morning_batch(wed_0830 + timedelta(minutes=20), prof, TOKYO)
    assert not in_morning_batch(datetime(2026, 11, 28, 8, 30, tzinfo=TOKYO), prof, TOKYO)  # Sat


def test_threads_group_by_thread_id() -> None:
    a = msg(id="a", message_id="a", thread_id="t1", date=NOW - timedelta(hours=3))
    b = msg(id="b", message_id="b", thread_id="t1", date=NOW - timedelta(hours=1))
    c = msg(id="c", message_id="c", thread_id="t2", date=NOW - timedelta(hours=2))
    got = threads([b, c, a])
    assert [t.id for t in got] == ["t2", "t1"] and [m.id for m in got[1].messages] == ["a", "b"]


# -- through the CLI, on the embedded store -------------------------------------------


def eml(
    path: Path,
    *,
    mid: str,
    frm: str,
    subject: str,
    body: str,
    date: str,
    to: str = "reservation1@salon.example",
    reply_to: str | None = None,
) -> None:
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = date
    m["Message-ID"] = f"<{mid}>"
    if reply_to:
        m["In-Reply-To"] = f"<{reply_to}>"
        m["References"] = f"<{reply_to}>"
    m.set_content(body, charset="iso-2022-jp" if not body.isascii() else "utf-8")
    path.write_bytes(bytes(m))


PROFILE = """
[profile]
name = "mini"
timezone = "Asia/Tokyo"
country = "JP"

[mailboxes.reservation1]
address = "reservation1@salon.example"

[labels]
awaiting_reply = "返信待ち"
staff_prefix = "対応スタッフ/"

[labels.staff]
tanaka = "対応スタッフ/田中"

[labels.stores]
"新宿店" = "関東/新宿店"

[morning_batch]
time = "08:30"
window_minutes = 5
weekdays = ["mon", "tue", "wed", "thu", "fri"]

[mail]
vendor_domains = ["linen.example"]

[[mail.rules]]
name = "booking"
when = { from = "noreply@stores.example", subject_regex = "【和楽 (?P<store>\\\\S+?店)】" }
add_labels = ["{store:labels.stores}"]
archive = true
stop = true

[[mail.rules]]
name = "known customer"
when = { from_us = false, customer_store = true }
add_labels = ["{customer_store}"]

[[mail.rules]]
name = "spam"
when = { subject = ["SEO", "集客"] }
trash = true
stop = true

[[mail.tests]]
file = "mail/box/1.eml"
labels = ["関東/新宿店"]
folder = "Archive"

[[mail.tests]]
file = "mail/box/3.eml"
labels = []
folder = "Trash"
"""


@pytest.fixture
def salon(isolated: Path, cli):  # type: ignore[no-untyped-def]
    (isolated / "ops.toml").write_text(PROFILE, encoding="utf-8")
    box = isolated / "mail" / "box"
    box.mkdir(parents=True)
    eml(
        box / "1.eml",
        mid="b1@stores",
        frm="noreply@stores.example",
        subject="【和楽 新宿店】予約が入りました",
        body="予約",
        date="Wed, 25 Nov 2026 08:30:00 +0900",
    )
    eml(
        box / "2.eml",
        mid="q1@c",
        frm="Yamada <yamada@example.jp>",
        subject="問い合わせ",
        body="明日の14時は空いてますか 090-1111-2222",
        date="Tue, 24 Nov 2026 10:00:00 +0900",
    )
    eml(
        box / "3.eml",
        mid="s1@spam",
        frm="info@seo.example",
        subject="SEOで集客",
        body="無料",
        date="Wed, 25 Nov 2026 09:00:00 +0900",
    )
    eml(
        box / "5.eml",
        mid="v1@linen",
        frm="Linen Supply <orders@linen.example>",
        subject="タオル納品のお知らせ",
        body="明日納品します",
        date="Tue, 24 Nov 2026 09:00:00 +0900",
    )
    eml(
        box / "4.eml",
        mid="r1@salon",
        frm="reservation1@salon.example",
        to="yamada@example.jp",
        subject="Re: 問い合わせ",
        body="ご返信をお待ちしております",
        reply_to="q1@c",
        date="Tue, 24 Nov 2026 11:00:00 +0900",
    )
    cust = isolated / "c.jsonl"
    cust.write_text(
        json.dumps(
            {
                "id": "PM-1",
                "name": "山田",
                "region": "関東",
                "store": "新宿店",
                "phones": ["090-1111-2222"],
                "emails": [],
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    assert cli("store", "import", str(cust), "-t", "customers").code == 0
    r = cli("mail", "import", str(box), "--mailbox", "reservation1", "--yes")
    assert r.code == 0, r.err
    return isolated


AS_OF = "2026-11-25T12:00:00+09:00"


def test_label_plan_apply_undo_on_the_store(cli, salon) -> None:
    r = cli("--as-of", AS_OF, "mail", "label", "--dry-run", "-o", "json")
    assert r.code == 0, r.err
    rows = {row["message_id"]: row for row in json.loads(r.out)}
    assert rows["b1@stores"]["changes"] == "+関東/新宿店; →Archive"
    assert rows["q1@c"]["rules"] == "known customer"  # found by the phone in the body
    assert rows["q1@c"]["changes"] == "+関東/新宿店"
    assert rows["s1@spam"]["changes"] == "→Trash"
    assert "r1@salon" not in rows  # our own reply: no rule fired
    assert all(row["outcome"] == "dry run" for row in rows.values())

    r = cli("--as-of", AS_OF, "mail", "label", "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert {row["outcome"] for row in json.loads(r.out)} == {"applied"}
    stored = {
        m["id"]: m for m in json.loads(cli("store", "export", "-t", "messages", "-o", "json").out)
    }
    assert stored["b1@stores"]["labels"] == ["関東/新宿店"]
    assert stored["b1@stores"]["folder"] == "Archive"
    assert stored["s1@spam"]["folder"] == "Trash"  # moved, never deleted

    r = cli("--as-of", AS_OF, "mail", "label", "--yes", "-o", "json")
    assert {row["outcome"] for row in json.loads(r.out)} == {"in place"}
    assert "nothing to do" in r.err

    assert cli("undo", "last", "--yes").code == 0
    stored = {
        m["id"]: m for m in json.loads(cli("store", "export", "-t", "messages", "-o", "json").out)
    }
    assert stored["b1@stores"]["labels"] == [] and stored["s1@spam"]["folder"] == "INBOX"


def test_rules_test_passes_and_reports_mismatch(cli, salon) -> None:
    r = cli("mail", "rules", "test")
    assert r.code == 0, r.out + r.err
    assert "2 passed, 0 failed" in r.err
    text = (
        (salon / "ops.toml")
        .read_text(encoding="utf-8")
        .replace('labels = []\nfolder = "Trash"', 'labels = ["x"]\nfolder = "Trash"')
    )
    (salon / "ops.toml").write_text(text, encoding="utf-8")
    r = cli("mail", "rules", "test", "-o", "json")
    assert r.code == 1
    bad = [row for row in json.loads(r.out) if row["result"] != "ok"]
    assert bad[0]["expected"] == "labels=x folder=Trash"
    assert bad[0]["actual"] == "labels=- folder=Trash"


def test_staff_label_skips_the_morning_batch(cli, salon) -> None:
    r = cli(
        "mail", "label", "--staff", "tanaka", "b1@stores", "q1@c", "nope@x", "--yes", "-o", "json"
    )
    assert r.code == 3  # one id unknown
    rows = {row["message_id"]: row for row in json.loads(r.out)}
    assert rows["b1@stores"]["changes"].startswith("(no staff label: morning batch)")
    assert rows["q1@c"]["changes"] == "+対応スタッフ/田中"
    assert "nope@x: not found" in r.err
    r = cli("mail", "label", "--staff", "sato", "q1@c")
    assert r.code == 2 and "unknown staff 'sato'" in r.err


def test_awaiting_reply_lifecycle(cli, salon) -> None:
    # our reply of 24 Nov 11:00 carries 返信待ち
    assert cli("mail", "label", "--staff", "tanaka", "r1@salon", "--yes").code == 0
    from deskops.adapters.schema import MESSAGES
    from deskops.adapters.store import Store
    from deskops.cli.config import load_config

    url = load_config().get("store.url")
    with Store.open(url) as store, store.transaction():
        store.add_child(MESSAGES, "r1@salon", "labels", "返信待ち")

    r = cli("--as-of", "2026-11-24T20:00:00+09:00", "mail", "awaiting", "-o", "json")
    rows = json.loads(r.out)
    assert rows[0]["state"] == "waiting" and rows[0]["store"] == "関東/新宿店"
    assert rows[0]["customer"] == "Yamada"

    r = cli(
        "--as-of",
        "2026-11-25T23:00:00+09:00",
        "mail",
        "awaiting",
        "--expire",
        "--yes",
        "-o",
        "json",
    )
    assert r.code == 0, r.err
    assert json.loads(r.out)[0]["state"] == "expired"
    stored = json.loads(cli("store", "export", "-t", "report_records", "-o", "json").out)
    assert stored[0]["kind"] == "not_converted" and stored[0]["date"] == "2026-11-25"
    assert stored[0]["subject"] == "問い合わせ" and stored[0]["store"] == "関東/新宿店"
    r = cli("--as-of", "2026-11-25T23:00:00+09:00", "mail", "awaiting", "-o", "json")
    assert json.loads(r.out) == []
    assert cli("undo", "last", "--yes").code == 0
    assert json.loads(cli("store", "export", "-t", "report_records", "-o", "json").out) == []


def test_unanswered_sla(cli, salon) -> None:
    r = cli("--as-of", AS_OF, "mail", "unanswered", "--older-than", "30m", "-o", "json")
    rows = {row["message_id"]: row for row in json.loads(r.out)}
    assert rows["q1@c"]["problem"] == "late reply" and rows["q1@c"]["waiting_minutes"] == 60
    assert rows["s1@spam"]["problem"] == "no reply"
    assert "v1@linen" not in rows  # a supplier ([mail] vendor_domains) is not a customer
    r = cli("--as-of", AS_OF, "mail", "unanswered", "--older-than", "2h", "-o", "json")
    assert "q1@c" not in {row["message_id"] for row in json.loads(r.out)}


# -- Maildir --------------------------------------------------------------------------


def test_maildir_backend_moves_labels_and_undoes(cli, isolated: Path) -> None:
    root = _new_maildir(isolated, PROFILE)
    eml(
        root / "cur" / "1700000000.M1P1.host:2,",
        mid="b1@stores",
        frm="noreply@stores.example",
        subject="【和楽 新宿店】予約",
        body="予約",
        date="Wed, 25 Nov 2026 10:00:00 +0900",
    )
    eml(
        root / "new" / "1700000001.M2P1.host",
        mid="s1@spam",
        frm="info@seo.example",
        subject="SEO",
        body="x",
        date="Wed, 25 Nov 2026 10:00:00 +0900",
    )
    url = f"maildir://{root}"
    r = cli("--as-of", AS_OF, "mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    box = MaildirMailbox(url)
    assert box.main_folder("b1@stores") == "Archive"
    assert box.labels_of("b1@stores") == ["関東/新宿店"]
    assert (root / ".関東.新宿店" / "cur").is_dir()
    assert box.main_folder("s1@spam") == "Trash"
    assert len(_mail_files(root)) == 3  # two messages + one label copy
    r = cli("undo", "last", "--yes")
    assert r.code == 0, r.err
    box = MaildirMailbox(url)
    assert box.main_folder("b1@stores") == "INBOX" and box.labels_of("b1@stores") == []
    assert box.main_folder("s1@spam") == "INBOX"
    assert len(_mail_files(root)) == 2


def _count_reads(monkeypatch) -> dict[str, list[str]]:
    """The message files a Maildir reads, by how: header block, whole, for the index."""
    reads: dict[str, list[str]] = {"head": [], "whole": [], "index": []}
    real_head, real_whole = MaildirMailbox._head, MaildirMailbox.whole
    real_parse = mailbox_module.parse_message

    def head(self: MaildirMailbox, path: Path, folder: str) -> MailMessage:
        reads["head"].append(path.name)
        return real_head(self, path, folder)

    def whole(self: MaildirMailbox, msg: MailMessage) -> MailMessage:
        reads["whole"].append(msg.__dict__["_path"].name)
        return real_whole(self, msg)

    def parse(raw: bytes, **kw: Any) -> dict[str, Any]:
        reads["index"].append(Path(kw["name"]).name)
        return real_parse(raw, **kw)

    monkeypatch.setattr(MaildirMailbox, "_head", head)
    monkeypatch.setattr(MaildirMailbox, "whole", whole)
    monkeypatch.setattr(mailbox_module, "parse_message", parse)
    return reads


def test_maildir_reads_a_body_only_for_the_rules_that_ask(cli, isolated: Path, monkeypatch) -> None:
    """A label run reads each message's header block; a message whose rules reach a body
    condition is read whole, going on from that rule (a stop before it saves the read).
    A file gone before its body is read is left out, and the run goes on."""
    root = _maildir_with(
        isolated,
        '[[mail.rules]]\nname = "booking"\nwhen = { from = "noreply@stores.example" }\n'
        'add_labels = ["予約"]\nstop = true\n\n'
        '[[mail.rules]]\nname = "seen"\nwhen = { subject = "お問い合わせ" }\nmark_read = true\n\n'
        '[[mail.rules]]\nname = "cancel"\nwhen = { body = "キャンセル" }\n'
        'add_labels = ["キャンセル"]\n',
        [("b1@stores", "noreply@stores.example", "予約", "キャンセル"),
         ("q1@c", "a@c.example", "お問い合わせ", "予約をキャンセルしたいです"),
         ("q2@c", "b@c.example", "質問", "料金はいくらですか"),
         ("q3@c", "c@c.example", "キャンセル", "gone before its body is read")],
    )  # fmt: skip
    reads = _count_reads(monkeypatch)
    real_whole = MaildirMailbox.whole

    def whole(self: MaildirMailbox, msg: MailMessage) -> MailMessage:
        if msg.message_id == "q3@c":
            msg.__dict__["_path"].unlink()
        return real_whole(self, msg)

    monkeypatch.setattr(MaildirMailbox, "whole", whole)
    url = f"maildir://{root}"
    r = cli("--as-of", AS_OF, "mail", "label", "--mailbox", url, "--dry-run", "-o", "json")
    assert r.code == 0, r.err
    rows = {row["message_id"]: row for row in json.loads(r.out)}
    assert rows["b1@stores"]["rules"] == "booking"  # stopped before the body rule
    assert rows["q1@c"]["rules"] == "seen; cancel"  # the rule before the body is kept
    assert set(rows) == {"b1@stores", "q1@c"}  # q2: no rule fired; q3: gone
    assert sorted(reads["whole"]) == ["1700000002.M2P1.host:2,", "1700000003.M3P1.host:2,",
                                      "1700000004.M4P1.host:2,"]  # fmt: skip
    assert len(reads["head"]) == 4 and reads["index"] == []


def test_a_big_maildir_folder_is_decided_in_other_processes_as_here(
    tmp_path: Path, monkeypatch
) -> None:
    """From OFFLOAD_AT files on, a folder's files are read and decided in forked
    processes, a chunk each in turn: the same rows, changes and index as one process
    gives. The rules see label copies kept in other folders; a second file with a
    Message-ID read before is left out; a file that is no message is skipped; a body is
    read where a rule asks for it."""
    import tomllib

    from deskops.commands import mail as mailcmd
    from deskops.commands import offload
    from deskops.commands.mail import plan_label, rule_context

    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
        (root / ".確認" / sub).mkdir(parents=True)
    date = "Wed, 25 Nov 2026 10:00:00 +0900"
    kinds = [("noreply@stores.example", "予約", "予約です"),
             ("a@c.example", "質問", "キャンセルします"),
             ("info@seo.example", "SEO", "x"),
             ("b@c.example", "お問い合わせ", "料金は？")]  # fmt: skip
    for i in range(40):
        frm, subject, body = kinds[i % 4]
        eml(root / "cur" / f"17000000{i:02}.M{i}P1.host:2,", mid=f"m{i}@x", frm=frm,
            subject=subject, body=body, date=date)  # fmt: skip
    eml(root / "cur" / "1700000099.M99P1.host:2,", mid="m5@x", frm="a@c.example",
        subject="again", body="キャンセル", date=date)  # fmt: skip
    (root / "cur" / "1700000098.M98P1.host:2,").write_bytes(b"no headers at all\n")
    os.link(root / "cur" / "1700000003.M3P1.host:2,",
            root / ".確認" / "cur" / "1700000200.M1P1_label.host:2,")  # fmt: skip
    profile = tomllib.loads(
        '[profile]\nname = "t"\ntimezone = "Asia/Tokyo"\n\n'
        '[[mail.rules]]\nname = "booking"\nwhen = { from = "noreply@stores.example" }\n'
        'add_labels = ["関東/新宿店"]\narchive = true\nstop = true\n\n'
        '[[mail.rules]]\nname = "checked"\nwhen = { label = "確認" }\nflag = true\n\n'
        '[[mail.rules]]\nname = "spam"\nwhen = { subject = "SEO" }\ntrash = true\nstop = true\n\n'
        '[[mail.rules]]\nname = "cancel"\nwhen = { body = "キャンセル" }\nadd_labels = ["取消"]\n'
    )
    rules = load_rules(profile["mail"]["rules"], "t.toml")
    ctx = rule_context(profile, tz=TOKYO, now=datetime(2026, 11, 25, 3, tzinfo=UTC), store=None)
    pools: list[int] = []
    real_pool = offload.Pool

    def pool(fn: Any, size: int, **kw: Any) -> Any:
        pools.append(size)
        return real_pool(fn, size, **kw)

    monkeypatch.setattr(offload, "Pool", pool)
    monkeypatch.setattr(offload, "available", lambda: True)
    monkeypatch.setattr(offload, "cores", lambda: 2)
    monkeypatch.setattr(mailcmd, "FILE_CHUNK", 7)

    def run(offload_at: int) -> tuple[Any, Any, Any]:
        monkeypatch.setattr(mailcmd, "OFFLOAD_AT", offload_at)
        box = MaildirMailbox(f"maildir://{root}")
        res = plan_label(box, rules, ctx, store=None)
        changes = [(c.target, c.field, c.op, c.before, c.after) for c in res.plan.changes]
        return res.rows, changes, box.index()

    here = run(10**6)
    assert pools == []
    there = run(10)
    assert pools == [2]
    assert there == here
    rows = {row["message_id"]: row for row in there[0]}
    assert rows["m0@x"]["rules"] == "booking"
    assert rows["m3@x"]["rules"] == "checked"  # its copy in 確認, read before the fork
    assert rows["m5@x"]["rules"] == "cancel" and rows["m5@x"]["subject"] == "質問"  # the first
    assert "m7@x" not in rows  # no rule fired
    assert len(there[2]["m3@x"]) == 2 and len(there[2]["m5@x"]) == 2  # the index is whole


def test_a_maildir_label_copy_carries_the_flags_the_run_gave(cli, isolated: Path) -> None:
    """As on IMAP (flags are stored before the copies): the copy in the label's folder is
    flagged and read too; undo takes the copy away and the flags off the message."""
    root = _new_maildir(
        isolated,
        '[profile]\nname = "t"\ntimezone = "Asia/Tokyo"\n\n'
        '[[mail.rules]]\nname = "complaint"\nwhen = { subject = "苦情" }\n'
        'add_labels = ["要対応"]\nflag = true\nmark_read = true\n',
    )
    name = "1700000001.M1P1.host:2,"
    eml(root / "cur" / name, mid="c1@x", frm="a@c.example", subject="苦情", body="不満です",
        date="Wed, 25 Nov 2026 10:00:00 +0900")  # fmt: skip
    url = f"maildir://{root}"
    r = cli("--as-of", AS_OF, "mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    message, copy = MaildirMailbox(url).index()["c1@x"]
    assert message.name == name + "FS" and copy.name.endswith(":2,FS")
    assert copy.parent.parent.name == ".要対応"
    r = cli("undo", "last", "--yes")
    assert r.code == 0, r.err
    assert MaildirMailbox(url).index()["c1@x"] == [root / "cur" / name]


def test_a_maildir_folder_that_is_not_there_is_an_error(cli, isolated: Path) -> None:
    """A typo in --folder would read nothing, run after run (cron): it is refused."""
    root = _new_maildir(isolated, PROFILE)
    (root / ".Archive" / "cur").mkdir(parents=True)
    url = f"maildir://{root}"
    r = cli("mail", "label", "--mailbox", url, "--folder", "Archiv", "--dry-run")
    assert r.code == 2
    assert "no folder 'Archiv' (there are: INBOX, Archive)" in r.err
    r = cli("mail", "label", "--mailbox", url, "--folder", "Archive", "--dry-run")
    assert r.code == 0, r.err


def test_a_maildir_cron_run_reads_only_the_mail_that_arrived(
    cli, isolated: Path, monkeypatch
) -> None:
    """As on IMAP, a run reads what arrived since the last one began (a checkpoint in the
    store): a file delivered or moved in since; not one the last run flagged (a rename)
    or labelled (a hard link: the same inode), and not one it left alone. --all reads
    the whole folder; a dry run keeps no checkpoint."""
    from deskops.adapters.mailbox import MaildirCheckpoint

    monkeypatch.setattr(MaildirCheckpoint, "MARGIN", 0.0)  # no network file system here
    root = _maildir_with(
        isolated,
        '[[mail.rules]]\nname = "complaint"\nwhen = { subject = "苦情" }\n'
        'add_labels = ["要対応"]\nflag = true\n\n'
        '[[mail.rules]]\nname = "spam"\nwhen = { subject = "SEO" }\ntrash = true\n\n'
        '[[mail.rules]]\nname = "question"\nwhen = { subject = "質問" }\nadd_labels = ["質問"]\n',
        [("a@x", "a@c.example", "苦情", "x"), ("b@x", "b@c.example", "SEO", "x"),
         ("c@x", "c@c.example", "質問", "x")],
    )  # fmt: skip
    date = "Wed, 25 Nov 2026 10:00:00 +0900"
    url = f"maildir://{root}"

    def label(*extra: str) -> tuple[list[str], list[str]]:
        reads = _count_reads(monkeypatch)
        r = cli("--as-of", AS_OF, "mail", "label", "--mailbox", url, "-o", "json", *extra)
        assert r.code == 0, r.err
        rows = json.loads(r.out) if r.out.strip() else []
        return sorted(row["message_id"] for row in rows), sorted(reads["head"])

    first = ["1700000001.M1P1.host:2,", "1700000002.M2P1.host:2,", "1700000003.M3P1.host:2,"]
    assert label("--yes") == (["a@x", "b@x", "c@x"], first)
    eml(root / "new" / "1700000004.M4P1.host", mid="d@x", frm="d@c.example",
        subject="苦情", body="x", date=date)  # fmt: skip
    assert label("--dry-run") == (["d@x"], ["1700000004.M4P1.host"])
    assert label("--yes") == (["d@x"], ["1700000004.M4P1.host"])  # the dry run kept none
    assert label("--yes") == ([], [])
    moved_in = root / "cur" / "1700000002.M2P1.host:2,"
    (root / ".Trash" / "cur" / "1700000002.M2P1.host:2,").rename(moved_in)  # back from Trash
    assert label("--yes") == (["b@x"], ["1700000002.M2P1.host:2,"])
    every, read = label("--all", "--dry-run")
    assert every == ["a@x", "c@x", "d@x"] and len(read) == 3  # in place; b in the trash


def test_a_maildir_run_soon_after_another_does_not_take_its_changes_for_new_mail(
    cli, isolated: Path, monkeypatch
) -> None:
    """Files changed up to MARGIN before a run began are read again (another machine's
    clock); those the last runs changed themselves are not, even two runs later, unless
    changed again since: moved out and back in by a mail client."""
    root = _maildir_with(
        isolated,
        '[[mail.rules]]\nname = "complaint"\nwhen = { subject = "苦情" }\nflag = true\n\n'
        '[[mail.rules]]\nname = "question"\nwhen = { subject = "質問" }\nadd_labels = ["質問"]\n',
        [("a@x", "a@c.example", "苦情", "x"), ("c@x", "c@c.example", "質問", "x")],
    )
    url = f"maildir://{root}"
    for expected in (2, 0, 0, 0):  # all changed by the first run, within every window
        reads = _count_reads(monkeypatch)
        r = cli("--as-of", AS_OF, "mail", "label", "--mailbox", url, "--yes", "-o", "json")
        assert r.code == 0, r.err
        assert len(reads["head"]) == expected
    (flagged,) = (root / "cur").glob("1700000001.*")
    away = root / ".Archive" / "cur" / flagged.name
    away.parent.mkdir(parents=True)
    flagged.rename(away)  # the runs since the one that flagged it took longer than a tick
    away.rename(flagged)  # back in, as a mail client moves it
    reads = _count_reads(monkeypatch)
    r = cli("--as-of", AS_OF, "mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert reads["head"] == [flagged.name]  # read, though its name is the last runs'
    assert [row["message_id"] for row in json.loads(r.out)] == ["a@x"]


def test_a_maildir_checkpoint_of_names_only_still_leaves_them_out(isolated: Path) -> None:
    """A checkpoint saved before the change times were kept names its run's files only:
    they stay left out whatever their time; one with times leaves out a file only while
    it has the time the run left it with."""
    from deskops.adapters.mailbox import MaildirMailbox

    root = _new_maildir(isolated, '[profile]\nname = "t"\n')
    path = root / "cur" / "1700000001.M1P1.host:2,S"
    eml(path, mid="a@x", frm="a@c.example", subject="x", body="x",
        date="Wed, 25 Nov 2026 10:00:00 +0900")  # fmt: skip
    box = MaildirMailbox(f"maildir://{root}")
    ctime = path.stat().st_ctime
    name = "1700000001.M1P1.host"
    for touched, taken in (([name], False), ({name: ctime}, False), ({name: ctime - 1}, True),
                           ({name: None}, False), ({}, True)):  # fmt: skip
        saved = {"began": ctime - 1, "touched": touched, "ended": ctime}
        query, value, _ = box.checkpoint(None, saved, True)
        assert [p.name for p in box.listing("INBOX", query["after"])] == [path.name] * taken
        assert value["touched"] == ({name: None} if touched == [name] else touched)


def _maildir_with(isolated: Path, rules: str, mails: list[tuple[str, str, str, str]]) -> Path:
    """A Maildir beside a profile of these rules, holding these (Message-ID, From,
    Subject, body) in cur/, the files named 1700000001.M1P1.host:2, and on."""
    root = _new_maildir(isolated, '[profile]\nname = "t"\ntimezone = "Asia/Tokyo"\n\n' + rules)
    for i, (mid, frm, subject, body) in enumerate(mails, 1):
        eml(root / "cur" / f"17000000{i:02}.M{i}P1.host:2,", mid=mid, frm=frm,
            subject=subject, body=body, date="Wed, 25 Nov 2026 10:00:00 +0900")  # fmt: skip
    return root


def _mail_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name in ("cur", "new")]


def _new_maildir(isolated: Path, profile: str) -> Path:
    """The profile in ``ops.toml`` and an empty Maildir beside it."""
    (isolated / "ops.toml").write_text(profile, encoding="utf-8")
    root = isolated / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    return root


def test_classify_command(cli, salon) -> None:
    r = cli("mail", "classify", "-o", "json")
    assert r.code == 0, r.err
    rows = {row["message_id"]: row for row in json.loads(r.out)}
    assert rows["q1@c"]["kind"] == "reservation_request"
    assert rows["q1@c"]["evidence"] == "明日の14時"
    assert rows["q1@c"]["when"] == "2026-11-25T14:00+09:00"
    assert rows["s1@spam"]["kind"] == "question" and rows["s1@spam"]["evidence"] is None
    assert "r1@salon" not in rows  # our own replies are not classified
    r = cli("mail", "classify", "q1@c", "--fields", "message_id,kind")
    assert r.out.splitlines() == ["message_id\tkind", "q1@c\treservation_request"]


def test_mail_import_mbox_and_single_eml(cli, isolated: Path) -> None:
    import mailbox as mb

    path = isolated / "export.mbox"
    box = mb.mbox(str(path))
    for i in range(3):
        m = EmailMessage()
        m["From"] = f"c{i}@example.cn"
        m["Subject"] = f"预约 {i}"
        m["Date"] = "Wed, 25 Nov 2026 10:00:00 +0800"
        m["Message-ID"] = f"<mb{i}@example.cn>"
        m.set_content("12月5日下午三点可以预约吗", charset="gb18030")
        box.add(m)
    box.close()
    r = cli("mail", "import", str(path), "--mailbox", "stores", "--yes")
    assert r.code == 0, r.err
    got = json.loads(
        cli(
            "store",
            "export",
            "-t",
            "messages",
            "--fields",
            "id,mailbox,subject,body_text",
            "-o",
            "json",
        ).out
    )
    assert [g["subject"] for g in got] == ["预约 0", "预约 1", "预约 2"]
    assert got[0]["mailbox"] == "stores" and "下午三点" in got[0]["body_text"]
    single = isolated / "one.eml"
    eml(
        single,
        mid="one@x",
        frm="a@b.example",
        subject="単品",
        body="本文",
        date="Wed, 25 Nov 2026 10:00:00 +0900",
    )
    assert cli("mail", "import", str(single), "--yes").code == 0
    assert cli("mail", "import", str(isolated / "missing.mbox")).code == 2


def test_awaiting_clear_on_a_maildir(cli, isolated: Path) -> None:
    root = _new_maildir(isolated, PROFILE)
    for sub in ("cur", "new", "tmp"):
        (root / ".返信待ち" / sub).mkdir(parents=True)
    eml(
        root / "cur" / "1.M1P1.h:2,S",
        mid="q1@c",
        frm="yamada@example.jp",
        subject="問い合わせ",
        body="明日空いてますか",
        date="Tue, 24 Nov 2026 10:00:00 +0900",
    )
    eml(
        root / "cur" / "2.M2P1.h:2,S",
        mid="r1@salon",
        frm="reservation1@salon.example",
        to="yamada@example.jp",
        subject="Re: 問い合わせ",
        body="ご返信をお待ちしております",
        reply_to="q1@c",
        date="Tue, 24 Nov 2026 11:00:00 +0900",
    )
    (root / ".返信待ち" / "cur" / "3.M3P1.h:2,S").write_bytes(
        (root / "cur" / "2.M2P1.h:2,S").read_bytes()
    )
    eml(
        root / "cur" / "4.M4P1.h:2,S",
        mid="c2@c",
        frm="yamada@example.jp",
        subject="Re: Re: 問い合わせ",
        body="では15時で",
        reply_to="r1@salon",
        date="Tue, 24 Nov 2026 12:00:00 +0900",
    )
    url = f"maildir://{root}"
    r = cli("--as-of", AS_OF, "mail", "awaiting", "--mailbox", url, "-o", "json")
    assert [row["state"] for row in json.loads(r.out)] == ["answered"]
    assert MaildirMailbox(url).labels_of("r1@salon") == ["返信待ち"]  # listing changes nothing
    r = cli("--as-of", AS_OF, "mail", "awaiting", "--mailbox", url, "--clear", "--yes")
    assert r.code == 0, r.err
    assert MaildirMailbox(url).labels_of("r1@salon") == []


def test_maildir_undo_knows_the_message_from_its_label_copy(cli, isolated: Path) -> None:
    """A message labelled ``A`` and moved to ``Z``: a later process (an undo) reads ``.A``
    before ``.Z``, and must still take the file in ``.Z`` for the message."""
    root = _new_maildir(
        isolated,
        '[profile]\nname = "t"\ntimezone = "Asia/Tokyo"\n\n[[mail.rules]]\nname = "r"\n'
        'when = { subject = "SEO" }\nadd_labels = ["A"]\nmove = "Z"\n',
    )
    eml(root / "cur" / "1700000000.M1P1.host:2,", mid="m1@x", frm="a@example.jp",
        subject="SEO", body="x", date="Wed, 25 Nov 2026 10:00:00 +0900")  # fmt: skip
    url = f"maildir://{root}"
    r = cli("mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    box = MaildirMailbox(url)
    assert box.main_folder("m1@x") == "Z" and box.labels_of("m1@x") == ["A"]
    r = cli("undo", "last", "--yes")
    assert r.code == 0, r.err
    box = MaildirMailbox(url)
    assert box.main_folder("m1@x") == "INBOX" and box.labels_of("m1@x") == []
    assert [p.name for p in _mail_files(root)] == ["1700000000.M1P1.host:2,"]


def test_maildir_label_copies_are_links_and_a_folder_that_cannot_be_made_fails_alone(
    cli, isolated: Path, monkeypatch
) -> None:
    """A label copy is a hard link, as Maildir servers copy (a message file never
    changes); a label whose folder cannot be made (a file in the way) fails alone, with
    a one-line reason naming it, and the rest of the run is applied and journaled in
    one transaction a batch. Each message file is read once, its header block only (no
    rule asks for a body), for the index of every folder and the run both."""
    root = _new_maildir(
        isolated,
        '[profile]\nname = "t"\ntimezone = "Asia/Tokyo"\n\n'
        '[[mail.rules]]\nname = "booking"\nwhen = { from = "noreply@stores.example" }\n'
        'add_labels = ["関東/新宿店"]\narchive = true\nstop = true\n\n'
        '[[mail.rules]]\nname = "spam"\nwhen = { subject = "SEO" }\n'
        'add_labels = ["確認"]\ntrash = true\n',
    )
    for i in range(3):
        eml(root / "cur" / f"17000000{i:02}.M{i}P1.host:2,", mid=f"b{i}@stores",
            frm="noreply@stores.example", subject="【和楽 新宿店】予約", body="予約",
            date="Wed, 25 Nov 2026 10:00:00 +0900")  # fmt: skip
    eml(root / "cur" / "1700000100.M9P1.host:2,", mid="s1@spam", frm="info@seo.example",
        subject="SEO", body="x", date="Wed, 25 Nov 2026 10:00:00 +0900")  # fmt: skip
    (root / ".確認").write_text("not a folder", encoding="utf-8")  # where the label would go
    reads = _count_reads(monkeypatch)
    url = f"maildir://{root}"
    r = cli("--as-of", AS_OF, "mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 3, r.err  # partial
    inbox = sorted(p.name for p in _mail_files(root) if "label" not in p.name)
    assert sorted(reads["head"]) == inbox and reads["whole"] == [] and reads["index"] == []
    errors = [line for line in r.err.splitlines() if line.startswith("ops: error:")]
    assert len(errors) == 1 and "cannot add labels of s1@spam" in errors[0]
    assert ".確認" in errors[0]
    rows = {row["message_id"]: row for row in json.loads(r.out)}
    assert all(rows[f"b{i}@stores"]["outcome"] == "applied" for i in range(3))
    assert rows["s1@spam"]["outcome"].startswith("applied, failed: ")  # trashed, not labelled
    box = MaildirMailbox(url)
    for i in range(3):
        assert box.main_folder(f"b{i}@stores") == "Archive"
        message, copy = box.index()[f"b{i}@stores"]
        assert copy.parent.parent.name == ".関東.新宿店"
        assert os.stat(message).st_ino == os.stat(copy).st_ino  # one file, two names
    assert box.main_folder("s1@spam") == "Trash"  # as on IMAP: the label alone failed
    runs = json.loads(cli("journal", "list", "-o", "json").out)
    assert runs[0]["status"] == "partial"
    r = cli("undo", "last", "--yes")
    assert r.code == 0, r.err
    box = MaildirMailbox(url)
    assert all(box.index()[f"b{i}@stores"] == [root / "cur" / f"17000000{i:02}.M{i}P1.host:2,"]
               for i in range(3))  # fmt: skip
