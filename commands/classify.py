"""Tell an inquiry mail's kind for the inquiry lifecycle: A (question) or B (request).

Every inquiry that reaches a reservation inbox is one of two kinds (see
``procedures.md``, profile ``salon-ja``): **A — a plain question**, reported to
the ad agency as an inquiry that did not become a reservation, or **B — a
reservation request that names a concrete date/time**, which gets a reply and
the ``返信待ち`` label. Shifts decide this by eye; this module makes the same
decision repeatable and returns the words that made it, so an agent checks a
phrase instead of trusting a verdict.

Design choices, and why:

- **Precision over recall.** A mail is B only when a concrete date sits right
  next to a time of day ("明日の14時", "3 декабря в 15:00"), or when a concrete
  date comes with booking words ("明日は空いてますか"). A time alone
  ("営業時間は10時から"), a price, a phone or an order number never makes B: a
  false B parks a thread waiting for an answer that never comes and hides a lost
  lead from the agency's report, while a false A is caught when the agent
  replies anyway.
- **Evidence is sliced from the original text.** Matching runs on a copy where
  full-width digits and punctuation are folded to ASCII one character for one,
  so match offsets index the original and the evidence is exactly what the
  customer typed ("１２月５日の１４時半").
- **Words live in per-language tables**; the few regexes are built from them,
  so adding a word is a table edit, not a regex edit.
- **Pure and deterministic**: "today" is the mail's send time in the profile's
  time zone, never the clock, so a replay classifies the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

QUESTION = "question"
RESERVATION_REQUEST = "reservation_request"
LANGUAGES = ("ja", "zh", "ru", "uk", "en")


@dataclass(frozen=True)
class Classification:
    """The verdict plus what it rests on, so a person can check it at a glance.

    Invariant: ``kind == "reservation_request"`` exactly when ``evidence`` is set;
    a question carries no evidence, so callers never mistake a stray date in a
    question for a request.
    """

    kind: str  # "question" | "reservation_request"
    evidence: str | None  # the date/time phrase as written, e.g. "明日の14時"
    when: datetime | None  # evidence resolved to an aware datetime in the profile tz
    has_time: bool  # False: date only, ``when`` is at 00:00
    language: str | None  # "ja" | "zh" | "ru" | "uk" | "en", guessed from the script/words


# --------------------------------------------------------------------------- words
# Data, not code: every list below is plain words per language.

_APOS = "['’ʼ]"  # Ukrainian apostrophe as typed on different keyboards
_CJK_LANGUAGES = frozenset({"ja", "zh"})  # no spaces between words: match as substrings

# Folded one character for one (full-width IME input → ASCII) so offsets stay valid.
_FOLD = str.maketrans("０１２３４５６７８９：／．－　", "0123456789:/.- ")

# word → (days after the send date, period it implies for a bare hour: 今夜8時 = 20:00)
_RELATIVE_DAYS: dict[str, dict[str, tuple[int, str | None]]] = {
    "ja": {
        "今日": (0, None),
        "本日": (0, None),
        "今朝": (0, "am"),
        "今夜": (0, "pm"),
        "今晩": (0, "pm"),
        "明日": (1, None),
        "明朝": (1, "am"),
        "あした": (1, None),
        "明後日": (2, None),
        "あさって": (2, None),
    },
    "zh": {
        "今天": (0, None),
        "今晚": (0, "pm"),
        "明天": (1, None),
        "明晚": (1, "pm"),
        "后天": (2, None),
        "後天": (2, None),
        "大后天": (3, None),
    },
    "ru": {"сегодня": (0, None), "завтра": (1, None), "послезавтра": (2, None)},
    "uk": {"сьогодні": (0, None), "завтра": (1, None), "післязавтра": (2, None)},
    "en": {
        "today": (0, None),
        "tonight": (0, "pm"),
        "tomorrow": (1, None),
        "day after tomorrow": (2, None),
    },
}

# Weekday names of space-separated languages, Monday first, as regex fragments that
# cover the inflected forms ("в пятницу", "у п'ятницю") but not look-alikes
# ("среди", "четверо").
_WEEKDAY_WORDS: dict[str, tuple[str, ...]] = {
    "ru": (
        r"понедельник\w*",
        r"вторник\w*",
        r"сред[аеуы]",
        r"четверг\w*",
        r"пятниц[аеуы]",
        r"суббот[аеуы]",
        r"воскресень[еяю]",
    ),
    "uk": (
        r"понеділ(?:ок|ка|ку)",
        r"вівтор(?:ок|ка|ку)",
        r"серед[аиуі]",
        r"четвер(?:га|гу)?",
        rf"п{_APOS}?ятниц[яюіе]",
        r"субот[аиуі]",
        r"неділ[яюіе]",
    ),
    "en": (
        "monday",
        "tuesday|tues?",
        "wednesday",
        "thursday|thu(?:rs)?",
        "friday|fri",
        "saturday",
        "sunday",
    ),
}
_WEEKDAY_JA = "月火水木金土日"  # 金曜日 / 金曜
_WEEKDAY_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# "来週の火曜", "下周五": which calendar week (Monday first) counted from the send date
_WEEK_OFFSET = {"今週": 0, "来週": 1, "再来週": 2, "这": 0, "這": 0, "本": 0, "下": 1, "下下": 2}

# Month names in the genitive, as they follow a day number ("5 декабря", "5 грудня").
_MONTHS_CYRILLIC: dict[str, tuple[str, ...]] = {
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "uk": (
        "січня",
        "лютого",
        "березня",
        "квітня",
        "травня",
        "червня",
        "липня",
        "серпня",
        "вересня",
        "жовтня",
        "листопада",
        "грудня",
    ),
}
_MONTHS_EN = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

# Part-of-day words → "am" | "pm" | "noon" (noon: 1–6 o'clock are afternoon, 中午1点),
# grouped by where they stand relative to the hour.
_PERIODS_BEFORE: dict[str, str] = {  # ja/zh: 午後2時, 下午三点
    "午前": "am",
    "朝": "am",
    "上午": "am",
    "早上": "am",
    "凌晨": "am",
    "午後": "pm",
    "夕方": "pm",
    "夜": "pm",
    "下午": "pm",
    "晚上": "pm",
    "傍晚": "pm",
    "昼": "noon",
    "中午": "noon",
}
_PERIODS_AFTER: dict[str, str] = {  # ru/uk: в 7 вечера, о 9 ранку
    "утра": "am",
    "ранку": "am",
    "ночи": "am",
    "ночі": "am",
    "дня": "noon",
    "вечера": "pm",
    "вечора": "pm",
}
_PERIODS_BETWEEN: dict[str, str] = {  # "завтра вечером в 7", "tomorrow evening at 7"
    "утром": "am",
    "зранку": "am",
    "днем": "noon",
    "днём": "noon",
    "вдень": "noon",
    "вечером": "pm",
    "ввечері": "pm",
    "morning": "am",
    "afternoon": "pm",
    "evening": "pm",
}
_PERIODS = {**_PERIODS_BEFORE, **_PERIODS_AFTER, **_PERIODS_BETWEEN}

# What may stand between a date and its time for the two to be one phrase:
# particles (の, 的, は), commas, a weekday in brackets "12/5(金)", prepositions.
_CONNECTOR_WORDS = (
    *("в", "во", "о", "об", "около", "близько", "к", "на"),
    *("at", "around", "about", "on", "by", "@"),
    *_PERIODS_BETWEEN,
)
_MAX_GAP = 24

# Booking intent: makes a date without a time a request ("明日は空いてますか").
_INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "ja": ("予約", "空いて", "空き", "可能", "いけますか", "行けますか", "来店"),
    "zh": ("预约", "預約", "可以", "有空", "有位", "空位", "订位", "訂位"),
    "ru": (r"запис\w*", "можно", r"свобод\w*", r"заброниров\w*", r"окошк\w*"),
    "uk": (r"запис\w*", "можна", r"вільн\w*", r"заброню\w*", r"віконц\w*"),
    "en": (r"book\w*", r"appointments?", "available", "availability", r"reserv\w*", r"slots?"),
}

# Right before a date, these make it a reference, not a wish: "заказ от 5 декабря".
_REFERENCE_BEFORE = re.compile(r"(?:№|#|\bno\.|\bот|\bвід|\bdated|\border)\s*$", re.I)

# Numbers as written in ja/zh: 14, 十四, 二十, 三十分, 两点.
_CJK_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4}
_CJK_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM_CHARS = "".join(_CJK_DIGITS) + "十"
_NUM = rf"(?:\d{{1,2}}|[{_NUM_CHARS}]{{1,3}})"


# --------------------------------------------------------------------------- regexes


def _alternation(fragments: Iterable[str]) -> str:
    """Longest first, so "послезавтра" wins over "завтра" where both could start."""
    return "|".join(sorted(set(fragments), key=len, reverse=True))


def _bounded(alternation: str) -> str:
    """Whole words only for spaced scripts: "завтра" must not match in "завтрак"."""
    return rf"(?<![\w'’ʼ])(?:{alternation})(?![\w'’ʼ])"


def _word_regex(table: Mapping[str, Iterable[str]], *, literal: bool) -> re.Pattern[str]:
    """One pattern for all languages: substrings for ja/zh, whole words elsewhere.

    All languages are searched whatever the guessed language, because mails mix
    them (a Japanese mail signed in English, a Russian one quoting a Ukrainian).
    """

    def fragment(word: str) -> str:
        return re.escape(word).replace(r"\ ", r"\s+") if literal else word

    cjk = [fragment(w) for lang in _CJK_LANGUAGES for w in table.get(lang, ())]
    spaced = [
        fragment(w) for lang, words in table.items() if lang not in _CJK_LANGUAGES for w in words
    ]
    return re.compile(f"(?:{_alternation(cjk)})|{_bounded(_alternation(spaced))}", re.I)


_RELATIVE = {w: v for words in _RELATIVE_DAYS.values() for w, v in words.items()}
_RELATIVE_RE = _word_regex(_RELATIVE_DAYS, literal=True)
_INTENT_RE = _word_regex(_INTENT_WORDS, literal=False)

_WEEKDAY_WORD_RE = re.compile(
    "|".join(
        f"(?P<wd{i}>{_bounded(_alternation(names[i] for names in _WEEKDAY_WORDS.values()))})"
        for i in range(7)
    ),
    re.I,
)
_WEEKDAY_JA_RE = re.compile(rf"(?:(?P<wk>再来週|来週|今週)の?)?(?P<d>[{_WEEKDAY_JA}])曜日?")
_WEEKDAY_ZH_RE = re.compile(
    r"(?:(?P<wk>下下|下|这|這|本)[个個]?)?"
    # not 週日: in Japanese that means "weekdays"
    r"(?:(?:星期|礼拜|禮拜|周)(?P<d>[一二三四五六日天])|週(?P<d2>[一二三四五六天]))"
    r"(?![回次度])"  # 週一回, 一周三次: "once a week", "three times a week"
)

_MONTH_CYRILLIC = {m: i + 1 for names in _MONTHS_CYRILLIC.values() for i, m in enumerate(names)}
_MONTH_CYR = _alternation(_MONTH_CYRILLIC)
_MONTH_EN = _alternation([f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS_EN] + ["sept"])
_DAY_EN = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
_YEAR_EN = r"(?:,?\s+(?P<y>\d{4})(?!\d))?"

_YMD_RE = re.compile(  # 2026-12-05, 2026/12/05, 2026.12.05, 2026年12月5日
    r"(?<![\d\-/.])(?P<y>\d{4})\s*(?P<s>[-/.年])\s*(?P<mo>\d{1,2})\s*(?:(?P=s)|月)\s*"
    r"(?P<d>\d{1,2})(?:\s*[日号號])?(?![\d\-/]|\.\d)"
)
_MD_CJK_RE = re.compile(rf"(?<![\d{_NUM_CHARS}])(?P<mo>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号號]")
_D_CJK_RE = re.compile(  # 5日 / 5号, not 3日間, 2日後, 1日中, 3号店, 5号線
    r"(?<![\d月/.\-№#])(?P<d>\d{1,2})\s*[日号號]"
    r"(?![間间以後后前曜中程目ぶ店楼樓館馆室線线车車机機门門口位])"
)
_SLASH_RE = re.compile(  # 12/5, 12/5/2026 (M/D; D/M in ru/uk mails)
    r"(?<![\dA-Za-z/])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])"
)
_DOT_RE = re.compile(  # 05.12, 5.12.2026 (D.M; without a year the month needs 2 digits: not 1.5)
    r"(?<![\dA-Za-z.])(?P<a>\d{1,2})\.(?P<b>\d{1,2})(?:\.(?P<y>\d{4}|\d{2}))?(?!\d|\.\d)"
)
_D_MONTH_CYR_RE = re.compile(  # 5 декабря, 3-го декабря 2026 г., 5 грудня
    rf"(?<!\d)(?P<d>\d{{1,2}})(?:-?(?:го|е|ое|ого))?\s+(?P<mon>{_MONTH_CYR})(?!\w)"
    r"(?:\s+(?P<y>\d{4})(?:\s*(?:года|году|року|г\.|р\.))?)?",
    re.I,
)
_MONTH_D_EN_RE = re.compile(rf"(?<!\w)(?P<mon>{_MONTH_EN})\.?\s+{_DAY_EN}(?!\w){_YEAR_EN}", re.I)
_D_MONTH_EN_RE = re.compile(
    rf"(?<!\w){_DAY_EN}\s+(?:of\s+)?(?P<mon>{_MONTH_EN})\.?(?!\w){_YEAR_EN}", re.I
)

_BEFORE = rf"(?:(?<![今明])(?P<pre>{_alternation(_PERIODS_BEFORE)})\s*)?"
_AFTER = rf"(?:\s*(?P<post>{_alternation(_PERIODS_AFTER)})(?!\w))?"
_AMPM = r"(?:\s*(?P<ampm>[ap])\.?\s?m\.?(?!\w))"
_TIME_RES = (
    # 15:00, 午後2:30, 3:30 pm, 7:00 вечера
    re.compile(
        rf"{_BEFORE}(?<![\d:.])(?P<h>\d{{1,2}}):(?P<m>\d{{2}})(?![\d:]){_AMPM}?{_AFTER}", re.I
    ),
    # 14時, 14時半, 15時30分, 午後2時, 下午三点, 晚上7点, 上午十点 (not 一時的, 1時間)
    re.compile(
        rf"{_BEFORE}(?<![\d{_NUM_CHARS}])(?P<h>{_NUM})\s*(?P<unit>[時时点點])(?![間间的期停休保])"
        rf"[钟鐘]?(?:\s*(?P<half>半)|\s*(?P<m>{_NUM})\s*分)?"
    ),
    # в 15 часов, в 15.00, о 10 годині, в 7 вечера, завтра в 15 (not "в 3 раза")
    re.compile(
        r"(?<!\w)(?:в|во|о|об|к|около|близько|с|з|після|после)\s+(?P<h>\d{1,2})"
        r"(?:[:.](?P<m>\d{2}))?(?!\d)(?:\s*(?:часов|часа|час|ч|годин[іиуа]?|год)\.?(?!\w))?"
        rf"{_AFTER}(?!\s*(?:%|раз|руб|р\.|₽|грн|шт|чел|лет|год|рок|дн|мин|хв|км|м\b))",
        re.I,
    ),
    # at 3pm, 10am, 3 o'clock
    re.compile(rf"(?<![\w:.])(?P<h>\d{{1,2}})(?:{_AMPM}|\s*o{_APOS}clock)", re.I),
    # at 3, at 15 (bare hour, only after "at")
    re.compile(r"(?<!\w)(?:at|@)\s+(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?(?![\w:.%$])", re.I),
)
_GAP_RE = re.compile(
    r"(?:\s|[,、，の的は]|[(（][^()（）\n]{1,8}[)）]"
    rf"|{_bounded(_alternation(map(re.escape, _CONNECTOR_WORDS)))})*",
    re.I,
)
_GAP_PERIOD_RE = re.compile(_bounded(_alternation(_PERIODS_BETWEEN)), re.I)

# Language guessing: the scripts first, then telltale letters and words.
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_JA_ONLY_HAN = re.compile(r"[曜円様込営駅予]")  # shinjitai / Japanese-only usage
_ZH_ONLY_HAN = re.compile(r"[们这个吗呢么请问预约说点号]")  # simplified forms and particles
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_UK_MARKS = re.compile(
    rf"[іїєґ]|[а-я]{_APOS}[а-я]|\b(?:чи|що|можна|дякую|будь|вільн\w*|записатися)\b", re.I
)
_RU_MARKS = re.compile(r"[ыэъё]|\b(?:ли|что|можно|пожалуйста|спасибо|свободн\w*)\b", re.I)


# --------------------------------------------------------------------------- hits


class _Context(NamedTuple):
    today: date  # the send date in the profile time zone
    language: str | None
    says_today: bool  # "今日の金曜" keeps a weekday on today instead of next week


class _DateHit(NamedTuple):
    start: int
    end: int
    day: date
    period: str | None  # implied by the word itself: 今夜 → pm


class _TimeHit(NamedTuple):
    start: int
    end: int
    hour: int
    minute: int
    period: str | None  # written with the time: 午後, pm, вечера


def _number(text: str) -> int | None:
    """ASCII digits or Chinese numerals (十四, 二十, 三十, 两) → int; None if malformed."""
    if text.isascii() and text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1 or "十" in ones:
            return None
        t = _CJK_DIGITS.get(tens) if tens else 1
        o = _CJK_DIGITS.get(ones) if ones else 0
        return None if t is None or o is None else t * 10 + o
    digits = [_CJK_DIGITS.get(c) for c in text]
    if any(d is None for d in digits):
        return None
    return int("".join(str(d) for d in digits))


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _dated(year: str | None, month: int | None, day: int | None, today: date) -> date | None:
    """An explicit year is kept even in the past; without one, the next occurrence.

    Customers leave out the year for the coming weeks; a past explicit date is
    still a concrete date (often a reference to an earlier booking) and is kept.
    """
    if month is None or day is None:
        return None
    if year is not None:
        y = int(year)
        return _safe_date(y + 2000 if y < 100 else y, month, day)
    for y in range(today.year, today.year + 9):  # 9 years reach the next 29 February
        found = _safe_date(y, month, day)
        if found is not None and found >= today:
            return found
    return None


def _day_of_month(day: int, today: date) -> date | None:
    """ "5日" alone: the next 5th on or after the send date."""
    year, month = today.year, today.month
    for _ in range(13):
        found = _safe_date(year, month, day)
        if found is not None and found >= today:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _weekday(index: int, weeks: int | None, ctx: _Context) -> date:
    """A weekday alone is the next one after the send date (today only if the text says so);
    with 来週/下周 it is that day of the given calendar week."""
    if weeks is not None:
        monday = ctx.today - timedelta(days=ctx.today.weekday())
        return monday + timedelta(days=7 * weeks + index)
    ahead = (index - ctx.today.weekday()) % 7
    if ahead == 0 and not ctx.says_today:
        ahead = 7
    return ctx.today + timedelta(days=ahead)


_Resolver = Callable[[re.Match[str], _Context], date | None]


def _relative(m: re.Match[str], ctx: _Context) -> date | None:
    days, _period = _RELATIVE[" ".join(m.group().lower().split())]
    return ctx.today + timedelta(days=days)


def _weekday_word(m: re.Match[str], ctx: _Context) -> date | None:
    assert m.lastgroup is not None  # one of wd0..wd6 matched
    return _weekday(int(m.lastgroup[2:]), None, ctx)


def _weekday_ja(m: re.Match[str], ctx: _Context) -> date | None:
    weeks = _WEEK_OFFSET[m["wk"]] if m["wk"] else None
    return _weekday(_WEEKDAY_JA.index(m["d"]), weeks, ctx)


def _weekday_zh(m: re.Match[str], ctx: _Context) -> date | None:
    day = m["d"] or m["d2"]
    weeks = _WEEK_OFFSET[m["wk"]] if m["wk"] else None
    return _weekday(_WEEKDAY_ZH[day], weeks, ctx)


def _ymd(m: re.Match[str], ctx: _Context) -> date | None:
    return _dated(m["y"], int(m["mo"]), int(m["d"]), ctx.today)


def _md_cjk(m: re.Match[str], ctx: _Context) -> date | None:
    return _dated(None, _number(m["mo"]), _number(m["d"]), ctx.today)


def _d_cjk(m: re.Match[str], ctx: _Context) -> date | None:
    return _day_of_month(int(m["d"]), ctx.today)


def _slash(m: re.Match[str], ctx: _Context) -> date | None:
    """Month first as in Japan, China and the US; day first in Russian/Ukrainian mails."""
    if m.group() == "24/7":  # "open 24/7"
        return None
    first, second = int(m["a"]), int(m["b"])
    month, day = (second, first) if ctx.language in ("ru", "uk") else (first, second)
    return _dated(m["y"], month, day, ctx.today)


def _dot(m: re.Match[str], ctx: _Context) -> date | None:
    if m["y"] is None and len(m["b"]) != 2:  # 1.5 is a number, 05.12 a date
        return None
    return _dated(m["y"], int(m["b"]), int(m["a"]), ctx.today)


def _d_month_cyrillic(m: re.Match[str], ctx: _Context) -> date | None:
    return _dated(m["y"], _MONTH_CYRILLIC[m["mon"].lower()], int(m["d"]), ctx.today)


def _month_en(m: re.Match[str], ctx: _Context) -> date | None:
    name = m["mon"]
    if name.lower() == "may" and not name.startswith("M"):  # "may 3 of us come"
        return None
    month = next(i + 1 for i, full in enumerate(_MONTHS_EN) if full.startswith(name[:3].lower()))
    return _dated(m["y"], month, int(m["d"]), ctx.today)


_DATE_RULES: tuple[tuple[re.Pattern[str], _Resolver], ...] = (
    (_RELATIVE_RE, _relative),
    (_WEEKDAY_WORD_RE, _weekday_word),
    (_WEEKDAY_JA_RE, _weekday_ja),
    (_WEEKDAY_ZH_RE, _weekday_zh),
    (_YMD_RE, _ymd),
    (_MD_CJK_RE, _md_cjk),
    (_D_CJK_RE, _d_cjk),
    (_SLASH_RE, _slash),
    (_DOT_RE, _dot),
    (_D_MONTH_CYR_RE, _d_month_cyrillic),
    (_MONTH_D_EN_RE, _month_en),
    (_D_MONTH_EN_RE, _month_en),
)


def _date_hits(text: str, ctx: _Context) -> list[_DateHit]:
    hits = []
    for pattern, resolve in _DATE_RULES:
        for m in pattern.finditer(text):
            if _REFERENCE_BEFORE.search(text, max(0, m.start() - 12), m.start()):
                continue
            day = resolve(m, ctx)
            if day is not None:
                word = " ".join(m.group().lower().split())
                period = _RELATIVE[word][1] if word in _RELATIVE else None
                hits.append(_DateHit(m.start(), m.end(), day, period))
    return hits


def _time_hits(text: str, ctx: _Context) -> list[_TimeHit]:
    hits = []
    for pattern in _TIME_RES:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            if groups.get("unit") in ("点", "點") and ctx.language == "ja":
                continue  # Japanese 3点 counts items, not hours
            hour = _number(m["h"])
            minute = 30 if groups.get("half") else _number(groups["m"]) if groups.get("m") else 0
            if hour is None or minute is None or hour > 23 or minute > 59:
                continue
            word = groups.get("pre") or (groups.get("post") or "").lower()
            period = _PERIODS.get(word) or (
                {"a": "am", "p": "pm"}.get((groups.get("ampm") or "").lower())
            )
            start = m.start("pre") if groups.get("pre") else m.start("h")
            hits.append(_TimeHit(start, m.end(), hour, minute, period))
    return hits


def _non_overlapping(hits: list[_DateHit | _TimeHit]) -> list[_DateHit | _TimeHit]:
    """Longest reading wins ("2026年12月5日" over "5日"); on a tie a time beats a date
    ("в 10.30" is half past ten, not a date)."""
    chosen: list[_DateHit | _TimeHit] = []
    ranked = sorted(hits, key=lambda h: (h.start - h.end, isinstance(h, _DateHit), h.start))
    for hit in ranked:
        if all(hit.end <= c.start or hit.start >= c.end for c in chosen):
            chosen.append(hit)
    return sorted(chosen, key=lambda h: h.start)


def _joined(text: str, start: int, end: int) -> tuple[bool, str | None]:
    """Whether text[start:end] only links a date and a time, and the period it implies."""
    gap = text[start:end]
    if len(gap) > _MAX_GAP or not _GAP_RE.fullmatch(gap):
        return False, None
    word = _GAP_PERIOD_RE.search(gap)
    return True, _PERIODS[word.group().lower()] if word else None


def _apply_period(hour: int, period: str | None) -> int:
    if period == "pm" and hour < 12:
        return hour + 12
    if period == "noon" and 1 <= hour <= 6:
        return hour + 12
    if period == "am" and hour == 12:
        return 0
    return hour


def _pair(
    text: str, hits: list[_DateHit | _TimeHit]
) -> tuple[_DateHit, _TimeHit, str | None] | None:
    """The first date whose nearest time stands right next to it, after or before.

    The nearest time, not the next hit: in "今日（水曜）の15時" a bracketed weekday
    sits between the date and its time, and the gap check accepts it.
    """
    times = [h for h in hits if isinstance(h, _TimeHit)]
    for day in (h for h in hits if isinstance(h, _DateHit)):
        after = next((t for t in times if t.start >= day.end), None)
        before = next((t for t in reversed(times) if t.end <= day.start), None)
        if after is not None:
            ok, period = _joined(text, day.end, after.start)
            if ok:
                return day, after, period
        if before is not None:
            ok, period = _joined(text, before.end, day.start)
            if ok:
                return day, before, period
    return None


def _aware(day: date, hour: int, minute: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


# --------------------------------------------------------------------------- API


def _guess_language(text: str) -> str | None:
    """The mail's language from its script, then from telltale letters and words.

    Only two decisions depend on it (12/5 is day-first in ru/uk; 3点 is not a time
    in ja), plus it is reported, so a rough guess is enough.
    """
    if _KANA_RE.search(text):
        return "ja"
    if _HAN_RE.search(text):
        ja, zh = len(_JA_ONLY_HAN.findall(text)), len(_ZH_ONLY_HAN.findall(text))
        return "ja" if ja > zh else "zh"
    cyrillic, latin = len(_CYRILLIC_RE.findall(text)), len(_LATIN_RE.findall(text))
    if cyrillic and cyrillic >= latin:
        uk, ru = len(_UK_MARKS.findall(text)), len(_RU_MARKS.findall(text))
        return "uk" if uk > ru else "ru"
    return "en" if latin else None


def _language(text: str, language: str | None) -> str | None:
    if language is None:
        return _guess_language(text)
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r} (use one of {', '.join(LANGUAGES)})")
    return language


def find_datetime(
    text: str, sent_at: datetime, tz: tzinfo, language: str | None = None
) -> tuple[str, datetime, bool] | None:
    """The first date+time phrase (else the first date) as (evidence, when, has_time).

    Relative words and weekdays resolve against ``sent_at`` in ``tz`` — the day
    the customer wrote, where they live — not against when we read the mail. A
    naive ``sent_at`` is taken as already in ``tz``.
    """
    lang = _language(text, language)
    folded = text.translate(_FOLD)
    local = sent_at.replace(tzinfo=tz) if sent_at.tzinfo is None else sent_at.astimezone(tz)
    says_today = any(
        _RELATIVE[" ".join(m.group().lower().split())][0] == 0
        for m in _RELATIVE_RE.finditer(folded)
    )
    ctx = _Context(local.date(), lang, says_today)
    hits = _non_overlapping([*_date_hits(folded, ctx), *_time_hits(folded, ctx)])
    paired = _pair(folded, hits)
    if paired is not None:
        day, clock, gap_period = paired
        start, end = min(day.start, clock.start), max(day.end, clock.end)
        hour = _apply_period(clock.hour, clock.period or gap_period or day.period)
        return text[start:end], _aware(day.day, hour, clock.minute, tz), True
    first = next((h for h in hits if isinstance(h, _DateHit)), None)
    if first is None:
        return None
    return text[first.start : first.end], _aware(first.day, 0, 0, tz), False


def classify(
    text: str, sent_at: datetime, tz: tzinfo, *, language: str | None = None
) -> Classification:
    """A or B for one inquiry mail's plain-text body.

    B (reservation request) when a concrete date stands with a time of day, or a
    concrete date comes with booking words; A (question) otherwise — including a
    time without a date, since "10時から" alone names no slot to hold.
    """
    lang = _language(text, language)
    found = find_datetime(text, sent_at, tz, lang)
    if found is not None:
        evidence, when, has_time = found
        if has_time or _INTENT_RE.search(text.translate(_FOLD)):
            return Classification(RESERVATION_REQUEST, evidence, when, has_time, lang)
    return Classification(QUESTION, None, None, False, lang)
