"""Mail and call-log parsers on the encodings and layouts the teams really get."""

from __future__ import annotations

from email.message import EmailMessage
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from deskops.adapters.calllogs import iter_calls, parse_duration, parse_party
from deskops.adapters.eml import html_to_text, parse_message, replace_date
from deskops.adapters.errors import UsageError
from deskops.adapters.files import RowError
from deskops.commands.clock import zone


def iso2022_mail() -> bytes:
    msg = MIMEText(
        "明日の15時に予約をお願いできますか。\n電話 090-1234-5678", "plain", "iso-2022-jp"
    )
    msg["Subject"] = "予約の件"
    msg["From"] = "山田 <yamada@example.jp>"
    msg["To"] = "reservation1@salon.example"
    msg["Date"] = "Tue, 13 Jan 2026 10:42:00 +0900"
    msg["Message-ID"] = "<abc@example.jp>"
    return msg.as_bytes()


def test_iso_2022_jp_mail_is_decoded() -> None:
    rec = parse_message(iso2022_mail(), name="a.eml", mailbox="reservation1", folder="INBOX")
    assert rec["subject"] == "予約の件"
    assert "15時" in rec["body_text"] and rec["from_addr"] == "yamada@example.jp"
    assert rec["id"] == "abc@example.jp" and rec["thread_id"] == "abc@example.jp"
    assert rec["date"] == "2026-01-13T10:42:00+09:00"


def test_html_only_koi8_mail_with_attachment_and_thread() -> None:
    outer = EmailMessage()
    outer["Subject"] = (
        "=?koi8-r?B?" + __import__("base64").b64encode("Возврат".encode("koi8-r")).decode() + "?="
    )
    outer["From"] = "ivan@example.ru"
    outer["Date"] = "Mon, 12 Jan 2026 09:00:00 +0300"
    outer["In-Reply-To"] = "<root@shop.example>"
    outer["References"] = "<root@shop.example> <mid@shop.example>"
    outer.set_content(
        "<html><body><p>Здравствуйте!</p><p>Заказ <b>А-1042</b></p>"
        "<script>x()</script></body></html>",
        subtype="html",
        charset="koi8-r",
    )
    outer.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="бланк_возврата.pdf"
    )
    rec = parse_message(outer.as_bytes(), name="b.eml")
    assert rec["subject"] == "Возврат"
    assert rec["body_text"] == "Здравствуйте!\n\nЗаказ А-1042"
    assert rec["has_attachments"] and rec["attachments"][0]["filename"] == "бланк_возврата.pdf"
    assert rec["thread_id"] == "root@shop.example"
    assert rec["id"].startswith("sha1-")  # no Message-ID: a stable one is made


def test_malformed_mail_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="c.eml: missing or malformed Date"):
        parse_message(b"From: a@b\r\nSubject: x\r\n\r\nbody", name="c.eml")
    with pytest.raises(UsageError, match="d.eml: empty file"):
        parse_message(b"   ", name="d.eml")


def test_replace_date_only_touches_the_header() -> None:
    raw = iso2022_mail() + b"\r\nDate: in the body stays\r\n"
    out = replace_date(raw, "Wed, 14 Jan 2026 10:42:00 +0900")
    assert b"Date: Wed, 14 Jan 2026 10:42:00 +0900" in out
    assert out.count(b"Date: in the body stays") == 1


def test_html_to_text() -> None:
    assert html_to_text("<div>a<br>b</div><style>p{}</style>&amp;") == "a\nb\n&"


SIPUNI = (
    "\ufeffТип;Статус;Время;Схема;Откуда;Куда;Кто ответил;Длительность звонка;"
    "Длительность разговора;Время ответа;Стоимость\n"
    "Входящий;Не отвечен;12.01.2026 10:15:02;8-800 Горячая линия;79161234567;"
    "88005553535;;0:00:25;0;;0\n"
    "Входящий;Отвечен;12.01.2026 10:20:00;Москва;79161234567;74951234567;"
    "428 (Иванов Иван);95;80;5;1,20\n"
    "Исходящий;Отвечен;12.01.2026 11:00:00;ОРТ;201 (Петрова Анна);79031112233;;"
    "1:02:03;3700;;12\n"
    "Входящий;Отвечен;не время;Москва;1;2;;1;1;;0\n"
)


