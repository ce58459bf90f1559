"""The notification adapters (adapters/notify.py) against local Slack, Telegram and LINE
servers (tools/contract_notify.py) and an SMTP sink: posting, splitting long texts,
retries that honour the server's wait, giving up, auth failures, secrets kept out of
names and messages, LINE's retry key, and the registry."""

from __future__ import annotations

import sys
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_notify import LineServer, SlackServer, TelegramServer, units  # noqa: E402
from contract_orders import no_waits  # noqa: E402

from deskops.adapters.errors import (  # noqa: E402
    AuthError,
    BackendUnreachable,
    OpsError,
    UsageError,
)
from deskops.adapters.notify import (  # noqa: E402
    LineNotifier,
    MailNotifier,
    SlackNotifier,
    TelegramNotifier,
    split_text,
)
from deskops.adapters.registry import resolve  # noqa: E402

HOOK = "T0001/B0001/Xsecretsecret"
BOT = "123456:AAH-bot-token"
LINE = "line-channel-access-token"


fast = no_waits  # retries and the rate limiter return at once


def report(lines: int, width: int = 70) -> str:
    return "\n".join(f"{i:04d} " + "x" * (width - 5) for i in range(lines))


# -- splitting -----------------------------------------------------------------------------
def test_split_keeps_lines_whole_and_counts_utf16() -> None:
    text = report(200)  # 200 lines of 70: 13,999 characters
    pieces = split_text(text, 4096)
    assert len(pieces) == 4 and all(units(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text  # broken only between lines
    emoji = "📦" * 3000  # 6,000 UTF-16 code units on one line without spaces
    pieces = split_text(emoji, 4096)
    assert [units(p) for p in pieces] == [4096, 1904] and "".join(pieces) == emoji
    words = "слово " * 1000  # one long line: broken after a space
    pieces = split_text(words, 4096)
    assert all(p.endswith("слово") for p in pieces) and len(pieces) == 2
    assert split_text("\n  \n", 100) == []


# -- Slack ---------------------------------------------------------------------------------
def test_slack_posts_escapes_and_masks_the_webhook() -> None:
    with SlackServer(hook=HOOK) as srv:
        url = f"slack+{srv.url}/services/{HOOK}"
        api = fast(SlackNotifier(url))
        got = api.post("3 orders <late> & 1 refund\nhttps://ops.example/r/1", title="Daily")
        assert got["service"] == "slack" and got["parts"] == 1 and got["answers"] == ["ok"]
        assert srv.messages == [
            {"text": "*Daily*\n3 orders &lt;late&gt; &amp; 1 refund\nhttps://ops.example/r/1"}
        ]
        assert api.backend == f"notify:slack+{srv.url}/services/***"
        assert "Xsecret" not in api.display and "Xsecret" not in got["backend"]
        api.close()


def test_slack_webhook_path_from_the_secret() -> None:
    with SlackServer(hook=HOOK) as srv:
        for secret in (HOOK, f"/services/{HOOK}", f"https://hooks.slack.com/services/{HOOK}"):
            api = fast(SlackNotifier(f"slack+{srv.url}", secret=secret))
            api.post("hello")
        masked = fast(SlackNotifier(f"slack+{srv.url}/services/***", secret=HOOK))
        masked.post("again")
        assert len(srv.messages) == 4
        with pytest.raises(AuthError, match="no credentials"):
            SlackNotifier(f"slack+{srv.url}").post("hello")
    with pytest.raises(UsageError, match="services"):
        SlackNotifier("slack+https://hooks.slack.com/triggers/T1/2/3")


def test_slack_splits_and_retries_429_honouring_retry_after() -> None:
    with SlackServer(hook=HOOK) as srv:
        waits: list[float] = []
        api = fast(SlackNotifier(f"slack+{srv.url}/services/{HOOK}"), waits)
        srv.fail_next(1, status=429, retry_after=7)
        got = api.post(report(700, 100))  # 69,999 characters: two messages
        assert got["parts"] == 2 and len(srv.messages) == 2
        assert waits == [7.0] and srv.sent[429] == 1 and api.requests == 3
        assert "\n".join(m["text"] for m in srv.messages) == report(700, 100)


def test_slack_errors_in_one_line_without_the_webhook() -> None:
    with SlackServer(hook=HOOK) as srv:
        api = fast(SlackNotifier(f"slack+{srv.url}/services/{HOOK}"))
        srv.channel_gone = True
        with pytest.raises(OpsError, match="HTTP 404 channel_not_found") as err:
            api.post("hello")
        assert "Xsecret" not in str(err.value) and "/services/***" in str(err.value)
        srv.channel_gone = False
        wrong = fast(SlackNotifier(f"slack+{srv.url}/services/T0001/B0001/Xother"))
        with pytest.raises(AuthError, match="HTTP 403 invalid_token") as err:
            wrong.post("hello")
        assert "Xother" not in str(err.value)
        srv.fail_next(5, status=503)
        with pytest.raises(BackendUnreachable, match="gave up after 5 attempts") as err:
            api.post("hello")
        assert "Xsecret" not in str(err.value) and "\n" not in str(err.value)
        srv.malformed_next()
        with pytest.raises(OpsError, match="unexpected answer"):
            api.post("hello")
        with pytest.raises(UsageError, match="empty"):
            api.post("  \n")
        assert srv.messages == []


# -- Telegram ------------------------------------------------------------------------------
def test_telegram_posts_and_splits_long_text() -> None:
    with TelegramServer(token=BOT, chats=["-100123"]) as srv:
        api = fast(TelegramNotifier(f"telegram+{srv.url}/?chat_id=-100123", secret=BOT))
        got = api.post(report(150), title="Дневной отчёт 12.01")
        assert got["parts"] == 3 and got["ids"] == ["101", "102", "103"]
        assert [m["chat_id"] for m in srv.messages] == ["-100123"] * 3
        assert all(m["disable_web_page_preview"] is True for m in srv.messages)
        assert srv.messages[0]["text"].startswith("Дневной отчёт 12.01\n0000 ")
        assert all(units(m["text"]) <= 4096 for m in srv.messages)
        assert api.display == "telegram chat -100123"
        assert api.backend == f"notify:telegram+{srv.url}/?chat_id=-100123"
        assert BOT not in api.backend and BOT not in api.display


def test_telegram_honours_retry_after_and_gives_up() -> None:
    with TelegramServer(token=BOT) as srv:
        waits: list[float] = []
        api = fast(TelegramNotifier(f"telegram+{srv.url}/?chat_id=42", secret=BOT), waits)
        srv.fail_next(2, status=429, retry_after=3)  # in the body: parameters.retry_after
        assert api.post("hello")["ids"] == ["101"]
        assert waits == [3.0, 3.0] and srv.sent[429] == 2
        srv.fail_next(5, status=429, retry_after=1)
        with pytest.raises(BackendUnreachable, match="retry after 1; gave up after 5") as err:
            api.post("hello")
        assert BOT not in str(err.value) and str(err.value).startswith("telegram chat 42: ")
        srv.malformed_next()
        with pytest.raises(OpsError, match="malformed response, not JSON"):
            api.post("hello")


def test_telegram_errors_never_name_the_token() -> None:
    with TelegramServer(token=BOT, chats=["-100123"]) as srv:
        wrong = fast(TelegramNotifier(f"telegram+{srv.url}/?chat_id=-100123", secret="9:wrong"))
        with pytest.raises(AuthError, match="HTTP 401 Unauthorized") as err:
            wrong.post("hello")
        assert "9:wrong" not in str(err.value) and "OPS_TELEGRAM_TOKEN" in str(err.value)
        bad = fast(TelegramNotifier(f"telegram+{srv.url}/?chat_id=-100123", secret="nocolon"))
        with pytest.raises(AuthError, match="HTTP 404") as err:
            bad.post("hello")
        assert "nocolon" not in str(err.value)
        other = fast(TelegramNotifier(f"telegram+{srv.url}/?chat_id=-999", secret=BOT))
        with pytest.raises(OpsError, match="HTTP 400 Bad Request: chat not found") as err:
            other.post("hello")
        assert BOT not in str(err.value)
        with pytest.raises(AuthError, match="no credentials.*OPS_TELEGRAM_TOKEN"):
            TelegramNotifier(f"telegram+{srv.url}/?chat_id=1").post("hello")
    with pytest.raises(UsageError, match="chat_id"):
        TelegramNotifier("telegram+https://api.telegram.org/", secret=BOT)
    with pytest.raises(UsageError, match="no secret in the URL") as err:
        TelegramNotifier("telegram+https://x:y@api.telegram.org/?chat_id=1", secret=BOT)
    assert "x:y" not in str(err.value)


def test_a_failure_midway_says_how_much_was_delivered() -> None:
    with TelegramServer(token=BOT) as srv:
        api = fast(TelegramNotifier(f"telegram+{srv.url}/?chat_id=42", secret=BOT))
        api.attempts = 2
        text = report(150)
        first = split_text(text, 4096)[0]

        original = api.deliver

        def deliver(texts: list[str], n: int, key: str | None) -> Any:
            if n == 1:  # the second message meets a gateway that is down
                srv.fail_next(2, status=503)
            return original(texts, n, key)

        api.deliver = deliver
        with pytest.raises(BackendUnreachable, match="at message 2 of 3; 1 delivered before it"):
            api.post(text)
        assert [m["text"] for m in srv.messages] == [first]


# -- LINE ----------------------------------------------------------------------------------
def test_line_pushes_up_to_five_texts_a_request() -> None:
    with LineServer(token=LINE) as srv:
        api = fast(LineNotifier(f"line+{srv.url}/?to=U0123abcd", secret=LINE))
        got = api.post(report(500), title="日報")  # 34,999 characters: 8 texts of ≤ 5,000
        assert got["parts"] == 8 and len(got["ids"]) == 8 and len(got["answers"]) == 2
        assert srv.requests == 2 and len(srv.messages) == 8
        assert all(units(m["text"]) <= 5000 and m["to"] == "U0123abcd" for m in srv.messages)
        assert srv.messages[0]["text"].startswith("日報\n0000 ")
        keys = srv.retry_keys
        assert len(set(keys)) == 2 and all(k is not None for k in keys)
        assert api.display == "line to U0123abcd" and LINE not in api.backend


def test_line_keeps_the_retry_key_across_retries() -> None:
    with LineServer(token=LINE) as srv:
        waits: list[float] = []
        api = fast(LineNotifier(f"line+{srv.url}/?to=Cgroup", secret=LINE), waits)
        srv.fail_next(2, status=429)
        api.post("hello")
        assert srv.sent[429] == 2 and len(srv.messages) == 1
        assert len(srv.retry_keys) == 3 and len(set(srv.retry_keys)) == 1
        assert "X-Line-Retry-Key" not in (api.client.headers if api.client else {})
        # the push went through but its answer was lost: the retry is a 409, not a 2nd message
        srv.drop_answer_next()
        got = api.post("only once")
        assert got["duplicate"] is True and got["ids"] == ["600001"]
        assert [m["text"] for m in srv.messages] == ["hello", "only once"]
        assert srv.sent[503] == 1 and srv.sent[409] == 1


def test_line_same_key_is_delivered_once() -> None:
    with LineServer(token=LINE) as srv:
        api = fast(LineNotifier(f"line+{srv.url}/?to=Uabc", secret=LINE))
        first = api.post("report of 12.01", key="daily:2026-01-12")
        again = api.post("report of 12.01", key="daily:2026-01-12")
        assert first["duplicate"] is False and again["duplicate"] is True
        assert again["ids"] == first["ids"] and len(srv.messages) == 1
        api.post("report of 13.01", key="daily:2026-01-13")
        assert len(srv.messages) == 2


def test_line_errors() -> None:
    with LineServer(token=LINE) as srv:
        wrong = fast(LineNotifier(f"line+{srv.url}/?to=Uabc", secret="stale-token"))
        with pytest.raises(AuthError, match="HTTP 401 Authentication failed") as err:
            wrong.post("hello")
        assert "stale-token" not in str(err.value) and "OPS_LINE_TOKEN" in str(err.value)
        api = fast(LineNotifier(f"line+{srv.url}/?to=Uabc", secret=LINE))
        srv.fail_next(5, status=500)
        with pytest.raises(OpsError, match="HTTP 500 injected failure") as err:
            api.post("hello")
        assert not isinstance(err.value, BackendUnreachable) and srv.sent[500] == 1
        srv.faults.clear()
        srv.fail_next(5, status=503)
        with pytest.raises(BackendUnreachable, match="^line to Uabc: .*gave up after 5"):
            api.post("hello")
        assert srv.messages == []
    with pytest.raises(UsageError, match="recipient"):
        LineNotifier("line+https://api.line.me/", secret=LINE)


# -- mail ----------------------------------------------------------------------------------
def test_mail_sends_the_report(smtp_server: Any) -> None:
    sink, port = smtp_server
    url = f"smtp://127.0.0.1:{port}/?to=ops-report@example.com,lead@example.com"
    api = MailNotifier.from_config(url, {"smtp": {"from": "desk@example.com"}}, None)
    got = api.post("3 orders late\nhttps://ops.example/r/1", title="Daily 12.01", key="d:12")
    assert got["service"] == "email" and got["ids"][0].startswith("<notify.")
    [(sender, rcpts, raw)] = sink.messages
    assert sender == "desk@example.com"
    assert rcpts == ["ops-report@example.com", "lead@example.com"]
    msg = message_from_bytes(raw)
    assert msg["Subject"] == "Daily 12.01" and msg["Message-ID"] == got["ids"][0]
    assert "3 orders late" in msg.get_payload() and msg["Auto-Submitted"] == "auto-generated"
    assert api.backend == f"notify:{url}"
    api.close()


def test_mail_gives_up_after_the_attempts() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    api = fast(MailNotifier(f"smtp://u:pw@127.0.0.1:{port}/?to=a@example.com", password="pw"))
    with pytest.raises(BackendUnreachable, match="gave up after 3 attempts") as err:
        api.post("hello")
    assert ":pw" not in str(err.value)
    assert api.backend == f"notify:smtp://u@127.0.0.1:{port}/?to=a@example.com"
    with pytest.raises(UsageError, match="recipients"):
        MailNotifier("smtp://127.0.0.1:25/")


# -- the registry and the CLI's secrets ----------------------------------------------------
@pytest.mark.parametrize(
    ("url", "cls"),
    [
        ("slack+https://hooks.slack.com/services/T1/B1/X", SlackNotifier),
        ("slack+http://127.0.0.1:1/services/T1/B1/X", SlackNotifier),
        ("telegram+https://api.telegram.org/?chat_id=-100123", TelegramNotifier),
        ("telegram+http://127.0.0.1:1/?chat_id=1", TelegramNotifier),
        ("line+https://api.line.me/?to=U1", LineNotifier),
        ("line+http://127.0.0.1:1/?to=U1", LineNotifier),
        ("smtp://user@smtp.example.com:587/?to=a@example.com&starttls=1", MailNotifier),
        ("smtps://smtp.example.com/?to=a@example.com", MailNotifier),
    ],
)
def test_registry_resolves_each_scheme(url: str, cls: type) -> None:
    assert resolve("notify", url) is cls
    api = cls.from_config(url, {}, "secret-value")
    assert api.backend.startswith("notify:") and "secret-value" not in api.backend


def test_registry_rejects_an_unknown_scheme() -> None:
    with pytest.raises(UsageError, match="known schemes: line\\+http"):
        resolve("notify", "discord+https://discord.com/api/webhooks/1/x")


def test_backend_takes_tokens_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from deskops.cli.context import Ops

    with TelegramServer(token=BOT) as tg, LineServer(token=LINE) as line:
        monkeypatch.setenv("OPS_NOTIFY_TOKEN", LINE)
        monkeypatch.setenv("OPS_TELEGRAM_TOKEN", BOT)
        api = fast(Ops().backend(f"notify:telegram+{tg.url}/?chat_id=7"))
        assert isinstance(api, TelegramNotifier) and api.post("hi")["ids"] == ["101"]
        api = fast(Ops().backend(f"notify:line+{line.url}/?to=U7"))  # OPS_NOTIFY_TOKEN
        assert isinstance(api, LineNotifier) and len(api.post("hi")["ids"]) == 1
    with SlackServer(hook=HOOK) as slack:
        monkeypatch.setenv("OPS_NOTIFY_TOKEN", HOOK)
        api = fast(Ops().backend(f"notify:slack+{slack.url}/services/***"))
        api.post("hi")
        assert slack.messages == [{"text": "hi"}]
