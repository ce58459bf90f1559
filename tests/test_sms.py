"""The Twilio SMS sender (adapters/sms.py) against a local Twilio Messages API
(tools/contract_sms.py): the form Twilio wants with the number in E.164, 429 + Retry-After
retried, 5xx, Twilio's per-message errors named by code, a bad token, a text too long, a
malformed answer, and — as the target of a plan's sends — each message once, a refused
one failing alone (a partial run), and the token nowhere in messages or the journal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_orders import no_waits  # noqa: E402
from contract_sms import TwilioSmsServer, segments  # noqa: E402

from deskops.adapters.errors import (  # noqa: E402
    AuthError,
    BackendUnreachable,
    OpsError,
    PartialFailure,
    UsageError,
)
from deskops.adapters.sms import TwilioSms  # noqa: E402

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-0123456789abcdef"
FROM = "+15005550006"


fast = no_waits  # retries and the rate limiter return at once


def sms(srv: TwilioSmsServer, query: str = f"from={FROM}", **kw: Any) -> TwilioSms:
    kw.setdefault("secret", TOKEN)
    kw.setdefault("region", "CN")
    return fast(TwilioSms(f"twilio+http://{SID}@127.0.0.1:{srv.port}/?{query}", **kw))


@pytest.fixture
def srv() -> Any:
    with TwilioSmsServer(sid=SID, token=TOKEN, blocked={"+8613900001111"}) as server:
        yield server


# -- sending -----------------------------------------------------------------------------
def test_a_message_goes_in_e164_as_twilio_wants_it(srv: TwilioSmsServer) -> None:
    api = sms(srv)
    got = api.post("【悦禾养生】温馨提醒：您的预约明天14:00开始。", to="138-1234-5678")
    assert srv.forms == [{"To": "+8613812345678", "From": FROM,
                          "Body": "【悦禾养生】温馨提醒：您的预约明天14:00开始。"}]  # fmt: skip
    (msg,) = srv.messages
    assert got == {"service": "twilio", "backend": f"sms:twilio+http://127.0.0.1:{srv.port}/"
                   f"?from=+15005550006", "to": "+8613812345678", "sid": msg["sid"],
                   "status": "queued", "segments": 1}  # fmt: skip
    assert got["sid"].startswith("SM") and SID in api.display
    # a full-width, international or already-E.164 number reads the same
    for written in ("１３８１２３４５６７８", "+86 138 1234 5678", "+8613812345678"):
        assert api.post("hi", to=written)["to"] == "+8613812345678"
    # a Messaging Service picks the sender; Twilio answers "accepted"
    svc = sms(srv, "messaging_service=MG0123456789abcdef0123456789abcdef")
    assert svc.post("hi", to="+447700900123")["status"] == "accepted"
    mg = "MG0123456789abcdef0123456789abcdef"
    assert srv.forms[-1] == {"To": "+447700900123", "Body": "hi", "MessagingServiceSid": mg}
    api.close()
    svc.close()


def test_a_long_text_goes_as_one_message_but_not_over_1600(srv: TwilioSmsServer) -> None:
    api = sms(srv)
    long = "预" * 1600  # 24 UCS-2 segments, which Twilio sends as one message
    assert api.post(long, to="13812345678")["segments"] == 24 == segments(long)
    assert len(srv.messages) == 1 and srv.messages[0]["body"] == long
    with pytest.raises(UsageError) as too_long:
        api.post("x" * 1601, to="13812345678")
    assert str(too_long.value) == (
        f"twilio {SID}@127.0.0.1:{srv.port}: the message has 1601 characters; an SMS may have "
        "at most 1600 (shorten the template)"
    )
    with pytest.raises(UsageError, match="1601 characters"):  # an emoji is two, as Twilio counts
        api.post("📅" + "x" * 1599, to="13812345678")
    with pytest.raises(UsageError, match="the message is empty"):
        api.post(" \n", to="13812345678")
    assert srv.requests == 1  # nothing too long was even asked
    api.close()


def test_429_then_201_honours_retry_after(srv: TwilioSmsServer) -> None:
    waits: list[float] = []
    api = fast(sms(srv), waits)
    srv.fail_next(2, status=429, retry_after=3)
    got = api.post("hi", to="13812345678")
    assert got["status"] == "queued" and len(srv.messages) == 1
    assert srv.sent[429] == 2 and waits == [3.0, 3.0]
    assert api.requests == 3
    # a gateway's 503 is retried too (with backoff when it gives no Retry-After)
    srv.fail_next(1, status=503)
    assert api.post("again", to="13812345678")["status"] == "queued"
    assert len(srv.messages) == 2
    api.close()


def test_429_without_end_gives_up_in_one_line(srv: TwilioSmsServer) -> None:
    api = sms(srv)
    srv.fail_next(10, status=429, retry_after=1)
    with pytest.raises(BackendUnreachable) as gave_up:
        api.post("hi", to="13812345678")
    msg = str(gave_up.value)
    assert "\n" not in msg and "Too Many Requests (error 20429)" in msg
    assert "gave up after 5 attempts" in msg and TOKEN not in msg
    assert srv.messages == []
    api.close()


def test_a_500_is_not_retried_as_the_message_may_be_queued(srv: TwilioSmsServer) -> None:
    api = sms(srv)
    srv.fail_next(1, status=500)
    with pytest.raises(OpsError) as failed:
        api.post("hi", to="13812345678")
    assert str(failed.value) == (
        f"twilio {SID}@127.0.0.1:{srv.port}: SMS to +8613812345678: Twilio error 20500: "
        "injected failure"
    )
    assert srv.requests == 1
    api.close()


@pytest.mark.parametrize(
    "to,code,words,hint",
    [
        ("+15005550001", 21211, "The 'To' number +15005550001 is not a valid phone number.",
         "correct the customer's number"),
        ("13900001111", 21610, "Attempt to send to unsubscribed recipient",
         "they must reply START"),
        ("+15005550003", 21408, "Permission to send an SMS has not been enabled for the region",
         "Geo permissions"),
    ],
)  # fmt: skip
def test_twilio_errors_are_named_by_code(
    srv: TwilioSmsServer, to: str, code: int, words: str, hint: str
) -> None:
    api = sms(srv)
    with pytest.raises(OpsError) as refused:
        api.post("hi", to=to)
    exc = refused.value
    assert type(exc) is OpsError and exc.exit_code == 1
    assert f": SMS to {api.recipient(to)}: Twilio error {code}: {words}" in exc.message
    assert hint in (exc.hint or "") and "\n" not in str(exc)
    assert srv.messages == []
    api.close()


def test_a_closed_region_and_a_number_that_is_none(srv: TwilioSmsServer) -> None:
    srv.closed_regions = ("+86",)
    api = sms(srv)
    with pytest.raises(OpsError, match="Twilio error 21408"):
        api.post("hi", to="13812345678")
    assert api.post("hi", to="+447700900123")["to"] == "+447700900123"
    with pytest.raises(OpsError) as bad:
        api.post("hi", to="call me")
    assert str(bad.value) == (
        f"twilio {SID}@127.0.0.1:{srv.port}: 'call me' is not a phone number in CN; "
        "nothing was sent to it"
    )
    nowhere = sms(srv, region="")
    with pytest.raises(OpsError, match="no \\[profile\\] country is set"):
        nowhere.post("hi", to="07700 900123")
    assert srv.requests == 2  # the two that were phone numbers
    api.close()


def test_a_bad_token_is_an_auth_error_in_one_line_without_it(srv: TwilioSmsServer) -> None:
    api = sms(srv, secret="not-the-token")
    with pytest.raises(AuthError) as refused:
        api.post("hi", to="13812345678")
    exc = refused.value
    assert exc.exit_code == 4 and "\n" not in str(exc)
    assert "HTTP 401 Authenticate (error 20003)" in exc.message
    assert "OPS_TWILIO_TOKEN" in (exc.hint or "") and "not-the-token" not in str(exc)
    with pytest.raises(AuthError):  # refused once: the next message does not ask again
        api.post("hi", to="13812345678")
    assert srv.requests == 1 and srv.sent[401] == 1
    none = sms(srv, secret=None)
    with pytest.raises(AuthError, match="no credentials"):
        none.post("hi", to="13812345678")
    assert srv.messages == []
    api.close()


def test_a_malformed_answer_fails_and_says_the_message_may_have_gone(
    srv: TwilioSmsServer,
) -> None:
    api = sms(srv)
    srv.malformed_next()
    with pytest.raises(OpsError) as broken:
        api.post("hi", to="13812345678")
    assert 'HTTP 200 but the answer is not a message (\'{"success": true, "ord\')' in str(
        broken.value
    )
    assert "look it up in the Twilio console" in (broken.value.hint or "")
    api.close()


@pytest.mark.parametrize(
    "url,words",
    [
        ("twilio+https://api.twilio.com/?from=+15005550006", "give the account SID"),
        (f"twilio+https://{SID}:{TOKEN}@api.twilio.com/?from=+1500", "no secret in the URL"),
        (f"twilio+https://{SID}@api.twilio.com/", "give the sender"),
        (f"twilio+https://{SID}@api.twilio.com/?from=+1500&messaging_service=MG1",
         "give the sender"),
        (f"twilio+https://{SID}@api.twilio.com/2010-04-01?from=+1500", "no path"),
        (f"sms://{SID}@api.twilio.com/?from=+1500", "expected twilio+https://ACCOUNT_SID@"),
    ],
)  # fmt: skip
def test_url_mistakes_are_usage_errors(url: str, words: str) -> None:
    with pytest.raises(UsageError) as bad:
        TwilioSms(url, secret=TOKEN)
    assert words in str(bad.value) and TOKEN not in str(bad.value)


# -- as a plan's send target -------------------------------------------------------------
def _send(key: str, to: str, text: str = "提醒") -> Any:
    from deskops.commands.plan import SEND, Change

    after = {"channel": "短信", "to": to, "text": text, "template": "reminder_sms"}
    return Change(f"outbox:{key}", "*", SEND, None, after, "reminder", "")


def test_each_send_goes_once_and_a_refused_one_fails_alone(
    srv: TwilioSmsServer, tmp_path: Path
) -> None:
    from deskops.adapters.store import Store
    from deskops.commands.plan import Plan, check_plan, execute, raise_for

    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    api = sms(srv)
    api.store = store
    targets = {api.backend: api}

    def plan() -> Plan:
        p = Plan(command="reservations remind")
        for c in (_send("remind-A-24h-sms", "13812345678"), _send("remind-B-24h-sms", "12345"),
                  _send("remind-C-24h-sms", "13900001111"),
                  _send("remind-D-24h-sms", "13711112222", "x" * 1601),
                  _send("remind-E-24h-sms", "+86 137 0000 2222")):  # fmt: skip
            c.backend = api.backend
            p.add(c)
        return p

    preview = plan()
    check_plan(preview, store, targets)  # a dry run names what cannot go, asks Twilio nothing
    assert [c.outcome for c in preview.changes] == [
        "planned", "failed", "planned", "failed", "planned"]  # fmt: skip
    assert srv.requests == 0
    first = plan()
    result = execute(first, store, targets, atomic=False)
    assert result.status == "partial" and result.counts == {"applied": 2, "failed": 3}
    assert [m["to"] for m in srv.messages] == ["+8613812345678", "+8613700002222"]
    errors = {c.key: c.error for c in first.changes if c.error}
    assert "'12345' is not a phone number in CN" in errors["remind-B-24h-sms"]
    assert "Twilio error 21610" in errors["remind-C-24h-sms"]
    assert "1601 characters" in errors["remind-D-24h-sms"]
    with pytest.raises(PartialFailure) as partial:
        raise_for(result, "reservations remind")
    assert partial.value.exit_code == 3
    applied = "SELECT target, after FROM journal_entries WHERE outcome = 'applied'"
    sent = {r["target"]: r for r in store.query(applied)}
    a = sent["outbox:remind-A-24h-sms"]["after"]
    assert '"sent_to": "+8613812345678"' in a and f'"sid": "{srv.messages[0]["sid"]}"' in a
    assert '"status": "queued"' in a and '"to": "13812345678"' in a
    dump = "\n".join(str(v) for r in store.query("SELECT * FROM journal_entries")
                     for v in r.values())  # fmt: skip
    assert TOKEN not in dump  # the account SID is no secret: errors name the account
    # the rerun sends nothing that went out; the refused ones are tried again (and refused)
    again = execute(plan(), store, targets, atomic=False)
    assert again.counts == {"skipped": 2, "failed": 3} and len(srv.messages) == 2
    store.close()
    api.close()


def test_registry_and_the_token_from_the_environment(
    srv: TwilioSmsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskops.adapters.registry import resolve
    from deskops.cli.context import Ops

    url = f"twilio+http://{SID}@127.0.0.1:{srv.port}/?from={FROM}"
    assert resolve("sms", url) is TwilioSms
    assert resolve("sms", "twilio+https://AC1@api.twilio.com/?from=+1") is TwilioSms
    with pytest.raises(UsageError, match="no sms adapter for 'aliyun'; known schemes: twilio"):
        resolve("sms", "aliyun://x")
    monkeypatch.setenv("OPS_TWILIO_TOKEN", TOKEN)
    ops = Ops(flags={"profile": "stores-zh"})
    api = fast(ops.backend(f"sms:{url}"))
    assert api.secret == TOKEN and api.region == "CN"
    assert api.post("hi", to="13812345678")["to"] == "+8613812345678"
    api.close()
    ops.close()
