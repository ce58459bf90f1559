"""ops calls: import PBX call logs, the missed-call callback list, callbacks, billing check."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskops.adapters.errors import PartialFailure, UsageError

from ..context import Ops, get
from ..options import AgentOpt, DryRun, Fields, Format, Yes, group

app = group("Import call logs, list missed calls to call back, record callbacks, check billing.")

TzOpt = Annotated[
    str | None,
    typer.Option("--tz", help="Time zone of the times in the log (default: the profile's)."),
]
# --format is the log's format on import/fetch, so the output format is -o/--output there
OutputOpt = Annotated[
    str | None, typer.Option("--output", "-o", help="table, json, jsonl, csv or tsv.")
]
RejectsOpt = Annotated[
    str | None, typer.Option("--rejects", help="Write every rejected row or call here.")
]
MAX_SHOWN_PROBLEMS = 100


def _cfg(ops: Ops) -> Any:
    from deskops.commands.calls import calls_config

    return calls_config(ops.config.profile, ops.tz, str(ops.config.profile_path or "profile"))


def _zone(ops: Ops, tz: str | None) -> Any:
    from deskops.commands.clock import zone

    return zone(tz) if tz else ops.tz


class _Problems:
    """Rejected rows: the first ones on stderr, all of them in ``--rejects FILE``."""

    def __init__(self, ops: Ops, path: str | None) -> None:
        self.ops = ops
        self.shown = 0
        self.total = 0
        self.out = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def __call__(self, text: str) -> None:
        self.total += 1
        if self.out is not None:
            self.out.write(text + "\n")
        if self.shown < MAX_SHOWN_PROBLEMS:
            self.shown += 1
            self.ops.stderr.write(f"ops: {text}\n")

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
        if self.total > self.shown:
            more = self.total - self.shown
            hint = "" if self.out is not None else " (--rejects FILE lists them all)"
            self.ops.stderr.write(f"ops: … and {more} more rejected rows{hint}\n")


def _import_stream(
    ops: Ops,
    items: Any,
    *,
    what: str,
    dry_run: bool,
    problems: _Problems,
) -> Any:
    from deskops.adapters.schema import CALLS
    from deskops.commands.plan import create_stream

    store = ops.store()
    try:
        return create_stream(
            what, CALLS, items, store, reason=what, dry_run=dry_run or ops.dry_run,
            on_problem=problems,
        )  # fmt: skip
    finally:
        problems.close()


def _report(ops: Ops, rows: list[dict[str, Any]], fmt: str | None, fields: str | None) -> None:
    cols = ["source", "format", "created", "present", "rejected", "run"]
    ops.renderer(fmt, fields).render(rows, cols)
    rejected = sum(r["rejected"] for r in rows)
    if any(r["run"] == "dry run" for r in rows):
        ops.info("dry run: nothing was imported")
    if rejected:
        raise PartialFailure(f"calls import: {rejected} row(s) rejected; the rest were imported")


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="Call log files, or - for stdin.")],
    fmt_in: Annotated[
        str,
        typer.Option("--format", help="auto, sipuni, asterisk or twilio-json."),
    ] = "auto",
    tz: TzOpt = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Text encoding (default: detected).")
    ] = None,
    rejects: RejectsOpt = None,
    dry_run: DryRun = False,
    out: OutputOpt = None,
    fields: Fields = None,
) -> None:
    """Import call logs: sipuni CSV, Asterisk Master.csv or Twilio JSON, read as a stream.

    The encoding (UTF-8, BOM, CP1251) and the format are detected. Importing the
    same file twice adds nothing; rows that cannot be read are reported with their
    line (exit 3) while the good rows are imported. Journaled: `ops undo RUN`
    removes what a run imported.

    Example: ops -p toys-ru calls import calls/sipuni-*.csv
    """
    from deskops.adapters.calllogs import FORMATS, iter_calls
    from deskops.commands.calls import call_items

    if fmt_in not in FORMATS:
        raise UsageError(f"--format {fmt_in}: unknown; valid: {', '.join(FORMATS)}")
    ops = get(ctx)
    cfg = _cfg(ops)
    zone = _zone(ops, tz)
    rows = []
    for path in files:
        detected: dict[str, str] = {}

        def records(path: str = path, detected: dict[str, str] = detected) -> Any:
            from deskops.adapters.files import open_text

            fmt = fmt_in
            if fmt == "auto" and path != "-":
                from deskops.adapters.calllogs import sniff_format

                fmt = sniff_format(open_text(path, encoding).readline())
            detected["format"] = fmt
            name = "<stdin>" if path == "-" else path
            yield from call_items(
                iter_calls(path, fmt=fmt, tz=zone, encoding=encoding, region=cfg.region), name
            )

        problems = _Problems(ops, rejects)
        result = _import_stream(
            ops, records(), what=f"calls import {path}", dry_run=dry_run, problems=problems
        )
        rows.append({
            "source": path, "format": detected.get("format", fmt_in), **result.counts,
            "run": result.run_id or "dry run",
        })  # fmt: skip
    _report(ops, rows, out, fields)


@app.command("fetch")
def fetch(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="First day (date, today, yesterday).")],
    until: Annotated[
        str | None, typer.Option("--until", help="Last day, inclusive (default: today).")
    ] = None,
    calls_url: Annotated[
        str | None,
        typer.Option(
            "--calls",
            help="sipuni+https://ACCOUNT@sipuni.com or twilio+https://ACCOUNT_SID@api.twilio.com "
            "(default: OPS_CALLS_URL); the secret from OPS_SIPUNI_SECRET / OPS_TWILIO_TOKEN "
            "or OPS_CALLS_SECRET.",
        ),
    ] = None,
    rejects: RejectsOpt = None,
    dry_run: DryRun = False,
    out: OutputOpt = None,
    fields: Fields = None,
) -> None:
    """Fetch call logs from the sipuni or Twilio API into the store (paged, retried).

    Idempotent like `calls import`: fetching the same days again adds nothing.
    The secret comes from OPS_SIPUNI_SECRET / OPS_TWILIO_TOKEN (or OPS_CALLS_SECRET).

    Example: ops -p toys-ru calls fetch --since yesterday --calls sipuni+https://012345@sipuni.com
    """
    from deskops.commands.calls import call_items
    from deskops.commands.clock import now_utc

    ops = get(ctx)
    cfg = _cfg(ops)
    url = calls_url or ops.config.get("calls.url")
    if not url:
        raise UsageError("no call log API: give --calls URL or set OPS_CALLS_URL")
    api = ops.backend(f"calls:{url}")
    now = now_utc()
    first = cfg.orders.when(since, now, what="--since").astimezone(cfg.tz).date()
    last = (
        cfg.orders.when(until, now, what="--until").astimezone(cfg.tz).date()
        if until
        else now.astimezone(cfg.tz).date()
    )
    if last < first:
        raise UsageError(f"--until {last} is before --since {first}")
    problems = _Problems(ops, rejects)
    try:
        result = _import_stream(
            ops,
            call_items(api.calls(first, last, tz=cfg.tz, region=cfg.region), api.display),
            what=f"calls fetch {first}..{last}",
            dry_run=dry_run,
            problems=problems,
        )
    finally:
        api.close()
    row = {
        "source": api.display, "format": api.kind, **result.counts,
        "run": result.run_id or "dry run",
    }  # fmt: skip
    ops.info(f"{api.display}: {api.requests} request(s)")
    _report(ops, [row], out, fields)


@app.command("missed")
def missed_cmd(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From (default: the start of the last business day)."),
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to (default: now).")] = None,
    exclude_line: Annotated[
        list[str] | None,
        typer.Option("--exclude-line", help="Also leave out this line (name or number)."),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also show callers already reached (handled).")
    ] = False,
    mark_handled: Annotated[
        bool,
        typer.Option(
            "--mark-handled",
            help="Record a handled mark (comment + agent) for each caller already reached.",
        ),
    ] = False,  # fmt: skip
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """The callback list: missed inbound calls per caller, newest first, with the customer
    and open orders found by the number.

    A caller counts as handled when a later answered call with the same number exists
    (either direction) or a callback reached them; the profile's internal lines are
    left out. Shows the open callers; --all adds the handled ones (when, who talked).

    Example: ops -p toys-ru calls missed --since yesterday
    """
    from deskops.commands.calls import (
        CALLER_FIELDS,
        caller_rows,
        describe,
        missed,
        plan_mark_handled,
        since_until,
    )
    from deskops.commands.clock import now_utc
    from deskops.commands.plan import actor

    ops = get(ctx)
    cfg = _cfg(ops)
    start, end = since_until(cfg, since, until, now_utc())
    store = ops.store()
    shown, handled, hidden = missed(store, cfg, start, end, exclude_lines=exclude_line or [],
                                    handled=show_all or mark_handled)  # fmt: skip
    describe(store, cfg, shown)
    if mark_handled:
        plan = plan_mark_handled(cfg, shown, agent or actor())
        ops.run_plan(plan, what="calls missed --mark-handled", fmt=fmt, fields=fields,
                     dry_run=dry_run, yes=yes)  # fmt: skip
    else:
        default = ["number", "caller", "misses", "first_miss", "last_miss", "line",
                   "attempts", "customer", "orders"]  # fmt: skip
        if show_all:
            default[3:3] = ["status", "contact_at", "talked"]
        ops.renderer(fmt, fields).render(caller_rows(shown, cfg.tz), CALLER_FIELDS, default)
    to_call = sum(1 for c in shown if not c.handled)
    ops.info(
        f"{to_call} caller(s) to call back, {handled} already reached"
        + (f"; {hidden} missed call(s) without a callable number left out" if hidden else "")
    )


@app.command("callback")
def callback(
    ctx: typer.Context,
    who: Annotated[str, typer.Argument(help="The caller's phone number, or an order id.")],
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome",
            help="reached, no-answer, voicemail, wrong-number, not-needed "
            "(the profile's [calls.outcomes] when it has them).",
        ),
    ],  # fmt: skip
    note: Annotated[str | None, typer.Option("--note", help="What was said or agreed.")] = None,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Record a callback; an outcome that reached the caller takes them off the list.

    Example: ops -p toys-ru calls callback "+7 999 572-33-84" --outcome reached --note "заказ 1042"
    """
    from deskops.commands.calls import plan_callback, resolve_caller
    from deskops.commands.clock import now_utc
    from deskops.commands.plan import actor

    ops = get(ctx)
    cfg = _cfg(ops)
    cfg.outcome(outcome)
    number, order_id = resolve_caller(ops.store(), cfg, who)
    plan = plan_callback(cfg, number, outcome=outcome, note=note, agent=agent or actor(),
                         now=now_utc(), order_id=order_id)  # fmt: skip
    ops.run_plan(plan, what="calls callback", fmt=fmt, fields=fields, dry_run=dry_run)