def test_sipuni_csv_by_header_name(tmp_path: Path) -> None:
    f = tmp_path / "sipuni.csv"
    f.write_bytes(SIPUNI.encode("utf-8"))
    rows = list(iter_calls(str(f), tz=zone("Europe/Moscow")))
    good = [r for _, r in rows if not isinstance(r, RowError)]
    bad = [(line, r) for line, r in rows if isinstance(r, RowError)]
    assert len(good) == 3
    assert good[0]["status"] == "missed" and good[0]["direction"] == "inbound"
    assert good[0]["started_at"] == "2026-01-12T07:15:02Z" and good[0]["duration"] == 25
    assert good[1]["answered_by"] == "428" and good[1]["cost"] == 1.2
    assert good[2]["caller"] == "201" and good[2]["caller_name"] == "Петрова Анна"
    assert good[2]["duration"] == 3723 and good[2]["line"] == "ОРТ"
    assert bad[0][0] == 5 and "Время" in bad[0][1].message
    # same file twice → same ids (idempotent imports)
    again = [
        r["id"]
        for _, r in iter_calls(str(f), tz=zone("Europe/Moscow"))
        if not isinstance(r, RowError)
    ]
    assert again == [g["id"] for g in good]
    f.write_bytes(SIPUNI.replace("\ufeff", "").encode("cp1251"))
    assert (
        len(
            [
                r
                for _, r in iter_calls(str(f), tz=zone("Europe/Moscow"))
                if not isinstance(r, RowError)
            ]
        )
        == 3
    )


def test_asterisk_master_csv(tmp_path: Path) -> None:
    f = tmp_path / "Master.csv"
    f.write_text(
        '"","0312345678","100","from-pstn","""Tanaka"" <0312345678>","SIP/trunk-0001",'
        '"SIP/101-0002","Dial","SIP/101,30","2026-01-13 09:01:00","2026-01-13 09:01:05",'
        '"2026-01-13 09:04:05",185,180,"ANSWERED","DOCUMENTATION","1736726460.1",""\n'
        '"","09012345678","100","from-pstn","","SIP/trunk-0003","","Dial","SIP/101,30",'
        '"2026-01-13 09:10:00","","2026-01-13 09:10:30",30,0,"NO ANSWER","DOCUMENTATION",'
        '"1736727000.2",""\n'
        '"","101","09012345678","from-internal","","SIP/101-0004","SIP/trunk-0005","Dial",'
        '"x","2026-01-13 09:20:00","2026-01-13 09:20:10","2026-01-13 09:22:10",130,120,'
        '"ANSWERED","DOCUMENTATION","1736727600.3",""\n'
        '"short","row"\n'
    )
    rows = list(iter_calls(str(f), tz=zone("Asia/Tokyo")))
    good = [r for _, r in rows if not isinstance(r, RowError)]
    assert [g["status"] for g in good] == ["answered", "missed", "answered"]
    assert [g["direction"] for g in good] == ["inbound", "inbound", "outbound"]
    assert good[0]["caller_name"] == "Tanaka" and good[0]["answered_by"] == "101"
    assert good[0]["started_at"] == "2026-01-13T00:01:00Z" and good[0]["talk_seconds"] == 180
    assert isinstance(rows[-1][1], RowError) and rows[-1][0] == 4


def test_small_helpers() -> None:
    assert parse_duration("1:15") == 75 and parse_duration("0:01:15") == 75
    assert parse_duration("42") == 42
    assert parse_party("428 (Иванов Иван)") == ("428", "Иванов Иван")
    assert parse_party("79161234567") == ("79161234567", None)


HEAD = b"From: a@b\r\nSubject: %s\r\nDate: Tue, 13 Jan 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\n"


