"""Refund details as customers give them, checked before money is sent anywhere.

Each check names the field and why it is refused, in one line:

- bank cards: 16–19 digits (other banks: 16–18) with the Luhn check digit;
- the Russian account number (20 digits) against the BIK by the Bank of Russia's
  control key (weights 7-1-3 over the BIK's last three digits and the account;
  for correspondent accounts and settlement centres, ``0`` + the BIK's 5th–6th
  digits);
- BIK: 9 digits, a Russian one starts with ``04``;
- INN: 10 digits (organisations) or 12 (people) with their check digits;
- mobile numbers: valid for the country and mobile (phonenumbers), with the
  operator looked up when the customer did not name one;
- QIWI wallets are the owner's mobile number; YooMoney wallets ``4100…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from deskops.adapters.errors import UsageError

METHODS = {  # CLI name → the profile's name of the method ([returns.refund_methods])
    "sber-card": "Карта Сбербанка",
    "bank": "Карта другого банка",
    "phone": "Мобильный телефон",
    "qiwi": "QIWI",
    "yoomoney": "ЮMoney",
}


class DetailError(UsageError):
    """A refund detail that cannot be used: the field and why."""


@dataclass
class Details:
    method: str  # CLI name
    values: dict[str, Any] = field(default_factory=dict)


def digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "")


def luhn(number: str) -> bool:
    if not number.isdigit() or not number:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def inn_valid(inn: str) -> bool:
    if not inn.isdigit() or len(inn) not in (10, 12):
        return False
    d = [int(c) for c in inn]

    def check(weights: list[int], n: int) -> int:
        return sum(w * x for w, x in zip(weights, d[:n], strict=True)) % 11 % 10

    if len(inn) == 10:
        return check([2, 4, 10, 3, 5, 9, 4, 6, 8], 9) == d[9]
    return (
        check([7, 2, 4, 10, 3, 5, 9, 4, 6, 8], 10) == d[10]
        and check([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8], 11) == d[11]
    )


def account_matches_bik(account: str, bik: str) -> bool:
    """The control key of a 20-digit account held at the bank with this BIK."""
    if not (account.isdigit() and len(account) == 20 and bik.isdigit() and len(bik) == 9):
        return False
    # correspondent accounts and accounts at the Bank of Russia's settlement centres are
    # keyed by the BIK's 5th-6th digits, a bank's client accounts by its last three
    rkc = account.startswith("301") or bik[6:9] in ("000", "001", "002")
    head = "0" + bik[4:6] if rkc else bik[6:9]
    weights = [7, 1, 3] * 8
    return sum(int(c) * w % 10 for c, w in zip(head + account, weights, strict=False)) % 10 == 0


def card(value: str, field_name: str, lengths: range) -> str:
    n = digits(value)
    if not n.isdigit():
        raise DetailError(f"{field_name} {value!r}: only digits (spaces and dashes allowed)")
    if len(n) == 20:
        raise DetailError(
            f"{field_name} {value!r}: 20 digits is an account number, not a card number"
        )
    if len(n) not in lengths:
        raise DetailError(
            f"{field_name} {value!r}: {len(n)} digits; a card number has "
            f"{lengths.start}–{lengths.stop - 1}"
        )
    if not luhn(n):
        raise DetailError(f"{field_name} {value!r}: the check digit is wrong (Luhn); a typo?")
    return n


def full_name(value: str, field_name: str) -> str:
    words = (value or "").split()
    if len(words) < 2 or not all(re.fullmatch(r"[^\W\d_]+(?:[-'][^\W\d_]+)*\.?", w) for w in words):
        raise DetailError(
            f"{field_name} {value!r}: the card holder's full name (surname, name, patronymic)"
        )
    return " ".join(words)


def mobile(value: str, region: str, field_name: str) -> tuple[str, str | None]:
    """(E.164, operator) of a mobile number valid in ``region``."""
    import phonenumbers
    from phonenumbers import carrier

    try:
        num = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise DetailError(f"{field_name} {value!r}: not a phone number") from None
    if not phonenumbers.is_valid_number_for_region(num, region):
        raise DetailError(f"{field_name} {value!r}: not a valid number in {region}")
    kind = phonenumbers.number_type(num)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise DetailError(f"{field_name} {value!r}: not a mobile number")
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return e164, carrier.name_for_number(num, "ru") or None


def check_details(method: str, given: dict[str, str | None], region: str) -> dict[str, Any]:
    """The refund details of ``method`` from the options given; every problem named."""
    if method not in METHODS:
        raise UsageError(f"--refund-method {method!r}; valid: {', '.join(METHODS)}")
    g = {k: (v or "").strip() for k, v in given.items() if v and v.strip()}

    def need(*names: str) -> None:
        missing = [n for n in names if n not in g]
        if missing:
            raise DetailError(
                f"--refund-method {method} needs " + ", ".join(f"--refund-{n}" for n in missing)
            )

    def refuse(*names: str) -> None:
        extra = [n for n in names if n in g]
        if extra:
            raise DetailError(f"--refund-{extra[0]} is not used by --refund-method {method}")

    if method == "sber-card":
        if "account" in g:
            raise DetailError(
                "--refund-account: Sberbank refunds go to the card; an account number is "
                "not accepted (give --refund-card and --refund-holder)"
            )
        need("card", "holder")
        refuse("bik", "inn", "bank", "phone", "operator", "wallet")
        return {
            "card_number": card(g["card"], "--refund-card", range(16, 20)),
            "card_holder": full_name(g["holder"], "--refund-holder"),
        }
    if method == "bank":
        need("card", "account", "bik", "inn", "bank")
        refuse("phone", "operator", "wallet")
        bik = digits(g["bik"])
        if not (bik.isdigit() and len(bik) == 9):
            raise DetailError(f"--refund-bik {g['bik']!r}: a BIK has 9 digits")
        if not bik.startswith("04"):
            raise DetailError(f"--refund-bik {g['bik']!r}: a Russian BIK starts with 04")
        account = digits(g["account"])
        if not (account.isdigit() and len(account) == 20):
            raise DetailError(f"--refund-account {g['account']!r}: an account number has 20 digits")
        if not account_matches_bik(account, bik):
            raise DetailError(
                f"--refund-account {g['account']!r}: does not match BIK {bik} (control key); "
                "a typo in either?"
            )
        inn = digits(g["inn"])
        if not inn_valid(inn):
            raise DetailError(
                f"--refund-inn {g['inn']!r}: an INN has 10 or 12 digits with valid check digits"
            )
        details = {
            "card_number": card(g["card"], "--refund-card", range(16, 19)),
            "account": account,
            "bik": bik,
            "inn": inn,
            "bank": g["bank"],
        }
        if "holder" in g:
            details["card_holder"] = full_name(g["holder"], "--refund-holder")
        return details
    if method == "phone":
        need("phone")
        refuse("card", "account", "bik", "inn", "bank", "wallet")
        number, operator = mobile(g["phone"], region, "--refund-phone")
        op = g.get("operator") or operator
        if not op:
            raise DetailError(f"--refund-phone {g['phone']!r}: the operator is not known; give "
                              "--refund-operator")  # fmt: skip
        return {"phone": number, "operator": op}
    if method == "qiwi":
        need("wallet")
        refuse("card", "account", "bik", "inn", "bank", "operator")
        number, _ = mobile(g["wallet"], region, "--refund-wallet (a QIWI wallet: mobile number)")
        return {"wallet": number}
    need("wallet")  # yoomoney
    refuse("card", "account", "bik", "inn", "bank", "phone", "operator")
    wallet = digits(g["wallet"])
    if not re.fullmatch(r"4100\d{7,12}", wallet):
        raise DetailError(
            f"--refund-wallet {g['wallet']!r}: a YooMoney wallet is 11–16 digits starting with 4100"
        )
    return {"wallet": wallet}


def mask(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """Card and account numbers down to their last four digits."""
    if not details:
        return details
    out = dict(details)
    for key in ("card_number", "account"):
        v = str(out.get(key) or "")
        if len(v) > 4:
            out[key] = "*" * (len(v) - 4) + v[-4:]
    return out
