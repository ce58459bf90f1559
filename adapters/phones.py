"""Phone numbers as people write them → E.164, one implementation for every lookup
(customers, orders, callers): hyphens, spaces, brackets, trunk prefixes, country codes
and full-width digits all read the same in the profile's region."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# region → (country code, possible lengths, national number pattern)
_SHORTCUT: dict[str, tuple[str, tuple[int, ...], Any]] = {}


def _plain_international(text: str, region: str) -> str | None:
    """``79161234567`` / ``+79161234567`` in region RU: digits that already start with the
    region's country code and have a possible length are E.164 as they are — the form
    PBX logs use, read without the full parser (a million calls a month)."""
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not digits.isascii():
        return None
    if region not in _SHORTCUT:
        import phonenumbers

        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        desc = meta.general_desc if meta is not None else None
        if meta is None or desc is None or not desc.national_number_pattern:
            _SHORTCUT[region] = ("", (), None)
        else:
            _SHORTCUT[region] = (
                str(meta.country_code),
                tuple(desc.possible_length),
                re.compile(desc.national_number_pattern),
            )
    cc, lengths, pattern = _SHORTCUT[region]
    national = digits[len(cc) :]
    if not cc or not digits.startswith(cc) or len(national) not in lengths:
        return None
    if not pattern.fullmatch(national):
        return None
    if not plus and pattern.fullmatch(digits):  # also a national number as written: ambiguous
        return None
    return "+" + digits


def e164(text: str, region: str) -> str | None:
    """E.164 form of one written phone number (``+380734268208``), or None when it is not one."""
    if region:
        quick = _plain_international(text, region.upper())
        if quick is not None:
            return quick
    import phonenumbers

    s = unicodedata.normalize("NFKC", text)
    if len(re.sub(r"\D", "", s)) < 6:
        return None
    try:
        num = phonenumbers.parse(s, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