@pytest.mark.parametrize(
    "raw,subject,body_has",
    [
        # raw 8-bit UTF-8 header, no MIME declaration
        (
            "From: a@b\nSubject: 予約の件\nDate: Tue, 13 Jan 2026 10:00:00 +0900\n\n本文です".encode(),  # noqa: E501
            "予約の件",
            "本文です",
        ),
        # declared charset wrong: says us-ascii, is CP1251
        (
            (HEAD % b"x")
            + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            + "Привет, это проверка кодировки письма".encode("cp1251"),
            "x",
            "Привет",
        ),
        # unknown charset name
        (
            (HEAD % b"y") + b"Content-Type: text/plain; charset=x-unknown-9\r\n\r\nhello",
            "y",
            "hello",
        ),
        # CR-only line ends
        (b"From: a@b\rSubject: cr\rDate: Tue, 13 Jan 2026 10:00:00 +0000\r\rbody text", "cr", ""),
        # multipart with a broken boundary
        (
            (HEAD % b"z")
            + b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
            + b"--YY\r\nContent-Type: text/plain\r\n\r\ninside\r\n",
            "z",
            "",
        ),
        # base64 body with garbage
        (
            (HEAD % b"b")
            + b"Content-Type: text/plain; charset=utf-8\r\n"
            + b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64###",
            "b",
            "",
        ),
    ],
)
def test_malformed_mail_still_parses(raw: bytes, subject: str, body_has: str) -> None:
    rec = parse_message(raw, name="m.eml")
    assert rec["subject"] == subject
    assert body_has in rec["body_text"]
    assert rec["raw"] == raw  # kept whole, byte for byte


def test_huge_message_is_parsed_without_blowing_up() -> None:
    body = ("長い本文の行です。" * 20 + "\n") * 20000  # ~4 MB of text
    m = EmailMessage()
    m["From"] = "a@b"
    m["Subject"] = "big"
    m["Date"] = "Tue, 13 Jan 2026 10:00:00 +0900"
    m.set_content(body)
    rec = parse_message(bytes(m), name="big.eml")
    assert rec["subject"] == "big" and len(rec["body_text"]) > 1_000_000


def test_split_headers_agrees_with_the_stdlib_parser() -> None:
    """The fast header splitter (IMAP BODY[HEADER]) reads what the email package reads."""
    from email import message_from_bytes

    from deskops.adapters.eml import decode_text, split_headers
    from deskops.fixtures import FIXTURES_DIR

    files = sorted(FIXTURES_DIR.glob("*/mail/**/*.eml"))
    assert len(files) > 500
    for f in files:
        raw = f.read_bytes()
        ours = [(k.lower(), decode_text(v)) for k, v in split_headers(raw)]
        theirs = [(k.lower(), decode_text(v)) for k, v in message_from_bytes(raw).raw_items()]
        assert ours == theirs, f
        head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
        full = parse_message(raw, name=f.name)
        fast = parse_message(head, name=f.name, headers_only=True)
        for key in ("id", "date", "from_addr", "subject", "to_addrs", "thread_id"):
            assert fast[key] == full[key], (f, key)


def test_fast_header_decoding_agrees_with_the_email_package() -> None:
    from email.header import decode_header, make_header
    from email.utils import parseaddr

    from deskops.adapters.eml import _from, decode_text, split_headers
    from deskops.fixtures import FIXTURES_DIR

    checked = 0
    for f in sorted(FIXTURES_DIR.glob("*/mail/**/*.eml")):
        for name, value in split_headers(f.read_bytes()):
            if "=?" in value and value.isascii():
                unfolded = " ".join(value.split())
                assert decode_text(value) == str(make_header(decode_header(unfolded))), (f, name)
                checked += 1
            if name.lower() == "from":
                text = decode_text(value)
                theirs = parseaddr(text)[1].lower()
                if "@" in theirs:  # (the stdlib gives up on an unquoted comma in a name)
                    assert _from(text)[1].lower() == theirs, (f, text)
                assert "@" in _from(text)[1], (f, text)
    assert checked > 300


def test_one_part_fast_path_reads_what_the_mime_parser_reads() -> None:
    from email import message_from_bytes

    from deskops.adapters.eml import _simple_body, body_and_attachments, split_headers
    from deskops.fixtures import FIXTURES_DIR

    fast = 0
    for f in sorted(FIXTURES_DIR.glob("*/mail/**/*.eml")):
        for raw in (f.read_bytes(), f.read_bytes().replace(b"\n", b"\r\n")):
            text = _simple_body(raw, split_headers(raw))
            if text is None:
                continue
            fast += 1
            assert text == body_and_attachments(message_from_bytes(raw))[0], f
    assert fast > 500


