"""Exchange and return requests (ЗНВ) by the toy shop's rules (procedures, toys-ru).

``plan_create`` turns one request into one plan applied all-or-nothing: the
return request record, for an exchange a new order with the same contacts,
cross-referencing comments on every record in the profile's wording
(``[returns.comments]``), the flag changes, and the customer's e-mail. Who pays
delivery comes from ``[returns.reasons]``; the refund deadline and the payout
run from ``[returns]`` (14 days after hand-in; Thursday/Friday runs, the
accountant's list due the Tuesday before).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.schema import ORDERS, RETURNS
from deskops.adapters.store import Store

from .clock import iso
from .plan import ADD, CREATE, REMOVE, Change, Plan
from .refunds import METHODS, check_details

REASONS = {  # CLI name → the usual name in a profile's [returns.reasons]
    "defect": "Брак",
    "incomplete": "Некомплект",
    "wrong-item": "Пересорт",
    "size": "Не подошёл размер",
    "colour": "Не подошёл цвет",
    "changed-mind": "Передумали",
}
TYPES = {"exchange": "Обмен", "return": "Возврат"}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CLOSED = ("Выплачено", "Закрыта", "Отменена")


@dataclass
class Reason:
    name: str
    free_delivery: bool
    refund_includes_delivery: bool


@dataclass
class ReturnsConfig:
    tz: tzinfo
    region: str
    id_prefix: str = "ЗНВ-"
    statuses: list[str] = field(default_factory=lambda: ["Новая"])
    types: dict[str, str] = field(default_factory=lambda: dict(TYPES))
    reasons: dict[str, Reason] = field(default_factory=dict)  # CLI name → reason
    refund_days: int = 14
    payout_weekdays: list[int] = field(default_factory=lambda: [3, 4])
    list_weekday: int = 1
    self_pickup: list[str] = field(default_factory=list)
    pickup_points: dict[str, str] = field(default_factory=dict)  # code → address
    comments: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)  # CLI name → profile name
    profile: dict[str, Any] = field(default_factory=dict)
    forms_dir: Path = Path(".")  # the affiliates' blank forms ([returns] forms_dir)

    def reason(self, name: str) -> Reason:
        if name not in self.reasons:
            raise UsageError(f"--reason {name!r}; valid: {', '.join(self.reasons)}")
        return self.reasons[name]

    def flag(self, key: str, default: str) -> str:
        return self.flags.get(key, default)


def returns_config(
    profile: dict[str, Any], tz: tzinfo, source: str, base: Path | None = None
) -> ReturnsConfig:
    sec = profile.get("returns") if isinstance(profile.get("returns"), dict) else {}
    assert isinstance(sec, dict)
    region = str(profile.get("profile", {}).get("country") or "RU")
    cfg = ReturnsConfig(tz=tz, region=region, profile=profile)
    cfg.id_prefix = str(sec.get("id_prefix", cfg.id_prefix))
    if sec.get("statuses"):
        cfg.statuses = [str(s) for s in sec["statuses"]]
    types = sec.get("types")
    if isinstance(types, list) and len(types) == 2:
        cfg.types = {"exchange": str(types[0]), "return": str(types[1])}
    raw = sec.get("reasons") if isinstance(sec.get("reasons"), dict) else {}
    assert isinstance(raw, dict)
    by_name = {v: k for k, v in REASONS.items()}
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise UsageError(f"{source}: [returns.reasons] {name}: expected a table")
        key = str(spec.get("key") or by_name.get(name) or name)
        cfg.reasons[key] = Reason(
            str(name), bool(spec.get("free_delivery")), bool(spec.get("refund_includes_delivery"))
        )
    if not cfg.reasons:
        for key, name in REASONS.items():
            free = key in ("defect", "incomplete", "wrong-item")
            cfg.reasons[key] = Reason(name, free, free)
    cfg.refund_days = int(sec.get("refund_within_days", cfg.refund_days))
    days = sec.get("payout_weekdays")
    if days:
        cfg.payout_weekdays = sorted(_weekday(d, source) for d in days)
    if sec.get("accountant_list_weekday"):
        cfg.list_weekday = _weekday(sec["accountant_list_weekday"], source)
    cfg.self_pickup = [str(x) for x in sec.get("self_pickup_points") or []]
    cfg.comments = {str(k): str(v) for k, v in (sec.get("comments") or {}).items()}
    flags = profile.get("flags") if isinstance(profile.get("flags"), dict) else {}
    assert isinstance(flags, dict)
    cfg.flags = {str(k): str(v) for k, v in flags.items() if isinstance(v, str)}
    names = sec.get("refund_methods") if isinstance(sec.get("refund_methods"), dict) else {}
    assert isinstance(names, dict)
    cfg.methods = {k: v for k, v in METHODS.items() if not names or v in names}
    points = sec.get("pickup_points_file")
    if points:
        cfg.pickup_points = read_pickup_points(Path(str(points)), base)
    forms = Path(str(sec.get("forms_dir") or "."))
    cfg.forms_dir = forms if forms.is_absolute() or base is None else base / forms
    return cfg


def _weekday(name: Any, source: str) -> int:
    text = str(name).strip().lower()
    for i, day in enumerate(WEEKDAYS):
        if day.startswith(text[:3]):
            return i
    raise UsageError(f"{source}: [returns] {name!r} is not a weekday")


def read_pickup_points(path: Path, base: Path | None) -> dict[str, str]:
    from deskops.adapters.files import Header, RowError, iter_records

    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.exists():
        raise UsageError(f"{path}: pick-up points file not found ([returns] pickup_points_file)")
    out = {}
    for line, row in iter_records(str(path), fmt="csv"):
        if isinstance(row, Header):
            continue
        if isinstance(row, RowError):
            raise UsageError(f"{path}:{line}: {row.message}")
        code = str(row.get("code") or "").strip()
        if code:
            out[code] = str(row.get("address") or "").strip()
    return out


# -- dates ---------------------------------------------------------------------------------------
def payout_date(cfg: ReturnsConfig, ready: date) -> tuple[date, date]:
    """(payout day, the accountant's list day before it) for a refund ready on ``ready``:
    the first list day on or after it, then the first payout weekday after that."""
    listed = ready
    while listed.weekday() != cfg.list_weekday:
        listed += timedelta(days=1)
    pay = listed + timedelta(days=1)
    while pay.weekday() not in cfg.payout_weekdays:
        pay += timedelta(days=1)
    return pay, listed


def run_of_week(cfg: ReturnsConfig, day: date) -> tuple[date, date, date]:
    """(list day, first and last payout day) of the payout run of the week of ``day``."""
    monday = day - timedelta(days=day.weekday())
    listed = monday + timedelta(days=cfg.list_weekday)
    days = [monday + timedelta(days=d) for d in cfg.payout_weekdays]
    return listed, min(days), max(days)


# -- the request ---------------------------------------------------------------------------------
@dataclass
class Request:
    order_id: str
    type: str  # exchange / return
    reason: str
    items: list[str] = field(default_factory=list)  # SKU[:QTY]
    pickup: str | None = None
    day: date | None = None  # the agreed date (hand-in, or the exchange delivery)
    replacement: list[str] = field(default_factory=list)  # SKU[:QTY][@PRICE]
    refund_method: str | None = None
    refund: dict[str, str | None] = field(default_factory=dict)
    agent: str = ""
    now: datetime | None = None


def _sku_qty(text: str, what: str) -> tuple[str, int, float | None]:
    m = re.fullmatch(r"\s*([^:@\s]+)(?::(\d+))?(?:@(\d+(?:[.,]\d+)?))?\s*", text)
    if not m:
        raise UsageError(f"{what} {text!r}: expected SKU, SKU:QTY or SKU:QTY@PRICE")
    qty = int(m.group(2) or 1)
    if qty < 1:
        raise UsageError(f"{what} {text!r}: the quantity must be at least 1")
    price = float(m.group(3).replace(",", ".")) if m.group(3) else None
    return m.group(1), qty, price


def returned_before(store: Store, order_id: str) -> dict[str, int]:
    """SKU → quantity already in return requests of the order (closed ones count too: the
    item went back)."""
    out: dict[str, int] = {}
    for r in store.query("SELECT items, status FROM returns WHERE order_id = ?", (order_id,)):
        if r["status"] == "Отменена":
            continue
        for it in json.loads(r["items"] or "[]"):
            out[str(it.get("sku"))] = out.get(str(it.get("sku")), 0) + int(it.get("qty") or 0)
    return out


def pick_items(order: dict[str, Any], wanted: list[str], before: dict[str, int]) -> list[dict]:
    lines = {str(i.get("sku")): i for i in order.get("items") or []}
    if not wanted:
        wanted = [f"{sku}:{int(i.get('qty') or 1) - before.get(sku, 0)}" for sku, i in
                  lines.items() if int(i.get("qty") or 1) - before.get(sku, 0) > 0]  # fmt: skip
        if not wanted:
            raise UsageError(f"order {order['id']}: every item is already in a return request")
    out = []
    for text in wanted:
        sku, qty, _ = _sku_qty(text, "--items")
        if sku not in lines:
            raise UsageError(
                f"--items {sku}: not in order {order['id']} (its items: {', '.join(lines)})"
            )
        left = int(lines[sku].get("qty") or 1) - before.get(sku, 0)
        if qty > left:
            raise UsageError(
                f"--items {sku}:{qty}: order {order['id']} has {left} of it not yet returned"
            )
        out.append({"sku": sku, "name": lines[sku].get("name"), "qty": qty,
                    "price": float(lines[sku].get("price") or 0)})  # fmt: skip
    return out


def check_pickup(cfg: ReturnsConfig, text: str | None) -> str:
    if not text or not text.strip():
        raise UsageError("--pickup: the pick-up point where the customer hands the item in")
    t = text.strip()
    for place in cfg.self_pickup:
        if t.casefold() in place.casefold():
            return place
    if cfg.pickup_points:
        code = t.split(",")[0].strip().upper()
        if code in cfg.pickup_points:
            return f"{code}, {cfg.pickup_points[code]}"
        raise UsageError(
            f"--pickup {t!r}: not a pick-up point ([returns] pickup_points_file) nor one of "
            f"the exceptions: {'; '.join(cfg.self_pickup) or 'none'}"
        )
    return t


def next_id(store: Store, prefix: str) -> str:
    best = 0
    for r in store.query("SELECT id FROM returns"):
        m = re.search(r"(\d+)$", str(r["id"]))
        if m and str(r["id"]).startswith(prefix):
            best = max(best, int(m.group(1)))
    return f"{prefix}{best + 1}"


def next_order_id(store: Store) -> str:
    best = 0
    for r in store.query("SELECT id FROM orders"):
        if str(r["id"]).isdigit():
            best = max(best, int(r["id"]))
    return str(best + 1)


def existing_request(
    store: Store, order_id: str, type_name: str, items: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """An open request of the same order, type and items: running create twice finds it."""
    want = sorted((i["sku"], i["qty"]) for i in items)
    for r in store.query(
        "SELECT id, type, status, items FROM returns WHERE order_id = ?", (order_id,)
    ):
        have = sorted((str(i.get("sku")), int(i.get("qty") or 0))
                      for i in json.loads(r["items"] or "[]"))  # fmt: skip
        if r["type"] == type_name and have == want and r["status"] not in CLOSED:
            return dict(r)
    return None


@dataclass
class Created:
    plan: Plan
    return_id: str
    summary: dict[str, Any]
    existing: dict[str, Any] | None = None


def _money(x: float) -> str:
    return f"{x:,.0f}".replace(",", " ") if float(x).is_integer() else f"{x:,.2f}".replace(",", " ")


def plan_create(
    store: Store,
    cfg: ReturnsConfig,
    req: Request,
    *,
    stock: dict[str, float] | None = None,
) -> Created:
    now = req.now or datetime.now().astimezone()
    if req.type not in TYPES:
        raise UsageError(f"--type {req.type!r}; valid: {', '.join(TYPES)}")
    order = store.get(ORDERS, req.order_id)
    if order is None:
        raise UsageError(f"no order {req.order_id!r} in the store")
    reason = cfg.reason(req.reason)
    type_name = cfg.types[req.type]
    # The same request again (its items are taken by itself by now) is found, not refused.
    found = existing_request(store, order["id"], type_name, pick_items(order, req.items, {}))
    if found is not None:
        return Created(Plan(command="returns create"), found["id"], {}, found)
    items = pick_items(order, req.items, returned_before(store, order["id"]))
    pickup = check_pickup(cfg, req.pickup)
    returned_total = round(sum(i["price"] * i["qty"] for i in items), 2)
    delivery = float(order.get("delivery_cost") or 0)
    rid = next_id(store, cfg.id_prefix)
    number = rid[len(cfg.id_prefix) :] if rid.startswith(cfg.id_prefix) else rid
    today = now.astimezone(cfg.tz).date()
    summary: dict[str, Any] = {
        "return": rid, "order": order["id"], "type": type_name, "reason": reason.name,
        "items": ", ".join(f"{i['sku']}×{i['qty']}" for i in items),
        "pickup_point": pickup, "free_delivery": reason.free_delivery,
    }  # fmt: skip
    details: dict[str, Any] | None = None
    method_name = None
    exchange_id = None
    refund_amount = None
    pay = deadline = listed = None
    amount_due = 0.0
    replacement: list[dict[str, Any]] = []
    if req.type == "return":
        if not req.refund_method:
            raise UsageError(f"--refund-method: one of {', '.join(cfg.methods)}")
        if req.refund_method not in cfg.methods:
            raise UsageError(
                f"--refund-method {req.refund_method!r}; valid: {', '.join(cfg.methods)}"
            )
        details = check_details(req.refund_method, req.refund, cfg.region)
        method_name = cfg.methods[req.refund_method]
        refund_amount = returned_total + (delivery if reason.refund_includes_delivery else 0)
        handed = req.day or today
        deadline = handed + timedelta(days=cfg.refund_days)
        pay, listed = payout_date(cfg, max(handed, today))
        summary.update({
            "refund_amount": refund_amount, "refund_method": method_name,
            "hand_in": handed.isoformat(), "refund_deadline": deadline.isoformat(),
            "accountant_list": listed.isoformat(), "payout_date": pay.isoformat(),
        })  # fmt: skip
    else:
        if req.refund_method:
            raise UsageError("--refund-method is for --type return; an exchange sends goods")
        if req.day is None:
            raise UsageError("--date: the agreed delivery date of the exchange")
        replacement = _replacement(order, items, req.replacement, stock)
        new_total = round(sum(i["price"] * i["qty"] for i in replacement), 2)
        amount_due = max(0.0, new_total - returned_total) + (
            0.0 if reason.free_delivery else delivery
        )
        exchange_id = next_order_id(store)
        summary.update({
            "exchange_order": exchange_id, "delivery_date": req.day.isoformat(),
            "replacement": ", ".join(f"{i['sku']}×{i['qty']}" for i in replacement),
            "amount_due": amount_due,
        })  # fmt: skip
    values = {
        "reason": reason.name, "return_no": number, "order_id": order["id"],
        "exchange_id": exchange_id or "—",
        "free_or_not": "бесплатно" if reason.free_delivery else "за счёт покупателя",
        "amount_due": _money(amount_due), "amount": _money(refund_amount or 0),
        "method": method_name or "", "payout_date": pay.strftime("%d.%m") if pay else "",
    }  # fmt: skip
    text = {k: _fill(cfg, k, values) for k in
            ("defective_order", "return_request", "exchange_order", "refund")}  # fmt: skip
    plan = Plan(command=f"returns create {order['id']} --type {req.type}")
    why = f"{type_name} {rid}"
    record = {
        "id": rid, "order_id": order["id"], "type": type_name, "reason": reason.name,
        "status": cfg.statuses[0], "items": items, "pickup_point": pickup,
        "handed_in_at": None, "refund_method": method_name, "refund_details": details,
        "refund_amount": refund_amount, "payout_date": pay.isoformat() if pay else None,
        "exchange_order_id": exchange_id, "created_at": iso(now),
        "extra": {
            "delivery_free": reason.free_delivery, "agreed_date": (req.day or today).isoformat(),
            "refund_deadline": deadline.isoformat() if deadline else None,
            "accountant_list": listed.isoformat() if listed else None,
            "amount_due": amount_due if req.type == "exchange" else None,
            "comment": text["return_request"], "agent": req.agent,
        },
    }  # fmt: skip
    plan.add(Change(f"returns:{rid}", "*", CREATE, None, record, why))
    target = f"orders:{order['id']}"
    note = text["defective_order"] if req.type == "exchange" else text["refund"]
    plan.add(Change(target, "comments", ADD, None, _comment(now, req.agent, note), why))
    flags = set(order.get("flags") or [])
    pending = cfg.flag("exchange_return", "Обмен/Возврат")
    if pending in flags:
        plan.add(Change(target, "flags", REMOVE, pending, None, why))
    if req.type == "return":
        refund_flag = cfg.flag("refund", "Возврат денег")
        if refund_flag not in flags:
            plan.add(Change(target, "flags", ADD, None, refund_flag, why))
    else:
        assert exchange_id is not None and req.day is not None
        new_order = _exchange_order(order, exchange_id, replacement, req, reason, rid, now)
        new_order["comments"] = [_comment(now, req.agent, text["exchange_order"])]
        if amount_due:
            new_order["flags"] = [cfg.flag("price_change", "Изменение стоимости")]
        from .importer import full_record

        new_order = full_record(ORDERS, new_order)
        plan.add(Change(f"orders:{exchange_id}", "*", CREATE, None, new_order, why))
    return Created(plan, rid, summary)


def _fill(cfg: ReturnsConfig, name: str, values: dict[str, Any]) -> str:
    defaults = {
        "defective_order": "{reason}. ЗНВ №{return_no}, ОБМЕН №{exchange_id}, доставка "
        "{free_or_not}.",
        "return_request": "БРАК №{order_id}, ОБМЕН №{exchange_id}",
        "exchange_order": "ОБМЕН по заказу №{order_id}. ЗНВ №{return_no}. К оплате: "
        "{amount_due} ₽.",
        "refund": "Возврат денег: -{amount} ₽, {method}. ЗНВ №{return_no}, выплата {payout_date}.",
    }
    template = cfg.comments.get(name, defaults[name])
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"[returns.comments] {name}: {exc!r} is not a known value") from None


def _comment(now: datetime, agent: str, text: str) -> dict[str, Any]:
    return {"at": iso(now), "author": agent, "text": text}


def _replacement(
    order: dict[str, Any],
    items: list[dict[str, Any]],
    wanted: list[str],
    stock: dict[str, float] | None,
) -> list[dict[str, Any]]:
    prices = {str(i.get("sku")): i for i in order.get("items") or []}
    out = []
    if not wanted:
        wanted = [f"{i['sku']}:{i['qty']}" for i in items]
    for text in wanted:
        sku, qty, price = _sku_qty(text, "--replacement")
        if price is None:
            if sku not in prices:
                raise UsageError(
                    f"--replacement {sku}: not in the order, so give its price (SKU:QTY@PRICE)"
                )
            price = float(prices[sku].get("price") or 0)
        if stock is not None:
            have = stock.get(sku, 0)
            if have < qty:
                raise UsageError(
                    f"--replacement {sku}: out of stock ({have:g} left, {qty} needed); offer "
                    "a return (--type return) or another item (--replacement SKU:QTY@PRICE)"
                )
        name = prices[sku].get("name") if sku in prices else None
        out.append({"sku": sku, "name": name, "qty": qty, "price": price})
    return out


def _exchange_order(
    order: dict[str, Any],
    new_id: str,
    items: list[dict[str, Any]],
    req: Request,
    reason: Reason,
    rid: str,
    now: datetime,
) -> dict[str, Any]:
    keep = ("site", "campaign", "customer_id", "customer_name", "phone", "email", "address",
            "city", "payment_method", "currency", "manager", "delivery_method",
            "timezone")  # fmt: skip
    rec = {k: order.get(k) for k in keep if order.get(k) is not None}
    delivery = 0.0 if reason.free_delivery else float(order.get("delivery_cost") or 0)
    rec.update({
        "id": new_id, "status": _first_status(order), "items": items,
        "total": round(sum(i["price"] * i["qty"] for i in items) + delivery, 2),
        "delivery_cost": delivery, "delivery_date": req.day.isoformat() if req.day else None,
        "created_at": iso(now),
        "extra": {**{k: v for k, v in (order.get("extra") or {}).items()
                     if k in ("affiliate", "affiliate_code")},
                  "exchange_for": order["id"], "return_request": rid},
    })  # fmt: skip
    return rec


def _first_status(order: dict[str, Any]) -> str:
    history = order.get("status_history") or []
    if history and history[0].get("status"):
        return str(history[0]["status"])
    return "Новый"


# -- reading ---------------------------------------------------------------------------------------
RETURN_FIELDS = [
    "id", "order_id", "type", "reason", "status", "items", "refund_amount", "refund_method",
    "refund_details", "payout_date", "exchange_order_id", "pickup_point", "created_at",
]  # fmt: skip


def return_rows(store: Store, *, status: str | None, order_id: str | None) -> list[dict]:
    rows = []
    for r in store.iter_records(RETURNS):
        if status and r.get("status") != status:
            continue
        if order_id and str(r.get("order_id")) != order_id:
            continue
        rows.append(r)
    rows.sort(key=lambda r: str(r.get("created_at") or ""), reverse=True)
    return rows


def items_text(items: Any) -> str:
    return ", ".join(f"{i.get('sku')}×{i.get('qty')}" for i in items or [])


def mail_values(created: Created) -> dict[str, Any]:
    """The placeholders of the customer's mail (``return_created``, ``exchange_created``)."""
    s = created.summary
    prefix_free = created.return_id.split("-")[-1]

    def day(text: Any) -> str:
        return date.fromisoformat(str(text)).strftime("%d.%m.%Y") if text else ""

    return {
        "return_no": prefix_free,
        "return_id": created.return_id,
        "return_items": s.get("items", ""),
        "pickup_point": s.get("pickup_point", ""),
        "refund_amount": _money(float(s.get("refund_amount") or 0)),
        "refund_method": s.get("refund_method", ""),
        "refund_deadline": day(s.get("refund_deadline")),
        "payout_date": day(s.get("payout_date")),
        "exchange_id": s.get("exchange_order", ""),
        "delivery_date": day(s.get("delivery_date")),
        "amount_due": _money(float(s.get("amount_due") or 0)),
        "free_or_not": "бесплатно" if s.get("free_delivery") else "за счёт покупателя",
    }


def affiliate_of(cfg: ReturnsConfig, order: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The order's storefront in ``[affiliates.*]``: by its code, its name or its site."""
    extra = order.get("extra") or {}
    affiliates = cfg.profile.get("affiliates") or {}
    for code, aff in affiliates.items():
        if not isinstance(aff, dict):
            continue
        if (
            code == extra.get("affiliate_code")
            or aff.get("name") == extra.get("affiliate")
            or (aff.get("site") and aff.get("site") == order.get("site"))
        ):
            return str(code), aff
    known = ", ".join(affiliates) or "none"
    raise UsageError(f"order {order['id']}: no [affiliates.*] entry for its storefront ({known})")


def form_of(cfg: ReturnsConfig, order: dict[str, Any]) -> Path:
    code, aff = affiliate_of(cfg, order)
    name = aff.get("return_form")
    if not name:
        raise UsageError(f"[affiliates.{code}] has no return_form")
    path = cfg.forms_dir / str(name)
    if not path.is_file():
        raise UsageError(f"{path}: the blank form of {aff.get('name') or code} is missing "
                         "([returns] forms_dir)")  # fmt: skip
    return path
