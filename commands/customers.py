"""Finding customer registrations, and registrations that look like one customer.

Built on :mod:`.lookup` (the one lookup mail, orders and calls use): phone numbers in
E.164 with the profile's region, in the phone fields *and* written in free text;
e-mail addresses case-insensitively; names folded so that the ways a Japanese name is
typed meet (full-/half-width, hiragana/katakana, common kanji variants, spaces).

There is deliberately no merge and no delete: a registration carries the customer's
orders and history, so duplicates are listed, with links, for a supervisor to decide.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deskops.adapters.errors import UsageError

from .lookup import CustomerIndex, emails_in_text, fold, normalize_phone, phones_in_text

# Kanji written differently in registrations of the same name (old/variant forms).
KANJI_VARIANTS = str.maketrans({
    "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斉",
    "濱": "浜", "澤": "沢", "櫻": "桜", "國": "国", "廣": "広", "冨": "富", "德": "徳",
    "槇": "槙", "惠": "恵", "眞": "真", "瀨": "瀬", "藏": "蔵", "條": "条", "龍": "竜",
})  # fmt: skip
_SPACES = str.maketrans("", "", " \u3000\t・.-")


def name_key(text: str) -> str:
    """A name folded for comparison: NFKC (width), case, hiragana → katakana, kanji
    variants, no spaces or middle dots. ``ﾔﾏﾀﾞ ﾀﾛｳ``, ``やまだ たろう`` and ``ヤマダタロウ``
    meet; so do ``髙橋`` and ``高橋``."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in text)
    return text.translate(KANJI_VARIANTS).translate(_SPACES)


FIND_FIELDS = ["id", "name", "company", "phones", "emails", "why", "url"]


@dataclass
class Found:
    customer: dict[str, Any]
    why: list[str] = field(default_factory=list)


def find(
    index: CustomerIndex,
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> list[Found]:
    """Registrations matching every criterion given, each with why it matched (the
    field the number or address was found in, or the order/reservation that holds it)."""
    if not (phone or email or name):
        raise UsageError("give --phone, --email or --name")
    hits: list[dict[str, list[str]]] = []
    if phone:
        number = normalize_phone(phone, index.region)
        if number is None:
            raise UsageError(f"--phone {phone!r} is not a phone number for region {index.region}")
        hits.append(_by_customer(index.find(phones=[number]), f"{number}"))
    if email:
        if "@" not in email:
            raise UsageError(f"--email {email!r} is not an e-mail address")
        hits.append(_by_customer(index.find(emails=[email]), fold(email).strip()))
    if name:
        wanted = name_key(name)
        if not wanted:
            raise UsageError(f"--name {name!r} has nothing to search for")
        named: dict[str, list[str]] = {}
        for cid, c in index.customers.items():
            for f in ("name", "name_kana", "company"):
                if c.get(f) and wanted in name_key(str(c[f])):
                    named.setdefault(cid, []).append(f"{f} ~ {name}")
        hits.append(named)
    ids = set(hits[0]).intersection(*hits[1:])
    out = []
    for cid in sorted(ids):
        found = index.customer(cid)
        if found is not None:
            out.append(Found(found, [w for h in hits for w in h[cid]]))
    return out


def _by_customer(matches: Iterable[Any], value: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in matches:
        if m.customer_id:
            why = f"{m.why} {value}"
            if why not in found.setdefault(m.customer_id, []):
                found[m.customer_id].append(why)
    return found


# -- duplicates ----------------------------------------------------------------------------------
DUPLICATE_FIELDS = ["group", "id", "name", "company", "phones", "emails", "shared", "url"]


@dataclass
class Group:
    number: int
    customers: list[dict[str, Any]]
    shared: list[str]  # what the registrations have in common: "phone +81…", "name+company"


def duplicates(
    customers: Iterable[dict[str, Any]], region: str, match: Iterable[str] = ()
) -> list[Group]:
    """Registrations that look like one customer: the same phone number or e-mail
    address (in the fields or written in notes/other), or — when ``match`` (the
    profile's ``[crm] duplicate_match``) names both — the same name and company.
    A name alone never groups two registrations."""
    match = set(match) or {"phones", "emails", "name", "company"}
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owners: dict[str, list[str]] = {}  # key → ids
    records: dict[str, dict[str, Any]] = {}
    for c in customers:
        cid = str(c["id"])
        records[cid] = c
        parent[cid] = cid
        for key in _keys(c, region, match):
            owners.setdefault(key, []).append(cid)
    for ids in owners.values():
        for other in ids[1:]:
            a, b = root(ids[0]), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for cid in records:
        groups.setdefault(root(cid), []).append(cid)
    out: list[Group] = []
    for ids in sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0]):
        members = set(ids)
        shared = sorted({_shown(k) for k, owned in owners.items()
                         if len(members.intersection(owned)) > 1})  # fmt: skip
        out.append(Group(len(out) + 1, [records[i] for i in ids], shared))
    return out


def _keys(c: dict[str, Any], region: str, match: set[str]) -> set[str]:
    keys: set[str] = set()
    free = " ".join(str(c.get(f) or "") for f in ("notes", "other"))
    if "phones" in match:
        for p in c.get("phones") or []:
            e = normalize_phone(str(p), region)
            if e:
                keys.add(f"phone {e}")
        keys.update(f"phone {p}" for p in (phones_in_text(free, region) if free.strip() else []))
    if "emails" in match:
        keys.update(f"email {fold(str(e)).strip()}" for e in c.get("emails") or [] if e)
        keys.update(f"email {e}" for e in emails_in_text(free))
    if {"name", "company"} <= match and c.get("name") and c.get("company"):
        keys.add(f"name+company {name_key(str(c['name']))}|{name_key(str(c['company']))}")
    return keys


def _shown(key: str) -> str:
    kind, _, value = key.partition(" ")
    return "same name and company" if kind == "name+company" else f"{kind} {value}"