def _split_headers_regex(raw: bytes) -> list[tuple[str, str]]:
    """The reading split_headers had before folded fields were joined with string
    methods: one regex pass, folds undone by a substitution."""
    import re

    from deskops.adapters.eml import _HEADER_FIELD, header_end

    block = raw[: header_end(raw)]
    if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        block = raw[: header_end(raw)]
    out = []
    for name, value in _HEADER_FIELD.findall(block.decode("ascii", "surrogateescape")):
        if "\n" in value:
            value = re.sub(r"[ \t]*\r?\n[ \t]*", " ", value)
        out.append((name, value.rstrip()))
    return out


def test_split_headers_agrees_with_its_regex_reading() -> None:
    """The header splitter reads what one regex pass and a substitution read, odd lines too."""
    from deskops.adapters.eml import split_headers
    from deskops.fixtures import FIXTURES_DIR

    odd = [
        b"From a@b Mon\nX: 1\n  cont\nBad line\n cont of bad\nY : 2 \nZ:\t\tv\n\t\nW:\n\nbody",
        b" lead\nA: b\r\n\tc  \r\n \r\n\td\r\n\r\n",
        b"A: b\rC: d\r\re",
        b"N\x80me: x\nOk: \xe3\x81\x82\nSp ace: x\nTab\t: y\nCtl\x01: z\n:empty\n\n",
        b"",
    ]
    for f in sorted(FIXTURES_DIR.glob("*/mail/**/*.eml")):
        odd += [f.read_bytes(), f.read_bytes().replace(b"\n", b"\r\n")]
    for raw in odd:
        assert split_headers(raw) == _split_headers_regex(raw), raw[:120]


def _mime_cases() -> list[bytes]:
    """Multipart mail of the shapes the teams get, in each charset and transfer encoding,
    plus the malformed and nested ones the light splitter hands to the stdlib parser."""
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart

    text = {
        "iso-2022-jp": "明日の15時に予約をお願いできますか。キャンセル待ちです。",
        "koi8-r": "Здравствуйте! Хочу отменить запись на пятницу.",
        "cp1251": "Прошу оформить возврат средств по заказу.",
        "utf-8": "返金をお願いします。Спасибо!",
    }
    out: list[bytes] = []
    for charset, body in text.items():
        for cte in ("7bit" if charset == "iso-2022-jp" else "8bit", "base64", "quoted-printable"):
            for sub in ("alternative", "mixed"):
                m = EmailMessage()
                m["From"] = "a@example.jp"
                m["Subject"] = "テスト"
                m["Date"] = "Tue, 13 Jan 2026 10:00:00 +0900"
                m.set_content(body, charset=charset, cte=cte)
                if sub == "alternative":
                    m.add_alternative(f"<p>{body}</p>", subtype="html", charset=charset, cte=cte)
                else:
                    m.add_attachment(b"\x89PNG" * 500, maintype="image", subtype="png",
                                     filename="写真.png")  # fmt: skip
                    m.add_attachment(body.encode(charset), maintype="text", subtype="plain",
                                     filename="メモ.txt")  # fmt: skip
                out.append(bytes(m))
                out.append(bytes(m).replace(b"\r\n", b"\n"))
    nested = MIMEMultipart("mixed")
    inner = MIMEMultipart("alternative")
    inner.attach(MIMEText("入れ子の本文", "plain", "utf-8"))
    inner.attach(MIMEText("<b>入れ子</b>", "html", "utf-8"))
    nested.attach(inner)
    nested.attach(MIMEApplication(b"%PDF", Name="a.pdf"))
    out.append(nested.as_bytes())
    return out + [raw for raw, _ in _odd_multiparts().values()]