@app.command("billing-check")
def billing_check_cmd(
    ctx: typer.Context,
    day: Annotated[
        str, typer.Option("--date", help="The day to check (date, yesterday, today).")
    ] = "yesterday",
    tariffs: Annotated[
        str | None,
        typer.Option(
            "--tariffs",
            help="CSV with line, billing (per_minute|per_second), "
            "rate_per_minute[, number]; overrides the profile's [[lines]].",
        ),
    ] = None,  # fmt: skip
    summary: Annotated[
        bool, typer.Option("--summary", help="Rows per line instead of the deviations.")
    ] = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Check a day's charges: per-minute lines (8-800) in whole started minutes,
    per-second lines by the second; each deviation with the expected amount, and a
    summary per line for the head of sales. Exit 1 when there are deviations.

    Example: ops -p toys-ru calls billing-check --date yesterday
    """
    from deskops.commands.calls import (
        DEVIATION_FIELDS,
        SUMMARY_FIELDS,
        billing_check,
        read_tariffs,
    )
    from deskops.commands.clock import now_utc

    from ..output import dump_document

    ops = get(ctx)
    cfg = _cfg(ops)
    if tariffs:
        read_tariffs(tariffs, cfg)
    d = cfg.orders.when(day, now_utc(), what="--date").astimezone(cfg.tz).date()
    result = billing_check(ops.store(), cfg, d)
    renderer = ops.renderer(fmt, fields)
    if renderer.fmt == "json" and not fields:
        dump_document(
            {"date": d.isoformat(), "deviations": result.deviations, "summary": result.summary},
            ops.stdout,
        )
    elif summary:
        renderer.render(result.summary, SUMMARY_FIELDS)
    else:
        renderer.render(result.deviations, DEVIATION_FIELDS, title=f"deviations {d}")
        if renderer.fmt == "table":
            renderer.render(result.summary, SUMMARY_FIELDS, title=f"per line {d}")
    n = len(result.deviations)
    diff = round(sum(r["difference"] for r in result.deviations), 2)
    no_tariff = sum(s["no_tariff"] for s in result.summary)
    ops.info(
        f"{d}: {sum(s['calls'] for s in result.summary)} charged call(s), {n} deviation(s)"
        + (f", {diff:+.2f} overall" if n else "")
        + (f"; {no_tariff} call(s) on lines without a tariff" if no_tariff else "")
    )
    if n:
        raise typer.Exit(1)
