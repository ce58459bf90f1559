"""Checkpoints: where a recurring run stopped reading, kept in the store.

They are the toolkit's own state, not domain data, so they are written
directly rather than journaled (undoing a labeling run must not make the
next cron run read the same mail again as new).
"""

from __future__ import annotations

import json
from typing import Any

from deskops.adapters.schema import CHECKPOINTS
from deskops.adapters.store import Store

from .clock import iso, now_utc


def get(store: Store, name: str) -> dict[str, Any] | None:
    rec = store.get(CHECKPOINTS, name, children=False)
    if rec is None or not rec.get("value"):
        return None
    try:
        value = json.loads(rec["value"])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def put(store: Store, name: str, value: dict[str, Any]) -> None:
    text = json.dumps(value, sort_keys=True)
    with store.transaction():
        if store.get(CHECKPOINTS, name, children=False) is None:
            store.insert(CHECKPOINTS, {"id": name, "value": text, "updated_at": iso(now_utc())})
        else:
            store.set_field(CHECKPOINTS, name, "value", text)
            store.set_field(CHECKPOINTS, name, "updated_at", iso(now_utc()))