def _odd_multiparts() -> dict[str, tuple[bytes, bool]]:
    """Name → (message, whether the light splitter reads it rather than the stdlib)."""
    head = b"From: a@b\r\nDate: Tue, 13 Jan 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\n"
    ctype = b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    part = b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
    end = b"--XX--\r\n"
    return {
        "no closing boundary": (head + ctype + b"--XX\r\n" + part, False),
        "closed before it opened": (head + ctype + b"preamble\r\n" + end, False),
        "an empty part": (head + ctype + b"--XX\r\n--XX\r\n" + part + end, False),
        "a part with a bad header": (
            head + ctype + b"--XX\r\nNot a header line\r\n\r\nx\r\n" + end,
            False,
        ),
        "a part without a blank line": (
            head + ctype + b"--XX\r\n" + part.replace(b"\r\n\r\n", b"\r\n") + end,
            False,
        ),
        "a digest": (
            head + b"Content-Type: multipart/digest; boundary=D\r\n\r\n--D\r\n\r\n"
            b"From: x@y\r\n\r\nbody\r\n--D--\r\n",
            False,
        ),
        "an attached message": (
            head
            + ctype
            + b"--XX\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\n\r\nz\r\n"
            + end,
            False,
        ),
        "a form feed (a line end to the parser)": (
            head + ctype + b"--XX\r\n" + part + b"\x0c" + end,
            False,
        ),
        "a bad top header": (
            head + ctype.replace(b"\r\n\r\n", b"\r\nBad header\r\n\r\n") + b"--XX\r\n" + part + end,
            False,
        ),
        "a bare CR": (head + ctype + b"--XX\r\n" + part + b"x\ry\r\n" + end, False),
        "garbage after the quoted boundary": (
            head + b'Content-Type: multipart/mixed; boundary="XX"x\r\n\r\n--XX\r\n' + part + end,
            False,
        ),
        "a part with no headers": (head + ctype + b"--XX\r\n\r\nno headers\r\n" + end, True),
        "look-alike and padded boundary lines": (
            head + ctype + b"--XXX\r\n" + part + b"--XX \t\r\n" + part + b"--XX--  \r\nepi",
            True,
        ),
        "a boundary with a space": (
            head
            + b'Content-Type: multipart/mixed; boundary="X Y"\r\n\r\n--X Y\r\n'
            + part
            + b"--X Y--\r\n",
            True,
        ),
        "parts after the closing boundary": (
            head + ctype + b"--XX\r\n" + part + end + b"--XX\r\n" + part,
            True,
        ),
        "a blank after the transfer encoding": (
            head + ctype + b"--XX\r\nContent-Type: text/html\r\n"
            b"Content-Transfer-Encoding: base64 \r\n\r\nPGI+aGk8L2I+\r\n" + end,
            True,
        ),
    }


def test_multipart_split_reads_what_the_mime_parser_reads() -> None:
    """The light multipart splitter builds the stdlib parser's tree (bodies, attachments,
    header items) or steps aside; the fixtures and the charsets the teams get."""
    from email import message_from_bytes

    from deskops.adapters.eml import _multipart, body_and_attachments, body_of
    from deskops.fixtures import FIXTURES_DIR

    cases = _mime_cases()
    for f in sorted(FIXTURES_DIR.glob("*/mail/**/*.eml")):
        cases += [f.read_bytes(), f.read_bytes().replace(b"\n", b"\r\n")]
    light = 0
    for raw in cases:
        theirs = message_from_bytes(raw)
        assert body_of(raw) == body_and_attachments(theirs), raw[:200]
        tree = _multipart(raw)
        if tree is None:
            continue
        light += 1
        assert body_and_attachments(tree) == body_and_attachments(theirs), raw[:200]
        assert list(tree.raw_items()) == list(theirs.raw_items())
        whole = parse_message(raw, name="m.eml")
        assert whole["body_text"] == body_and_attachments(theirs)[0]
    assert light > 100
    bodies = {body_of(raw)[0] for raw in cases[:48]}
    assert "Здравствуйте! Хочу отменить запись на пятницу." in bodies
    assert "明日の15時に予約をお願いできますか。キャンセル待ちです。" in bodies
    names = {a["filename"] for raw in cases[:48] for a in body_of(raw)[1]}
    assert names == {"写真.png", "メモ.txt"}


def test_nested_and_malformed_multipart_go_to_the_stdlib_parser() -> None:
    from deskops.adapters.eml import _multipart

    assert _multipart(_mime_cases()[48]) is None  # nested
    for name, (raw, light) in _odd_multiparts().items():
        assert (_multipart(raw) is not None) == light, name


