"""Phone numbers as people write them → E.164, one implementation for every lookup
(customers, orders, callers): hyphens, spaces, brackets, trunk prefixes, country codes
and full-width digits all read the same in the profile's region."""

from __future__ import annotations

import re
import unicodedata


def e164(text: str, region: str) -> str | None:
    """E.164 form of one written phone number (``+380734268208``), or None when it is not one."""
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
