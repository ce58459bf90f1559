"""ops calls fetch against local sipuni and Twilio contract servers (tools/contract_calls.py):
the signed form, one request per day, paging, retries on 429/503, broken answers, and
idempotency — through the CLI and the adapter registry."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_calls import SipuniServer, TwilioServer  # noqa: E402

from deskops.adapters.callapis import SipuniCalls, TwilioCalls  # noqa: E402
from deskops.adapters.errors import AuthError, BackendUnreachable, OpsError  # noqa: E402
from deskops.commands.clock import zone  # noqa: E402
from deskops.fixtures import FIXTURES_DIR  # noqa: E402

TOYS = str(FIXTURES_DIR / "profiles" / "toys-ru.toml")
MSK = zone("Europe/Moscow")
ROWS = [
    "Входящий;Не отвечен;12.01.2026 10:15:02;8-800 Игромир;;79161234567;78001000000;;25;0;;;0",
    "Исходящий;Отвечен;12.01.2026 11:00:00;;74951000000;201 (Смирнова Анна);79161234567;"
    "79161234567;95;80;15;rec1;2,40",
    "Входящий;Не отвечен;13.01.2026 09:30:00;8-800 Партнёры;;79260001122;78002000000;;15;0;;;0",
    "Входящий;Отвечен;14.01.2026 09:30:00;8-800 Партнёры;;79260001122;78002000000;"
    "203 (Попова Ольга);70;61;9;rec4;9,00",
    "Входящий;Отвечен;14.01.2026 10:00:00;8-800 Партнёры;;79260001122;;;x;61;9;rec5;9,00",
]


def fast(api: Any) -> Any:
    api.backoff, api.max_wait, api.sleep = 0.0, 0.0, lambda s: None
    return api


def test_sipuni_signed_form_one_request_per_day() -> None:
    with SipuniServer(ROWS, user="012345", secret="s3cret") as srv:
        api = fast(SipuniCalls(f"sipuni+{srv.url}".replace("://", "://012345@"), secret="s3cret"))
        got = list(api.calls(date(2026, 1, 12), date(2026, 1, 14), tz=MSK, region="RU"))
        assert srv.requests == 3 and api.requests == 3
        good = [r for _, r in got if isinstance(r, dict)]
        bad = [(w, r) for w, r in got if not isinstance(r, dict)]
        assert len(good) == 4 and good[0]["number"] == "+79161234567"
        assert (
            bad[0][0] == "2026-01-14 line 3"
            and "field Длительность звонка: 'x' is not a number" in bad[0][1].message
        )
        srv.fail_next(2, status=503)
        list(api.calls(date(2026, 1, 12), date(2026, 1, 12), tz=MSK, region="RU"))
        assert srv.sent_503 == 2
        wrong = fast(SipuniCalls(f"sipuni+{srv.url}".replace("://", "://012345@"), secret="x"))
        with pytest.raises(AuthError, match="wrong hash"):
            list(wrong.calls(date(2026, 1, 12), date(2026, 1, 12), tz=MSK, region="RU"))
        srv.malformed_next()
        with pytest.raises(OpsError, match="export of 2026-01-12: not a call log"):
            list(api.calls(date(2026, 1, 12), date(2026, 1, 12), tz=MSK, region="RU"))


def twilio_calls(n: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        at = start + timedelta(minutes=7 * i)
        out.append({
            "sid": f"CA{i:032d}", "parent_call_sid": None, "direction": "inbound",
            "from": f"+1415555{i % 50:04d}", "to": "+14155550199",
            "status": "no-answer" if i % 3 == 0 else "completed",
            "start_time": at.strftime("%a, %d %b %Y %H:%M:%S +0000"), "duration": str(i % 300),
            "price": "-0.0085", "price_unit": "USD",
        })  # fmt: skip
    return out


def test_twilio_pages_retries_and_day_window() -> None:
    calls = twilio_calls(2500)  # 12 Jan 06:00 UTC … about 12 days
    with TwilioServer(calls, sid="AC123", token="tok") as srv:
        api = fast(TwilioCalls(f"twilio+{srv.url}".replace("://", "://AC123@"), secret="tok"))
        api.page_size = 400
        srv.fail_next(1, status=429, retry_after=0)
        got = [r for _, r in api.calls(date(2026, 1, 12), date(2026, 1, 14), tz=zone("UTC"),
                                       region="US")]  # fmt: skip
        days = {r["started_at"][:10] for r in got}
        assert days == {"2026-01-12", "2026-01-13", "2026-01-14"}
        expected = [c for c in calls if c["start_time"][5:16] in
                    ("12 Jan 2026", "13 Jan 2026", "14 Jan 2026")]  # fmt: skip
        assert len(got) == len(expected)
        assert srv.sent_429 == 1 and srv.requests >= 3  # paged, one retry
        srv.fail_page(1, status=500)
        with pytest.raises(OpsError, match="HTTP 500"):
            list(api.calls(date(2026, 1, 12), date(2026, 1, 14), tz=zone("UTC"), region="US"))
        srv.fail_next(5, status=503)
        with pytest.raises(BackendUnreachable, match="gave up after 5 attempts"):
            list(api.calls(date(2026, 1, 12), date(2026, 1, 12), tz=zone("UTC"), region="US"))
        bad = fast(TwilioCalls(f"twilio+{srv.url}".replace("://", "://AC123@"), secret="no"))
        with pytest.raises(AuthError, match="Authenticate"):
            list(bad.calls(date(2026, 1, 12), date(2026, 1, 12), tz=zone("UTC"), region="US"))


def test_fetch_through_the_cli(cli, monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    monkeypatch.setenv("OPS_NOW", "2026-01-15T09:00:00+03:00")
    with SipuniServer(ROWS, user="012345", secret="s3cret") as srv:
        url = f"sipuni+{srv.url}".replace("://", "://012345@")
        r = cli("-p", TOYS, "calls", "fetch", "--since", "2026-01-12", "--calls", url)
        assert r.code == 4 and "OPS_SIPUNI_SECRET" in r.err  # no secret: an auth error
        monkeypatch.setenv("OPS_SIPUNI_SECRET", "s3cret")
        r = cli("-p", TOYS, "calls", "fetch", "--since", "2026-01-12", "--calls", url,
                "-o", "jsonl")  # fmt: skip
        assert r.code == 3, r.err  # one broken row
        row = json.loads(r.out)
        assert (row["created"], row["present"], row["rejected"]) == (4, 0, 1)
        assert "2026-01-14 line 3" in r.err and "4 request(s)" in r.err  # 12th … 15th
        monkeypatch.setenv("OPS_CALLS_URL", url)
        again = cli("-p", TOYS, "calls", "fetch", "--since", "2026-01-12", "-o", "jsonl")
        assert json.loads(again.out)["created"] == 0
        missed = cli("-p", TOYS, "calls", "missed", "--since", "2026-01-12", "--all", "-o",
                     "jsonl")  # fmt: skip
        rows = {json.loads(x)["number"]: json.loads(x) for x in missed.out.splitlines()}
        assert rows["+79161234567"]["status"] == "handled"
        assert rows["+79260001122"]["talked"] == "Попова Ольга"


def test_fetch_needs_a_url(cli) -> None:
    r = cli("-p", TOYS, "calls", "fetch", "--since", "yesterday")
    assert r.code == 2 and "give --calls URL" in r.err
    r = cli("-p", TOYS, "calls", "fetch", "--since", "yesterday", "--calls", "ftp://x")
    assert r.code == 2 and "known schemes: sipuni+http" in r.err
