"""ops escalate: post a case to the chat channel of its topic, once."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskops.adapters.errors import OpsError, UsageError

from ..context import Ops, get
from ..options import CasesOpt, DryRun, Fields, Format, Yes, command_app

app = command_app("Post a case to the chat channel of its topic, mentioning its people, once.")

COLUMNS = ["case", "route", "topic", "channel", "mentions", "notify", "status", "text"]


@app.command("escalate")
def escalate(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="The case id (kintone $id).")],
    topic: Annotated[
        str | None,
        typer.Option(
            "--topic",
            help="A [[routing]] entry: its key (custom, purchase, order-support), name, or one "
            "of its topics (オーダーメイド). Default: the case's own topic.",
        ),
    ] = None,
    named: Annotated[
        str | None,
        typer.Option(
            "--named",
            help="The person the customer asked for: the only mention (entries with "
            "named_person_only). Default: the case's extra.requested_person.",
        ),
    ] = None,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            help="Where to post: slack+https://hooks.slack.com/services/…, telegram+https://"
            "api.telegram.org/?chat_id=…, line+https://api.line.me/?to=…, smtp://host:587/"
            "?to=…. Default: the entry's notify, else OPS_NOTIFY_URL.",
        ),
    ] = None,
    cases: CasesOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Post again although this case went to this topic.")
    ] = False,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show names, numbers and addresses in full.")
    ] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Post a case to the chat channel of its topic, mentioning its people, once.

    The routing comes from the profile's [[routing]] entries (channel, mentions,
    required values) and the text from [templates.routing_post]. Every required
    value the case lacks (purchase: name, company, phone, email; order-support:
    order_no, order_email — from the case, its extra.requester, its customer
    registration, or its text) is named in one error (exit 2) before anything is
    posted. The post is journaled: the same case and topic are posted once (a rerun
    says so and exits 0; --force posts again). The case's status becomes
    [escalation] status (エスカレーション中) in the same run, unless it is closed; on
    kintone only where the status field is mapped and writable. `ops undo RUN` puts
    the status back; the post stays. Personal values are masked in what is shown
    here unless --unmask; the post itself carries them (an internal channel).

    Example: ops -p support-ja escalate 18338 --topic custom --dry-run
    """
    ops = get(ctx)
    _escalate(ops, case_id, topic, named, notify, cases, force, unmask, dry_run, yes, fmt, fields)


def _status_backend(records: Any) -> tuple[str | None, dict[str, Any]]:
    """(the backend the status change goes to, the targets) — None where the status field
    of a backend's app is not mapped or not writable."""
    if records.backend == "store":
        return "store", {}
    adapter = records.adapter
    codes = (getattr(adapter, "fields", None) or {}).get("status")
    if not codes or len(codes) != 1 or not hasattr(adapter, "field_types"):
        return None, {}
    from deskops.adapters.kintone import WRITABLE

    if adapter.field_types().get(codes[0]) not in WRITABLE:
        return None, {}
    return records.backend, records.targets()


def _escalate(
    ops: Ops,
    case_id: str,
    topic: str | None,
    named: str | None,
    notify: str | None,
    cases_url: str | None,
    force: bool,
    unmask: bool,
    dry_run: bool,
    yes: bool,
    fmt: str | None,
    fields: str | None,
) -> None:
    from deskops.commands import escalate as esc
    from deskops.commands.clock import now_utc

    profile = ops.config.profile
    all_routes = esc.routes(profile)
    records = ops.records("cases", cases_url)
    case = records.get(case_id)
    if case is None:
        where = "the store" if records.backend == "store" else records.adapter.display
        raise UsageError(f"no case {case_id!r} in {where}")
    route, word = esc.pick_route(all_routes, topic, case)
    customer = None
    if case.get("customer_id"):
        customer = ops.records("customers").get(str(case["customer_id"]))
    esc.check_required(route, case, customer, profile)  # before anything else is done
    store = ops.store()
    dry = dry_run or ops.dry_run
    earlier = esc.already_posted(store, str(case["id"]), route)
    if earlier is not None and not force:
        ops.info(
            f"case {case['id']} was already posted to {route.channel or route.key} "
            f"(run {earlier['run_id']}, {earlier['at']}); nothing to do (--force posts again)"
        )
        return
    url = notify or route.notify or ops.config.get("notify.url")
    if not url and not dry:
        raise UsageError(
            "where to post? give --notify URL, the routing entry's notify, or OPS_NOTIFY_URL"
        )
    status_backend, targets = _status_backend(records)
    suffix = f":{now_utc():%Y%m%dT%H%M%S}" if earlier is not None else ""
    notifier = None
    try:
        if url:
            notifier = ops.notifier(url)
            targets[notifier.backend] = notifier
        planned = esc.plan_escalation(
            case, customer, route, word, profile,
            case_url=records.record_url(str(case["id"]), case),
            named=named,
            notify_backend=notifier.backend if notifier is not None else "notify:(not set)",
            status_backend=status_backend,
            suffix=suffix,
            mail=getattr(notifier, "service", "") == "email",
        )  # fmt: skip
        for note in planned.notes:
            ops.info(note)
        row = {
            "case": planned.case_id,
            "route": route.key,
            "topic": planned.topic,
            "channel": route.channel,
            "mentions": " ".join(planned.mentions),
            "notify": notifier.display if notifier is not None else "(not set)",
            "status": planned.status or "",
            "text": planned.text if unmask else planned.shown,
        }
        renderer = ops.renderer(fmt, fields)
        if dry:
            renderer.render([row], COLUMNS)
            ops.info("dry run: nothing was posted or changed")
            return
        if not (yes or ops.yes):
            _confirm(ops, f"post case {planned.case_id} to {route.channel or route.key}")
        result = ops.run_plan(
            planned.plan,
            what=f"escalate {planned.case_id}",
            yes=True,
            targets=targets,
            show=False,
            atomic=status_backend in ("store", None),  # a backend's app is not rolled back
        )
        if result is not None:
            renderer.render([{**row, "run": result.run_id}], [*COLUMNS, "run"])
    finally:
        if notifier is not None:
            notifier.close()


def _confirm(ops: Ops, what: str) -> None:
    if not ops.interactive:
        raise UsageError(f"{what}? rerun with --yes to post, or --dry-run to see the message")
    if not typer.confirm(f"{what}?", err=True):
        raise OpsError("nothing was posted")
