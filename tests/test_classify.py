"""Inquiry kind A (question) vs B (reservation request with a concrete date/time).

All cases are written as if sent on Wednesday 2026-11-25 10:00 in the salon-ja
profile's time zone, so relative words and weekdays have one right answer.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from deskops.commands.classify import (
    QUESTION,
    RESERVATION_REQUEST,
    Classification,
    classify,
    find_datetime,
)

TZ = ZoneInfo("Asia/Tokyo")  # fixtures/profiles/salon-ja.toml
SENT = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # a Wednesday


# (text, evidence as written, resolved local time "YYYY-MM-DD HH:MM", has_time)
REQUESTS = [
    # the brief's must-pass cases
    ("明日の14時は空いてますか", "明日の14時", "2026-11-26 14:00", True),
    ("3 декабря в 15:00 можно?", "3 декабря в 15:00", "2026-12-03 15:00", True),
    ("12月5日下午三点可以预约吗", "12月5日下午三点", "2026-12-05 15:00", True),
    ("чи можна записатися на п'ятницю о 10:30", "п'ятницю о 10:30", "2026-11-27 10:30", True),
    ("Can I book Friday at 3pm?", "Friday at 3pm", "2026-11-27 15:00", True),
    # Japanese
    ("１２月５日の１４時半に予約できますか", "１２月５日の１４時半", "2026-12-05 14:30", True),
    ("明後日の午後2時に伺いたいです", "明後日の午後2時", "2026-11-27 14:00", True),
    ("12/5(土) 15:00から空いてますか", "12/5(土) 15:00", "2026-12-05 15:00", True),
    ("来週の火曜15時30分でお願いします", "来週の火曜15時30分", "2026-12-01 15:30", True),
    ("金曜日の夜7時は可能ですか", "金曜日の夜7時", "2026-11-27 19:00", True),
    ("2026年12月5日 10:00 予約希望", "2026年12月5日 10:00", "2026-12-05 10:00", True),
    ("5日の11時に予約したいです", "5日の11時", "2026-12-05 11:00", True),
    ("今日の16時に空きはありますか", "今日の16時", "2026-11-25 16:00", True),
    ("今夜8時は空いてますか", "今夜8時", "2026-11-25 20:00", True),
    ("明朝10時に予約できますか", "明朝10時", "2026-11-26 10:00", True),
    ("十二月五日十四時に予約可能ですか", "十二月五日十四時", "2026-12-05 14:00", True),
    # a weekday alone is the next one, not today
    ("水曜日の15時は空いてますか", "水曜日の15時", "2026-12-02 15:00", True),
    # Chinese
    ("明天下午3点半有空吗", "明天下午3点半", "2026-11-26 15:30", True),
    ("下周五上午十点可以吗", "下周五上午十点", "2026-12-04 10:00", True),
    ("后天晚上7点能预约吗", "后天晚上7点", "2026-11-27 19:00", True),
    ("星期六上午十点可以预约吗", "星期六上午十点", "2026-11-28 10:00", True),
    ("今晚7点有位吗", "今晚7点", "2026-11-25 19:00", True),
    # Russian
    ("Можно записаться завтра в 15 часов?", "завтра в 15 часов", "2026-11-26 15:00", True),
    ("Хочу записаться на 05.12 в 12:00", "05.12 в 12:00", "2026-12-05 12:00", True),
    ("5.12.2026 в 18:30 свободно?", "5.12.2026 в 18:30", "2026-12-05 18:30", True),
    ("Запишите меня в пятницу в 7 вечера", "пятницу в 7 вечера", "2026-11-27 19:00", True),
    ("завтра вечером в 7 можно?", "завтра вечером в 7", "2026-11-26 19:00", True),
    ("в 10.30 завтра можно?", "10.30 завтра", "2026-11-26 10:30", True),
    # Ukrainian
    ("Чи вільно 5 грудня о 10 годині?", "5 грудня о 10 годині", "2026-12-05 10:00", True),
    ("Можна на післязавтра о 14:00?", "післязавтра о 14:00", "2026-11-27 14:00", True),
    ("Можна у п’ятницю о 9 ранку?", "п’ятницю о 9 ранку", "2026-11-27 09:00", True),
    # English
    ("Is Dec 5 at 10am available?", "Dec 5 at 10am", "2026-12-05 10:00", True),
    (
        "I'd like an appointment on 5 December at 3:30 pm",
        "5 December at 3:30 pm",
        "2026-12-05 15:30",
        True,
    ),
    ("Is 3pm tomorrow OK?", "3pm tomorrow", "2026-11-26 15:00", True),
    ("Friday, 3:30 p.m.?", "Friday, 3:30 p.m.", "2026-11-27 15:30", True),
    # an explicit year is kept even when it is already past
    ("2026/11/20 14:00に予約した件です", "2026/11/20 14:00", "2026-11-20 14:00", True),
    # without a year, a passed day means next year
    ("11月20日14時は空いてますか", "11月20日14時", "2027-11-20 14:00", True),
    # a date without a time is a request only with booking words
    ("明日は空いてますか", "明日", "2026-11-26 00:00", False),
    ("В субботу можно записаться?", "субботу", "2026-11-28 00:00", False),
]

QUESTIONS = [
    ("料金はいくらですか", "ja"),
    ("Сколько стоит доставка?", "ru"),
    ("请问染发多少钱？", "zh"),
    ("Скільки коштує стрижка?", "uk"),
    ("What are your opening hours? We open at 10am", "en"),  # a time without a date
    ("営業時間は10時からですか", "ja"),  # a time span, no date
    ("カットは3000円ですか？予約は必要ですか", "ja"),  # a price
    ("090-1234-5678に電話をください。予約したいです", "ja"),  # a phone number
    ("Заказ № 12345, можно узнать статус?", "ru"),  # an order number
    ("Заказ от 5 декабря, можно вернуть?", "ru"),  # a reference date, not a wish
    ("明日は営業していますか", "ja"),  # a date, but no booking words
    ("3日間で届きますか", "ja"),  # a duration, not the 3rd
    ("一時的に休業していますか", "ja"),  # 一時 = "temporarily", not 1 o'clock
    ("このセットは3点で5000円ですか", "ja"),  # 3点 = three items in Japanese
    ("毎週一回予約できますか", "ja"),  # once a week, not Monday
    ("Работаете 24/7? Можно?", "ru"),
    ("Приду 1.5 часа можно?", "ru"),  # a decimal, not 1 May
    ("May I bring 2 friends?", "en"),  # the verb, not the month
]


def _local(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(("text", "evidence", "when", "has_time"), REQUESTS)
def test_reservation_requests(text: str, evidence: str, when: str, has_time: bool) -> None:
    result = classify(text, SENT, TZ)
    assert result.kind == RESERVATION_REQUEST
    assert result.evidence == evidence
    assert evidence in text  # exactly as written, full-width digits included
    assert _local(result.when) == when
    assert result.when is not None and result.when.tzinfo is TZ
    assert result.has_time is has_time


@pytest.mark.parametrize(("text", "language"), QUESTIONS)
def test_questions(text: str, language: str) -> None:
    assert classify(text, SENT, TZ) == Classification(QUESTION, None, None, False, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("明日の14時は空いてますか", "ja"),
        ("2026年12月5日 10:00 予約希望", "ja"),  # no kana, but Japanese kanji
        ("12月5日下午三点可以预约吗", "zh"),
        ("3 декабря в 15:00 можно?", "ru"),
        ("чи можна записатися на п'ятницю о 10:30", "uk"),
        ("Can I book Friday at 3pm?", "en"),
        ("12/5 14:00", None),
    ],
)
def test_language_guess(text: str, language: str | None) -> None:
    assert classify(text, SENT, TZ).language == language


def test_language_decides_slash_order() -> None:
    assert _local(classify("12/5 14:00", SENT, TZ).when) == "2026-12-05 14:00"
    ru = classify("12/5 14:00", SENT, TZ, language="ru")  # day first
    assert (ru.language, _local(ru.when)) == ("ru", "2027-05-12 14:00")


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        classify("明日の14時", SENT, TZ, language="de")


def test_today_is_the_send_date_in_the_profile_zone() -> None:
    # 20:00 UTC on the 25th is already 05:00 on the 26th in Tokyo
    sent_utc = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert _local(classify("明日の14時は空いてますか", sent_utc, TZ).when) == "2026-11-27 14:00"


def test_naive_sent_at_is_taken_as_local() -> None:
    naive = datetime(2026, 11, 25, 10, 0)
    assert classify("明日の14時", naive, TZ) == classify("明日の14時", SENT, TZ)


def test_weekday_is_today_only_when_the_text_says_so() -> None:
    result = classify("今日（水曜）の15時は空いてますか", SENT, TZ)
    assert (result.evidence, _local(result.when)) == ("今日（水曜）の15時", "2026-11-25 15:00")


def test_find_datetime_reports_a_date_even_without_intent() -> None:
    found = find_datetime("明日は営業していますか", SENT, TZ)
    assert found is not None
    evidence, when, has_time = found
    assert (evidence, _local(when), has_time) == ("明日", "2026-11-26 00:00", False)
    assert find_datetime("料金はいくらですか", SENT, TZ) is None


def test_classification_is_frozen() -> None:
    result = classify("料金はいくらですか", SENT, TZ)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.kind = RESERVATION_REQUEST  # type: ignore[misc]