def test_text_alternatives_read_what_the_mime_parser_reads() -> None:
    """Multipart mail of inline text parts only is read without building the tree, to
    the same text; anything with a parameter or part the stdlib reads its own way is
    left to the tree."""
    from email import message_from_bytes

    from deskops.adapters.eml import (
        _multipart,
        _text_alternatives,
        body_and_attachments,
        body_of,
    )

    cases = _mime_cases()
    light = [raw for raw in cases if _text_alternatives(raw) is not None]
    assert len(light) >= 24  # the alternatives in every charset and transfer encoding
    for raw in cases:
        text = _text_alternatives(raw)
        if text is not None:
            assert text == body_and_attachments(message_from_bytes(raw))[0], raw[:200]
            assert not body_and_attachments(message_from_bytes(raw))[1]
    for name, (raw, _) in _odd_multiparts().items():
        text = _text_alternatives(raw)
        if _multipart(raw) is None:
            assert text is None, name
        elif text is not None:
            assert text == body_and_attachments(message_from_bytes(raw))[0], name
    head = b"From: a@b\r\nDate: Tue, 13 Jan 2026 10:00:00 +0300\r\n"
    part = b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
    tree = b"--XX\r\n%s--XX--\r\n"
    declined = {
        "rfc 2231 boundary": b"Content-Type: multipart/mixed; boundary*=''XX\r\n\r\n" + tree % part,
        "escaped boundary": b'Content-Type: multipart/mixed; boundary="X\\X"\r\n\r\n' + tree % part,
        "a file name": b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        + tree % part.replace(b"utf-8", b'utf-8; name="a.txt"'),
        "a disposition": b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        + tree % (b"Content-Disposition: inline\r\n" + part),
        "an attachment type": b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        + tree % part.replace(b"text/plain", b"application/pdf"),
        "rfc 2231 charset": b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        + tree % part.replace(b"charset=utf-8", b"charset*=utf-8''utf-8"),
        "uuencoded": b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        + tree % (b"Content-Transfer-Encoding: x-uuencode\r\n" + part),
    }
    for name, rest in declined.items():
        raw = head + rest
        assert _text_alternatives(raw) is None, name
        assert body_of(raw) == body_and_attachments(message_from_bytes(raw)), name


def test_iso_date_false_gives_the_datetime() -> None:
    rec = parse_message(iso2022_mail(), name="a.eml", iso_date=False)
    assert rec["date"].isoformat() == "2026-01-13T10:42:00+09:00"


def test_header_message_is_the_parsed_record_of_the_header_block() -> None:
    """The IMAP reader's header-only message, built straight from the fields, is what
    the record path (parse_message → from_record) makes of the same header block, for
    every message of the fixtures and the bounce samples (several charsets, encoded
    words, quoted names, folded fields, no Message-ID)."""
    from dataclasses import asdict

    from deskops.adapters.eml import header_end
    from deskops.adapters.mailbox import from_record, header_message

    root = Path(__file__).resolve().parent.parent
    files = sorted(root.glob("fixtures/*/mail/**/*.eml")) + sorted(
        (root / "tests" / "data" / "bounces").glob("*.eml")
    )
    assert len(files) > 600
    compared = 0
    for path in files:
        raw = path.read_bytes()
        head = raw[: header_end(raw)] + b"\r\n\r\n"
        try:
            rec = parse_message(
                head, name=path.name, mailbox="m", folder="INBOX",
                decode_headers=False, headers_only=True, iso_date=False,
            )  # fmt: skip
        except UsageError:
            with pytest.raises(UsageError):
                header_message(
                    head, name=path.name, mailbox="m", folder="INBOX", uid=1, flags=set()
                )
            continue
        rec.update({"uid": 7, "seen": True, "flagged": False})
        want = from_record(rec)
        want.partial = True
        got = header_message(head, name=path.name, mailbox="m", folder="INBOX", uid=7,
                             flags={"\\Seen", "$Label1"})  # fmt: skip
        assert asdict(got) == asdict(want), path
        assert got.header("content-type") == want.header("Content-Type"), path
        compared += 1
    assert compared > 600
