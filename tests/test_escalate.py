"""ops escalate against local Slack, Telegram and kintone servers (tools/contract_*.py) and
an SMTP sink: required values checked before anything is posted, routing by topic alias,
the named person only, 429 then 200, once per case and topic, the status change and its
undo, masking, and a case read from kintone."""

from __future__ import annotations

import json
import sys
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_kintone import KintoneServer  # noqa: E402
from contract_notify import SlackServer, TelegramServer  # noqa: E402

HOOK = "T0001/B0001/Xsecretsecret"
BOT = "123456:AAH-bot-token"
NOW = "2026-01-14T10:00:00+09:00"
URL = "https://labelworks.kintone.example/k/42/show#record="

CUSTOMERS = [
    {"id": "1018078", "name": "斎藤 幸子", "company": "株式会社さくら製菓",
     "phones": ["022-445-6150"], "emails": ["saito@sakura-seika.example"]},
    {"id": "1018048", "name": "山崎 麻衣", "phones": ["07049994264"], "emails": []},
]  # fmt: skip
CASES = [
    # purchase, linked to a company customer: everything there
    {"id": "20001", "customer_id": "1018078", "agent": "木村", "channel": "電話",
     "topic": "購入検討", "subject": "LM-620Wの購入検討",
     "body": "導入を検討している。見積書がほしい。",
     "status": "対応中", "opened_at": "2026-01-14T09:00:00+09:00"},
    # purchase, an individual without company or e-mail
    {"id": "20002", "customer_id": "1018048", "agent": "林", "channel": "電話",
     "topic": "購入検討", "subject": "購入したい", "body": "ラベル用紙を買いたい。",
     "status": "対応中", "opened_at": "2026-01-14T09:10:00+09:00"},
    # an order question: the number and the e-mail only in the body
    {"id": "20003", "agent": "佐々木", "channel": "メール", "topic": "配送",
     "subject": "届かない", "status": "未対応", "opened_at": "2026-01-14T09:20:00+09:00",
     "body": "1月10日に注文したラベルが届かない。\n注文番号：LW-2601-77146\nyuko96@example.ne.jp"},
    # an order question without its order e-mail
    {"id": "20004", "agent": "佐々木", "channel": "電話", "topic": "納期",
     "subject": "納期", "status": "対応中", "opened_at": "2026-01-14T09:30:00+09:00",
     "body": "いつ届くか知りたい。", "extra": {"order_no": "LW-2601-68729", "order_email": None}},
    # custom-made, the customer asked for 大野
    {"id": "20005", "agent": "松本", "channel": "電話", "topic": "オーダーメイド",
     "subject": "オーダーメイドラベルの見積もり", "caller_number": "0358222679",
     "body": "オーダーメイドラベル（62×100mm、3000枚）の見積もりがほしい。"
             "前回お世話になった大野さんにお願いしたい。",
     "status": "対応中", "opened_at": "2026-01-14T09:40:00+09:00",
     "extra": {"requested_person": "大野さん"}},
    # custom-made, nobody asked for; closed already
    {"id": "20006", "agent": "松本", "channel": "メール", "topic": "オーダーメイド",
     "subject": "特注ロールラベルの相談", "body": "特注のロールラベルを作りたい。",
     "status": "完了", "opened_at": "2026-01-13T09:40:00+09:00"},
    # a technical question: no routing for its topic
    {"id": "20007", "agent": "松本", "channel": "電話", "topic": "技術", "subject": "印刷ずれ",
     "body": "印刷がずれる。", "status": "対応中", "opened_at": "2026-01-14T09:50:00+09:00"},
]  # fmt: skip


def load(cli: Any, tmp_path: Path, kind: str, rows: list[dict[str, Any]]) -> None:
    f = tmp_path / f"{kind}.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    r = cli("-p", "support-ja", "store", "import", str(f), "--type", kind, "--yes")
    assert r.code == 0, r.err


