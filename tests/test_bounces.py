"""Bounce reading on the shapes real MTAs produce, typo fixes, phone numbers.

The ``tests/data/bounces`` mails are built after RFC 3464 and the public
descriptions of each MTA's wording (Postfix, Gmail, Exchange, Exim, qmail,
Sendmail, docomo/au/SoftBank, Yandex, Mail.ru, NetEase, Tencent); the demo
bounces in ``fixtures/`` must be read too.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from deskops.commands.bounces import (
    WELL_KNOWN_DOMAINS,
    Bounce,
    is_bounce,
    parse_bounce,
    phones_in,
    suggest_address,
)

DATA = Path(__file__).parent / "data" / "bounces"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parsed(raw: bytes) -> Bounce:
    bounce = parse_bounce(raw)
    assert bounce is not None
    return bounce


# --------------------------------------------------------------------------
# Constructed bounces, one per MTA style
# --------------------------------------------------------------------------

# file, recipient, status, style, original Message-ID, original subject
CASES = [
    (
        "postfix_multi.eml",
        "misaki.sasaki-77@yahoo.co.jp",
        "5.2.2",
        "postfix",
        "20260120110240.5c0ffee@waraku-seitai.example",
        "ご予約確定のお知らせ（和楽 新宿店）",
    ),
    (
        "gmail_en.eml",
        "olga.smirnova@yandex.ry",
        "5.1.2",
        "gmail",
        "CAF4rT9xQm3Lw7p2ZsT0VhRkD1oN5eYbUu8iG@mail.gmail.com",
        "Заказ №481377 собран",
    ),
    (
        "exchange_online.eml",
        "dmitry.orlov@stroy-partner.example",
        "5.1.10",
        "exchange",
        "20260115111955.77AA1@konstruktor-pro.example",
        "Re: Заказ №481302",
    ),
    (
        "exchange_ja.eml",
        "yuko.tanaka@hoshino-trading.example.co.jp",
        "5.1.1",
        "exchange",
        "20260116.0930.ab12@waraku-seitai.example",
        "予約の確認",
    ),
    (
        "exim_two.eml",
        "natalia.koval@ukr.nte",
        "5.1.2",
        "exim",
        "20260114154001.3F2E1@dobryi-lik.example",
        "Ваше замовлення №100005077",
    ),
    (
        "qmail_two.eml",
        "a.belova@rambler.ru",
        "5.7.1",
        "qmail",
        "20260119103110.A1B2@malysh-market.example",
        "Order 481390: pick-up point storage ends soon",
    ),
    (
        "sendmail_plain.eml",
        "k.suzuki@example-sangyo.co.jp",
        "5.1.1",
        "sendmail",
        "202601170203.40H2a0xx001230@labelworks.example",
        "License key for LW-500",
    ),
    (
        "sendmail_dsn.eml",
        "hikari.m-0301@docomo.ne.jp",
        "5.2.0",
        "sendmail",
        "202601180823.40I8N1ql028769@waraku-seitai.example",
        "ご予約の確認",
    ),
    (
        "docomo_freetext.eml",
        "hanako.0707-sakura@docomo.ne.jp",
        "5.1.1",
        "docomo",
        "20260121180211.d0c0m0@waraku-seitai.example",
        "予約の確認",
    ),
    (
        "au_ezweb.eml",
        "ryo-n.baseball88@ezweb.ne.jp",
        "5.1.1",
        "au",
        "20260122122800.au01@waraku-seitai.example",
        "ご予約の変更",
    ),
    ("au_mailbox_full.eml", "momo.k_1225@au.com", "5.2.2", "au", None, None),
    (
        "softbank_dsn.eml",
        "s.tanaka-0312@i.softbank.jp",
        "5.1.1",
        "softbank",
        "20260124100500.sb01@waraku-seitai.example",
        "ご予約の確認（和楽 梅田店）",
    ),
    (
        "yandex_ru.eml",
        "ivan.petrov@bk.ru",
        "5.0.0",
        "yandex",
        "1769339527.ab12cd@mail.yandex.ru",
        "Заказ N481420: подтвердите доставку",
    ),
    (
        "mailru_ru.eml",
        "petrova.anna@list.ry",
        "5.1.2",
        "mailru",
        "20260126163958.4A5B@konstruktor-pro.example",
        "Заказ №481433 передан курьеру",
    ),
    (
        "netease_zh.eml",
        "liu.fang1990@qq.cm",
        "5.1.2",
        "netease",
        "3c2b1a09.1769480420@163.com",
        "【悦禾养生】预约确认通知 YX2601270002",
    ),
    (
        "qq_exmail_html.eml",
        "chen.jing88@foxmail.con",
        "5.1.2",
        "qq",
        None,
        "【悦禾养生】预约提醒 YX2601280011",
    ),
    (
        "dsn_base64.eml",
        "ito.ken@gmail.co",
        "5.1.2",
        "rfc3464",
        "b64.orig@labelworks.example",
        "Your ticket #1024",
    ),
]


@pytest.mark.parametrize(("name", "recipient", "status", "style", "mid", "subject"), CASES)
def test_bounce_styles(
    name: str, recipient: str, status: str, style: str, mid: str | None, subject: str | None
) -> None:
    raw = load(name)
    assert is_bounce(raw)
    bounce = parsed(raw)
    assert bounce.recipient == recipient
    assert bounce.status == status
    assert bounce.style == style
    assert bounce.original_message_id == mid
    assert bounce.original_subject == subject
    assert bounce.reason and "\n" not in bounce.reason


def test_first_failed_recipient_wins_over_relayed_one() -> None:
    bounce = parsed(load("postfix_multi.eml"))
    assert bounce.recipient == "misaki.sasaki-77@yahoo.co.jp"  # not the relayed shinjuku@
    assert bounce.reason == "554 5.2.2 mailbox full"


def test_qmail_reason_is_the_block_of_the_first_recipient() -> None:
    bounce = parsed(load("qmail_two.eml"))
    assert "Mailbox a.belova@rambler.ru is disabled" in (bounce.reason or "")
    assert "no mailbox here" not in (bounce.reason or "")


def test_exim_uses_x_failed_recipients_and_the_indented_reason() -> None:
    bounce = parsed(load("exim_two.eml"))
    assert bounce.reason == "Unrouteable address"
    # The copy was quoted as raw UTF-8 under a us-ascii label: still readable.
    assert "Наталіє" in (bounce.original_text or "")


def test_sendmail_reason_comes_from_the_reason_line() -> None:
    bounce = parsed(load("sendmail_plain.eml"))
    assert bounce.reason == "550 5.1.1 <k.suzuki@example-sangyo.co.jp>... User unknown"
    assert bounce.original_text == (
        "Dear Mr. Suzuki,\nyour license key is attached. Support line: 0120-123-456."
    )


def test_exchange_reason_is_the_remote_server_answer() -> None:
    online = parsed(load("exchange_online.eml"))
    assert online.reason is not None and "RESOLVER.ADR.RecipientNotFound" in online.reason
    ja = parsed(load("exchange_ja.eml"))
    assert ja.reason == "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"


def test_carrier_bounces_without_codes_get_an_inferred_status() -> None:
    docomo = parsed(load("docomo_freetext.eml"))
    assert docomo.reason is not None and "存在しない" in docomo.reason
    au = parsed(load("au_mailbox_full.eml"))
    assert (au.status, au.reason) == ("5.2.2", "As their mailbox is full.")


def test_chinese_notices_give_reason_and_subject_from_labels() -> None:
    qq = parsed(load("qq_exmail_html.eml"))  # HTML only, GB18030
    assert qq.reason == "收件人域名不存在，请检查邮件地址是否正确。"
    netease = parsed(load("netease_zh.eml"))
    assert netease.reason == "收件人域名不存在（550 5.1.2 Domain not found）"


@pytest.mark.parametrize(
    ("name", "region", "phone"),
    [
        ("postfix_multi.eml", "JP", "+818044112398"),
        ("gmail_en.eml", "RU", "+79161234567"),
        ("exim_two.eml", "UA", "+380671234567"),
        ("qmail_two.eml", "RU", "+74957654321"),
        ("docomo_freetext.eml", "JP", "+819022334455"),
        ("au_ezweb.eml", "JP", "+818098765432"),
        ("yandex_ru.eml", "RU", "+79261112233"),
        ("mailru_ru.eml", "RU", "+79037654321"),
        ("netease_zh.eml", "CN", "+8613912345678"),
    ],
)
def test_phone_numbers_in_the_returned_original(name: str, region: str, phone: str) -> None:
    bounce = parsed(load(name))
    assert phone in phones_in(bounce.original_text or "", region)


# --------------------------------------------------------------------------
# Demo bounces in fixtures/
# --------------------------------------------------------------------------

FIXTURE_CASES = [
    ("salon-ja/mail/reservation1/0029.eml", "smilestar-yok89@ezweb.ne.jp", "5.1.1", "au"),
    ("salon-ja/mail/reservation1/0036.eml", "aya-smile.0125@docomo.ne.jp", "5.1.1", "gmail"),
    ("salon-ja/mail/reservation1/0068.eml", "yuichio735@gmail.con", "5.1.2", "gmail"),
    ("salon-ja/mail/reservation1/0075.eml", "yamashita-mariko73@softbank.ne.jp", "5.1.1", "gmail"),
    ("salon-ja/mail/reservation1/0102.eml", "naoki.sato8@example.ne.jp", "5.1.1", "qmail"),
    ("salon-ja/mail/reservation1/0108.eml", "nyanlemon-har53@docomo.ne.jo", "5.1.2", "gmail"),
    ("salon-ja/mail/reservation1/0134.eml", "yamaguchi-rie96@.au.com", "5.1.3", "gmail"),
    ("support-ja/mail/support/0014.eml", "maedak9@example.com", "5.4.4", "postfix"),
    ("stores-zh/mail/kefu/0001.eml", "13315579765@example.cm", "5.4.4", "postfix"),
    ("toys-ru/mail/konstruktor-pro/0005.eml", "mariya.ilina@gmail.con", "5.1.1", "postfix"),
    ("toys-ru/mail/malysh-market/0009.eml", "gorbunova.v@example.ry", "5.1.2", "generic"),
    ("toys-ru/mail/malysh-market/0015.eml", "ikudryavtsev@exmaple.ru", "5.1.2", "qmail"),
    ("pharmacy-uk/mail/info/0027.eml", "oleksandr89@exmaple.ua", "5.1.2", "postfix"),
    ("pharmacy-uk/mail/info/0032.eml", "kdovhan.ua@ukr.example.ua", "5.1.1", "exim"),
]


@pytest.mark.parametrize(("path", "recipient", "status", "style"), FIXTURE_CASES)
def test_demo_bounces(path: str, recipient: str, status: str, style: str) -> None:
    raw = (FIXTURES / path).read_bytes()
    assert is_bounce(raw)
    bounce = parsed(raw)
    assert (bounce.recipient, bounce.status, bounce.style) == (recipient, status, style)
    assert bounce.original_message_id and bounce.original_subject and bounce.reason


def test_no_other_demo_mail_is_taken_for_a_bounce() -> None:
    found = {
        str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.eml") if is_bounce(p.read_bytes())
    }
    assert found == {path for path, *_ in FIXTURE_CASES}


def test_salon_procedure_typo_fix_and_phone_from_demo_bounce() -> None:
    """salon-ja: fix "@.au.com" and resend, or call the number in the inquiry."""
    bounce = parsed((FIXTURES / "salon-ja/mail/reservation1/0134.eml").read_bytes())
    assert suggest_address(bounce.recipient or "") == "yamaguchi-rie96@au.com"
    assert "+818050828220" in phones_in(bounce.original_text or "", "JP")

    docomo = parsed((FIXTURES / "salon-ja/mail/reservation1/0108.eml").read_bytes())
    assert suggest_address(docomo.recipient or "") == "nyanlemon-har53@docomo.ne.jp"
    # A real but unknown address is no typo: nothing to fix, call instead.
    real = parsed((FIXTURES / "salon-ja/mail/reservation1/0036.eml").read_bytes())
    assert suggest_address(real.recipient or "") is None


# --------------------------------------------------------------------------
# Not bounces
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "not_reply_quoting.eml",  # "Re: Mail delivery failed" from a customer
        "not_out_of_office.eml",  # Auto-Submitted: auto-replied, Japanese subject
        "not_out_of_office_ru.eml",  # "Автоответ: Не доставлено"
        "not_newsletter.eml",  # HTML newsletter mentioning "Delivery failed?"
        "not_read_receipt.eml",  # multipart/report; report-type=disposition-notification
        "not_customer_asks.eml",  # "Письмо не доставлено?" written by a person
    ],
)
def test_not_a_bounce(name: str) -> None:
    raw = load(name)
    assert not is_bounce(raw)
    assert parse_bounce(raw) is None


def test_success_report_from_mailer_daemon_is_not_a_bounce() -> None:
    raw = load("not_success_dsn.eml")
    assert is_bounce(raw)  # the cheap check sees MAILER-DAEMON ...
    assert parse_bounce(raw) is None  # ... the report says "relayed"


@pytest.mark.parametrize(
    ("subject", "extra", "expected"),
    [
        ("Undelivered Mail Returned to Sender", "", True),
        ("Undeliverable: ご予約の確認", "", True),
        ("Mail delivery failed: returning message to sender", "", True),
        ("failure notice", "", True),
        ("=?UTF-8?B?0J3QtdC00L7RgdGC0LDQstC70LXQvdC90L7QtSDRgdC+0L7QsdGJ0LXQvdC40LU=?=", "", True),
        ("=?UTF-8?B?57O757uf6YCA5L+h?=", "", True),  # 系统退信
        ("Delivery Status Notification (Success)", "", False),
        ("Re: Undelivered Mail Returned to Sender", "", False),
        ("Fwd: failure notice", "", False),
        ("=?UTF-8?B?6YWN5L+h44Ko44Op44O844Gr44Gk44GE44Gm?=", "", False),  # 配信エラーについて
        (
            "=?UTF-8?B?6YWN5L+h44Ko44Op44O844Gr44Gk44GE44Gm?=",
            "Auto-Submitted: auto-generated\n",
            True,
        ),
        ("=?UTF-8?B?5pyq6YWN6YGU44Oh44O844Or?=", "Return-Path: <>\n", True),  # 未配達メール
        ("Сообщение не доставлено", "Auto-Submitted: auto-replied\n", True),
        ("Сообщение не доставлено", "", False),
        ("Order shipped", "X-Failed-Recipients: a@b.example\n", True),
    ],
)
def test_is_bounce_on_headers(subject: str, extra: str, expected: bool) -> None:
    raw = (
        f"From: Someone <someone@shop.example>\nTo: me@shop.example\n{extra}"
        f"Subject: {subject}\n\nbody\n"
    ).encode()
    assert is_bounce(raw) is expected


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example",
        "Mail Delivery System <Mailer-Daemon@relay.example>",
        "Postmaster@ezweb.ne.jp",
        "MAILER-DAEMON (Mail Delivery System)",
    ],
)
def test_mailer_daemon_sender_is_enough(sender: str) -> None:
    assert is_bounce(f"From: {sender}\nSubject: hello\n\nx\n".encode())


def test_is_bounce_reads_headers_only() -> None:
    head = load("gmail_en.eml").split(b"\n\n", 1)[0] + b"\n\n"
    assert is_bounce(head)
    assert is_bounce(head + b"\x00\xff" * 100_000)


# --------------------------------------------------------------------------
# Malformed input never raises
# --------------------------------------------------------------------------


def test_missing_boundary_still_gives_recipient_and_status() -> None:
    bounce = parsed(load("broken_boundary.eml"))
    assert (bounce.recipient, bounce.status) == ("wang.lei@126.con", "5.4.4")
    assert suggest_address(bounce.recipient or "") == "wang.lei@126.com"


def test_truncated_report_gives_what_it_has() -> None:
    bounce = parsed(load("truncated.eml"))
    assert (bounce.recipient, bounce.status) == ("m.shevchenko@i.ua", "5.1.1")
    assert bounce.original_message_id == "trunc.1@dobryi-lik.example"


def test_unknown_charset_is_read_as_utf8() -> None:
    bounce = parsed(load("bad_charset.eml"))
    assert bounce.recipient == "yoshida.k@nifty.con"
    assert bounce.original_subject == "ご予約の件"
    assert phones_in(bounce.original_text or "", "JP") == ["+819033445566"]


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
def test_other_line_endings(ending: bytes) -> None:
    raw = load("qmail_two.eml").replace(b"\n", ending)
    bounce = parsed(raw)
    assert (bounce.recipient, bounce.style) == ("a.belova@rambler.ru", "qmail")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"From: MAILER-DAEMON@x.example\n",
        b"From: MAILER-DAEMON@x.example\nContent-Type: multipart/report\n\n--\n--\n",
        b'From: MAILER-DAEMON@x.example\nContent-Type: text/plain; charset="\n\n\xff\xfe<@>:\n',
        b"From: =?utf-8?q?broken\nSubject: =?x-unknown?b?!!!?=\n\nFinal-Recipient: rfc822;\n",
    ],
)
def test_junk_does_not_raise(raw: bytes) -> None:
    result = parse_bounce(raw)
    assert result is None or isinstance(result, Bounce)


def test_free_text_without_structure_still_finds_the_address() -> None:
    raw = (
        b"From: MAILER-DAEMON@relay.example\nSubject: Returned mail\n\n"
        b"Your message to <Someone@Client.Example> could not be delivered: user unknown.\n"
    )
    bounce = parsed(raw)
    assert (bounce.recipient, bounce.status, bounce.style) == (
        "someone@client.example",
        "5.1.1",
        "generic",
    )


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.eml")))
def test_any_cut_of_a_report_is_safe(name: str) -> None:
    raw = load(name)
    for cut in range(0, len(raw), max(1, len(raw) // 40)):
        result = parse_bounce(raw[:cut])
        assert result is None or isinstance(result, Bounce)


def test_bounce_is_immutable() -> None:
    bounce = parsed(load("qmail_two.eml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        bounce.recipient = "x@y.example"  # type: ignore[misc]


# --------------------------------------------------------------------------
# Address typos
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "fixed"),
    [
        ("yuichio735@gmail.con", "yuichio735@gmail.com"),
        ("a@gmail.cm", "a@gmail.com"),
        ("a@gmail.co", "a@gmail.com"),
        ("a@gmial.com", "a@gmail.com"),
        ("a@gmailcom", "a@gmail.com"),
        ("a@gmail..com", "a@gmail.com"),
        ("a@Gmail.Con", "a@gmail.com"),
        ("a@ｇｍａｉｌ．ｃｏｍ", "a@gmail.com"),
        ("yamaguchi-rie96@.au.com", "yamaguchi-rie96@au.com"),
        ("a@au.con", "a@au.com"),
        ("nyanlemon-har53@docomo.ne.jo", "nyanlemon-har53@docomo.ne.jp"),
        ("a@docomo.ne.j", "a@docomo.ne.jp"),
        ("a@docomo.co.jp", "a@docomo.ne.jp"),
        ("a@ezweb.ne.jo", "a@ezweb.ne.jp"),
        ("a@softbank.ne.jo", "a@softbank.ne.jp"),
        ("a@i.softbank.jo", "a@i.softbank.jp"),
        ("a@yahoo.co.jo", "a@yahoo.co.jp"),
        ("a@hotmial.com", "a@hotmail.com"),
        ("a@icloud.con", "a@icloud.com"),
        ("a@yandex.ry", "a@yandex.ru"),
        ("a@mail.ry", "a@mail.ru"),
        ("a@rambler.ry", "a@rambler.ru"),
        ("a@qq.cm", "a@qq.com"),
        ("a@163.con", "a@163.com"),
        ("a@foxmail.con", "a@foxmail.com"),
        ("a@ukr.nte", "a@ukr.net"),
        ("a@protonmail.con", "a@protonmail.com"),
        ("a@docomo", "a@docomo.ne.jp"),
    ],
)
def test_suggest_address_fixes_typos(address: str, fixed: str) -> None:
    assert suggest_address(address) == fixed


@pytest.mark.parametrize(
    "address",
    [
        "a@gmail.com",  # already well known
        "a@docomo.ne.jp",
        "a@mail.biglobe.ne.jp",  # subdomain of a known provider
        "a@waraku-seitai.example",  # a company domain
        "a@exmaple.ru",  # unknown, nothing close enough
        "a@example.cm",
        "a@yahoo.co.uk",  # real neighbours
        "a@yandex.ua",
        "a@ymail.com",
        "a@mail.com",
        "a@hotmail.co.jp",
        "a@inbox.lv",
        "a@ya.ua",  # short brand + a TLD people really use
        "a@qq.cn",
        "a@meta.com",
        "a@yahoo",  # ambiguous: yahoo.com or yahoo.co.jp
        "no-at-sign",
        "@gmail.con",
        "",
    ],
)
def test_suggest_address_leaves_alone(address: str) -> None:
    assert suggest_address(address) is None


def test_suggest_address_extra_domains() -> None:
    assert (
        suggest_address("k@waraku-seitai.exmaple", ["waraku-seitai.example"])
        == "k@waraku-seitai.example"
    )
    assert suggest_address("k@waraku-seitai.example", ["waraku-seitai.example"]) is None
    assert suggest_address("k@waraku-seitai.exmaple") is None


def test_well_known_list_covers_every_region() -> None:
    for domain in ("gmail.com", "docomo.ne.jp", "au.com", "mail.ru", "qq.com", "ukr.net"):
        assert domain in WELL_KNOWN_DOMAINS
    assert len(WELL_KNOWN_DOMAINS) == len(set(WELL_KNOWN_DOMAINS))


# --------------------------------------------------------------------------
# Phone numbers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        (
            "【電話番号】090-9497-3423\nTEL 03-6380-4127 送信元IP：198.51.100.84 "
            "2026/01/12 15:26:27 再掲 090-9497-3423",
            "JP",
            ["+819094973423", "+81363804127"],
        ),
        ("全角 ０９０－１２３４－５６７８ です", "jp", ["+819012345678"]),
        (
            "Наш телефон 8 800 555-35-35, ваш +7 (926) 111-22-33, заказ №481420",
            "RU",
            ["+78005553535", "+79261112233"],
        ),
        (
            "+380 44 333 44 55 або 067 123 45 67; IBAN UA713999990000026001234567890",
            "UA",
            ["+380443334455", "+380671234567"],
        ),
        (
            "门店电话 021-6123 4567，联系电话 139 1234 5678。单号 YX2601270002",
            "CN",
            ["+862161234567", "+8613912345678"],
        ),
        ("", "JP", []),
        ("no digits at all", "RU", []),
    ],
)
def test_phones_in(text: str, region: str, expected: list[str]) -> None:
    assert phones_in(text, region) == expected


def test_importing_the_module_does_not_load_phonenumbers() -> None:
    code = "import sys, deskops.commands.bounces; print('phonenumbers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
