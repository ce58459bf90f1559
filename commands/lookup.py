"""Finding the customer behind an e-mail address or a phone number.

One implementation for every command that needs it (mail rules, bounces,
order duplicates, missed calls, unlinked cases). Phone numbers are compared
in E.164 form, parsed with the profile's region, so ``090-1234-5678``,
``(090) 1234 5678`` and ``+81 90 1234 5678`` meet; e-mail addresses case-
insensitively. Addresses and numbers written in free-text fields (notes,
"other", comments) count too, because that is where teams keep the second
address of a customer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deskops.adapters.phones import e164
from deskops.adapters.schema import CUSTOMERS, ORDERS, RESERVATIONS
from deskops.adapters.store import Store

EMAIL_RE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def fold(text: str) -> str:
    """Width and case folding: full-width digits, letters and @ become ASCII."""
    if text.isascii():
        return text.lower()  # the same as NFKC + casefold for ASCII, several times faster
    return unicodedata.normalize("NFKC", text).casefold()


normalize_phone = e164  # the one implementation, shared with the adapters


def phones_in_text(text: str, region: str) -> list[str]:
    """Phone numbers written anywhere in a text, E.164, in order, once each: only numbers
    valid in the region's numbering plan (phonenumbers' default leniency), since free
    text and bounce copies are full of dates, order numbers and addresses."""
    import phonenumbers

    out: list[str] = []
    for m in phonenumbers.PhoneNumberMatcher(fold(text), region.upper() if region else None):
        e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in out:
            out.append(e164)
    return out


def emails_in_text(text: str) -> list[str]:
    out: list[str] = []
    for m in EMAIL_RE.finditer(fold(text)):
        addr = m.group(0).strip(".")
        if addr not in out:
            out.append(addr)
    return out


@dataclass
class Match:
    customer_id: str | None
    why: str  # "email", "phone", "notes email", "order 1042 phone", …
    record: dict[str, Any] = field(default_factory=dict)


class CustomerIndex:
    """In-memory index of customers, orders and reservations by e-mail and phone."""

    def __init__(
        self, store: Store, region: str, customers: Iterable[dict[str, Any]] | None = None
    ) -> None:
        """``customers``: the registrations to index (default: the store's; a backend's,
        such as a kintone app, when the team keeps them there); the store's orders and
        reservations are indexed with them."""
        self.region = region
        self.customers: dict[str, dict[str, Any]] = {}
        self.by_email: dict[str, list[Match]] = {}
        self.by_phone: dict[str, list[Match]] = {}
        for c in store.iter_records(CUSTOMERS) if customers is None else customers:
            self.customers[c["id"]] = c
            for e in c.get("emails") or []:
                self._add_email(e, Match(c["id"], "email", c))
            for p in c.get("phones") or []:
                self._add_phone(p, Match(c["id"], "phone", c))
            for name in ("notes", "other"):
                text = c.get(name) or ""
                for e in emails_in_text(text):
                    self._add_email(e, Match(c["id"], f"{name} email", c))
                for p in phones_in_text(text, region) if text else []:
                    self.by_phone.setdefault(p, []).append(Match(c["id"], f"{name} phone", c))
        for o in store.iter_records(ORDERS, children=False):
            if o.get("email"):
                self._add_email(o["email"], Match(o.get("customer_id"), f"order {o['id']}", o))
            if o.get("phone"):
                self._add_phone(o["phone"], Match(o.get("customer_id"), f"order {o['id']}", o))
        for r in store.iter_records(RESERVATIONS, children=False):
            if r.get("email"):
                self._add_email(
                    r["email"], Match(r.get("customer_id"), f"reservation {r['id']}", r)
                )
            if r.get("contact"):
                self._add_phone(
                    r["contact"], Match(r.get("customer_id"), f"reservation {r['id']}", r)
                )

    def _add_email(self, email: str, m: Match) -> None:
        self.by_email.setdefault(fold(email).strip(), []).append(m)

    def _add_phone(self, phone: str, m: Match) -> None:
        e164 = normalize_phone(phone, self.region)
        if e164:
            self.by_phone.setdefault(e164, []).append(m)

    def find(self, emails: Iterable[str] = (), phones: Iterable[str] = ()) -> list[Match]:
        """Matches for these addresses and (already E.164) numbers, best first."""
        found: list[Match] = []
        for e in emails:
            found.extend(self.by_email.get(fold(e).strip(), []))
        for p in phones:
            found.extend(self.by_phone.get(p, []))
        return found

    def customer(self, customer_id: str | None) -> dict[str, Any] | None:
        return self.customers.get(customer_id) if customer_id else None


def store_of(matches: list[Match], index: CustomerIndex) -> tuple[str | None, str | None]:
    """(region, store) of the first match that names a store: customer, then reservation."""
    for m in matches:
        cust = index.customer(m.customer_id)
        if cust and cust.get("store"):
            return cust.get("region"), cust["store"]
        if m.record.get("store"):
            region = (index.customer(m.record.get("customer_id")) or {}).get("region")
            return region, m.record["store"]
    return None, None