@pytest.fixture
def desk(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Any:
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    load(cli, tmp_path, "customers", CUSTOMERS)
    load(cli, tmp_path, "cases", CASES)

    def run(*args: str) -> Any:
        return cli("-p", "support-ja", *args)

    return run


@pytest.fixture
def slack() -> Any:
    with SlackServer(hook=HOOK) as srv:
        yield srv


def hook(srv: Any) -> str:
    return f"slack+{srv.url}/services/{HOOK}"


def status(desk: Any, case: str) -> str:
    r = desk("store", "export", "--type", "cases", "-o", "jsonl")
    return next(json.loads(line)["status"] for line in r.out.splitlines()
                if json.loads(line)["id"] == case)  # fmt: skip


def runs(desk: Any) -> list[dict[str, Any]]:
    return json.loads(desk("journal", "list", "-o", "json").out)


# -- required values ---------------------------------------------------------------------------
def test_missing_required_values_are_one_error_and_nothing_is_posted(desk, slack) -> None:
    r = desk("escalate", "20002", "--notify", hook(slack), "--yes")
    assert r.code == 2
    assert (
        "purchase (#inside-sales) needs name, company, phone, email; missing: company, email"
        in r.err
    )
    assert "nothing was posted" in r.err and r.err.count("\n") == 1
    r = desk("escalate", "20004", "--notify", hook(slack), "--yes")
    assert r.code == 2 and "missing: order_email" in r.err
    r = desk("escalate", "20002", "--dry-run")  # a dry run says it too
    assert r.code == 2 and "missing: company, email" in r.err
    assert slack.requests == 0 and slack.messages == []
    assert status(desk, "20002") == "対応中" and runs(desk)[0]["command"].startswith("store import")


def test_order_number_and_email_found_in_the_body(desk, slack) -> None:
    r = desk("escalate", "20003", "--notify", hook(slack), "--yes")
    assert r.code == 0, r.err
    (msg,) = slack.messages
    text = msg["text"]
    assert text.startswith("@藤井 @森本 配送のお問い合わせです。" + URL + "20003\n")
    assert "注文番号：LW-2601-77146" in text and "注文時メール：yuko96@example.ne.jp" in text


# -- posting -------------------------------------------------------------------------------------
def test_posts_once_through_a_429_and_sets_the_status(desk, slack) -> None:
    slack.fail_next(1, status=429, retry_after=0)
    r = desk("escalate", "20001", "--notify", hook(slack), "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert slack.sent[429] == 1 and slack.sent[200] == 1
    (msg,) = slack.messages
    assert msg["text"].splitlines() == [
        f"@岡 @石田 購入検討のお問い合わせです。{URL}20001",
        "件名：LM-620Wの購入検討",
        "お客様名：斎藤 幸子",  # the post itself is not masked: an internal channel
        "会社名：株式会社さくら製菓",
        "電話番号：022-445-6150",
        "メール：saito@sakura-seika.example",
        "担当者：木村",
        "内容：導入を検討している。見積書がほしい。",
    ]
    (row,) = json.loads(r.out)
    assert row["channel"] == "#inside-sales" and row["mentions"] == "岡 石田"
    assert "saito@" not in r.out and "s***@sakura-seika.example" in row["text"]  # masked here
    assert "Xsecret" not in r.out + r.err
    assert status(desk, "20001") == "エスカレーション中"
    run = runs(desk)[0]
    entries = json.loads(desk("journal", "show", run["run_id"], "-o", "json").out)
    assert [(e["target"], e["op"], e["outcome"]) for e in entries] == [
        ("cases:20001", "set", "applied"),
        ("outbox:escalate:20001:purchase", "send", "applied"),
    ]
    # a second run posts nothing and says so; --force posts again
    again = desk("escalate", "20001", "--notify", hook(slack), "--yes")
    assert again.code == 0 and "already posted to #inside-sales" in again.err
    assert len(slack.messages) == 1 and slack.requests == 2
    forced = desk("escalate", "20001", "--notify", hook(slack), "--yes", "--force")
    assert forced.code == 0, forced.err
    assert len(slack.messages) == 2
    assert desk("escalate", "20001", "--notify", hook(slack), "--yes").code == 0
    assert len(slack.messages) == 2


def test_undo_puts_the_status_back_and_the_post_stays(desk, slack) -> None:
    assert desk("escalate", "20001", "--notify", hook(slack), "--yes").code == 0
    run = runs(desk)[0]["run_id"]
    u = desk("undo", run, "--yes")
    assert "a send cannot be undone" in u.err
    assert status(desk, "20001") == "対応中" and len(slack.messages) == 1
    assert "already posted" in desk("escalate", "20001", "--notify", hook(slack), "--yes").err


def test_a_failed_post_is_posted_by_the_rerun(desk, slack) -> None:
    """The case is marked first; the post follows the commit on its own, so a chat that
    is down fails the post only (exit 3), and the rerun posts it once."""
    slack.channel_gone = True
    r = desk("escalate", "20001", "--notify", hook(slack), "--yes")
    assert r.code == 3 and "channel_not_found" in r.err and "Xsecret" not in r.err
    assert status(desk, "20001") == "エスカレーション中"
    slack.channel_gone = False
    assert desk("escalate", "20001", "--notify", hook(slack), "--yes").code == 0
    assert len(slack.messages) == 1
    assert desk("escalate", "20001", "--notify", hook(slack), "--yes").code == 0
    assert len(slack.messages) == 1


def test_telegram_waits_as_told_and_posts(desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_TELEGRAM_TOKEN", BOT)
    with TelegramServer(token=BOT, chats=["-100777"]) as tg:
        tg.fail_next(2, status=429, retry_after=0)  # the wait in parameters.retry_after
        monkeypatch.setenv("OPS_NOTIFY_URL", f"telegram+{tg.url}/?chat_id=-100777")
        r = desk("escalate", "20003", "--yes")
        assert r.code == 0, r.err
        assert tg.sent[429] == 2 and len(tg.messages) == 1
        assert tg.messages[0]["chat_id"] == "-100777"
        assert "@藤井 @森本 配送" in tg.messages[0]["text"]
        assert BOT not in r.out + r.err
        assert desk("escalate", "20003", "--yes").code == 0 and len(tg.messages) == 1


def test_mail_as_the_notifier(desk, smtp_server) -> None:
    sink, port = smtp_server
    r = desk("escalate", "20003", "--notify", f"smtp://127.0.0.1:{port}/?to=sales@example.com",
             "--yes")  # fmt: skip
    assert r.code == 0, r.err
    ((_sender, rcpts, raw),) = sink.messages
    msg = message_from_bytes(raw, policy=policy.default)
    assert rcpts == ["sales@example.com"] and msg["Subject"] == "[営業] 配送 20003"
    assert "注文番号：LW-2601-77146" in msg.get_content()


def test_a_terminal_less_run_needs_yes(desk, slack) -> None:
    r = desk("escalate", "20001", "--notify", hook(slack))
    assert r.code == 2 and "rerun with --yes" in r.err and slack.requests == 0
    r = desk("escalate", "20001")  # nowhere to post
    assert r.code == 2 and "OPS_NOTIFY_URL" in r.err


# -- routing and mentions ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "topic", ["custom", "オーダーメイド", "custom-made products", "CUSTOM", None]
)
def test_routing_by_topic_alias(desk, topic: str | None) -> None:
    args = ["escalate", "20006", "--dry-run", "-o", "json"]
    r = desk(*args, *(["--topic", topic] if topic else []))
    assert r.code == 0, r.err
    (row,) = json.loads(r.out)
    assert row["route"] == "custom" and row["channel"] == "#support-escalation"
    assert row["topic"] == "オーダーメイド" and row["mentions"] == "大野 山口"
    assert row["text"].startswith("@大野 @山口 オーダーメイドのお問い合わせです。")
    assert row["status"] == "" and "closed (完了)" in r.err  # a closed case keeps its status


def test_topic_given_overrides_and_unknown_topics_list_the_valid_ones(desk) -> None:
    r = desk("escalate", "20007", "--dry-run")
    assert r.code == 2 and "has topic '技術', which no [[routing]] entry routes" in r.err
    r = desk("escalate", "20007", "--topic", "tech", "--dry-run")
    assert r.code == 2
    assert (
        "valid: custom, purchase, order-support (or a case topic: オーダーメイド, 購入検討, 配送"
        in r.err
    )
    r = desk("escalate", "20005", "--topic", "納期", "--dry-run", "-o", "json")  # order route
    assert r.code == 2 and "missing: order_no, order_email" in r.err
    r = desk("escalate", "20003", "--topic", "キャンセル", "--dry-run", "-o", "json")
    (row,) = json.loads(r.out)
    assert row["route"] == "order-support" and row["topic"] == "配送"  # the case's own word
    r = desk("escalate", "99999", "--dry-run")
    assert r.code == 2 and "no case '99999' in the store" in r.err


def test_named_person_only(desk, slack) -> None:
    def mentions(*args: str) -> Any:
        r = desk("escalate", *args, "--dry-run", "-o", "json")
        return json.loads(r.out)[0]["mentions"] if r.code == 0 else r

    assert mentions("20005") == "大野"  # the customer asked for 大野さん
    assert mentions("20006") == "大野 山口"  # nobody asked: the whole list
    assert mentions("20006", "--named", "山口") == "山口"
    assert mentions("20006", "--named", "大野さん") == "大野"
    assert mentions("20006", "--named", "sasaki") == "佐々木"  # a known agent, by id
    bad = mentions("20006", "--named", "田中")
    assert bad.code == 2 and "--named '田中': not a known person; valid: " in bad.err
    assert "大野" in bad.err and "山口" in bad.err
    other = mentions("20001", "--named", "岡")
    assert other.code == 2 and "only an entry with named_person_only" in other.err
    r = desk("escalate", "20005", "--notify", hook(slack), "--yes")
    assert r.code == 0, r.err
    (msg,) = slack.messages
    assert (
        msg["text"].startswith("@大野 オーダーメイドのお問い合わせです。")
        and "@山口" not in msg["text"]
    )
    assert status(desk, "20005") == "エスカレーション中"


def test_dry_run_masks_and_unmask_shows(desk, slack) -> None:
    r = desk("escalate", "20005", "--dry-run", "-o", "json")
    (row,) = json.loads(r.out)
    assert "******2679" in row["text"] and "0358222679" not in r.out
    assert row["notify"] == "(not set)" and row["status"] == "エスカレーション中"
    r = desk("escalate", "20005", "--dry-run", "--unmask", "-o", "json")
    assert "電話番号：0358222679" in json.loads(r.out)[0]["text"]
    assert slack.requests == 0 and status(desk, "20005") == "対応中"
    assert runs(desk)[0]["command"].startswith("store import")


# -- a case in kintone -----------------------------------------------------------------------------
KINTONE_FIELDS = {
    "顧客ID": "SINGLE_LINE_TEXT", "担当者": "SINGLE_LINE_TEXT", "受付チャネル": "DROP_DOWN",
    "問い合わせ種別": "DROP_DOWN", "件名": "SINGLE_LINE_TEXT", "内容": "MULTI_LINE_TEXT",
    "電話番号": "SINGLE_LINE_TEXT", "製品": "SINGLE_LINE_TEXT", "受付日時": "DATETIME",
    "対応開始日時": "DATETIME", "完了日時": "DATETIME",
}  # fmt: skip


@pytest.mark.parametrize("status_type", ["DROP_DOWN", "STATUS"])
def test_a_kintone_case(desk, slack, monkeypatch: pytest.MonkeyPatch, status_type: str) -> None:
    monkeypatch.setenv("OPS_KINTONE_TOKEN", "kt")
    with KintoneServer(token="kt") as kt:
        kt.add_app(42, {**KINTONE_FIELDS, "対応状況": status_type}, [
            {"$id": "31", "顧客ID": "1018078", "担当者": "木村", "問い合わせ種別": "購入検討",
             "件名": "見積もり", "内容": "見積書がほしい。", "対応状況": "対応中",
             "受付日時": "2026-01-14T00:00:00Z"},
        ])  # fmt: skip
        cases = f"kintone+{kt.url}/k/42"
        r = desk("escalate", "31", "--cases", cases, "--notify", hook(slack), "--yes")
        assert r.code == 0, r.err
        assert "斎藤 幸子" in slack.messages[0]["text"]  # the customer from the store
        assert f"{URL}31" in slack.messages[0]["text"]
        if status_type == "DROP_DOWN":
            assert kt.value(42, 31, "対応状況") == "エスカレーション中"
        else:  # the process-management status is not written through records.json
            assert kt.value(42, 31, "対応状況") == "対応中"
            assert "cannot be written here" in r.err
        monkeypatch.setenv("OPS_CASES_URL", cases)
        assert "already posted" in desk("escalate", "31", "--notify", hook(slack), "--yes").err
        assert len(slack.messages) == 1
        r = desk("escalate", "77", "--dry-run")
        assert r.code == 2 and "no case '77' in kintone" in r.err
