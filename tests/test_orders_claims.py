"""16 agents claiming from one queue of 2,000 orders at once: never the same order twice,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from typing import Any

from deskops.fixtures import FIXTURES_DIR

AGENTS = 16
ORDERS = 2000


def _agent(url: str, agent: str, out: Any, start: Any) -> None:
    import tomllib

    from deskops.adapters.orders import StoreOrders
    from deskops.adapters.store import Store
    from deskops.commands.clock import parse_datetime, zone
    from deskops.commands.orders import orders_config, queue_rows, try_claim

    profile = tomllib.loads((FIXTURES_DIR / "profiles" / "pharmacy-uk.toml").read_text("utf-8"))
    cfg = orders_config(profile, zone("Europe/Kyiv"))
    now = parse_datetime("2026-11-23T10:30:00+02:00", cfg.tz)
    store = Store.open(url)
    won = []
    ids = [str(r.order["id"]) for r in queue_rows(StoreOrders(store), store, cfg, now)]
    start.wait(timeout=240)  # every agent has read the queue: they all start claiming at once
    # Every agent races for every order: half from the front of the queue, half from its
    # back, so the two packs also meet. One pack alone can be led by one agent from the
    # first order to the last when the others are scheduled late (a loaded CI machine).
    if int(agent.removeprefix("agent")) % 2:
        ids.reverse()
    for oid in ids:
        with store.transaction():
            if try_claim(store, oid, agent, now, cfg.claim_ttl):
                won.append(oid)
    store.close()
    out.put((agent, len(ids), won))


def test_sixteen_agents_never_claim_the_same_order(store_url: str) -> None:
    from deskops.adapters.schema import ORDERS as ENTITY
    from deskops.adapters.store import Store

    store = Store.open(store_url)
    with store.transaction():
        for i in range(ORDERS):
            store.insert(ENTITY, {
                "id": f"{200000 + i}", "status": "pending", "payment_method": "banktransfer",
                "campaign": "country stores", "support_called": False, "phone": "+380671234567",
                "created_at": f"2026-11-2{2 + i % 2}T0{i % 9}:{i % 60:02d}:00+02:00",
            })  # fmt: skip
    store.close()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start = ctx.Barrier(AGENTS)
    procs = [ctx.Process(target=_agent, args=(store_url, f"agent{n}", out, start))
             for n in range(AGENTS)]  # fmt: skip
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    claimed = [oid for _, _, won in results for oid in won]
    tally = {agent: (seen, len(won)) for agent, seen, won in results}  # shown on a failure
    assert all(seen == ORDERS for _, seen, _ in results), tally  # each saw the whole queue
    assert len(claimed) == len(set(claimed)) == ORDERS, tally  # every order once, none twice
    assert sum(1 for _, _, won in results if won) > 1, tally  # the agents really raced
