"""ops report: the daily report and the weekly/monthly/quarterly reviews."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from deskops.adapters.errors import UsageError

from ..context import Ops, get
from ..options import Fields, group

app = group("Daily report per agent, mail, orders, calls, returns, reservations; and ranges.")

SectionOpt = Annotated[
    list[str] | None,
    typer.Option("--section", help="agents, mail, orders, calls, returns, reservations; "
                 "repeatable (default: all)."),
]  # fmt: skip
UnmaskOpt = Annotated[
    bool, typer.Option("--unmask", help="Show customer names, numbers and addresses in full.")
]
OutOpt = Annotated[
    str | None,
    typer.Option("--format", "-o", help="table, json, csv, tsv, jsonl (one section) or html."),
]


def _context(ops: Ops, unmask: bool, by: str | None = None) -> Any:
    from deskops.commands.clock import now_utc
    from deskops.commands.report import BY, Context

    if by is not None and by not in BY:
        raise UsageError(f"--by {by!r}; valid: {', '.join(BY)}")
    return Context(ops.store(), ops.config.profile, ops.tz, now_utc(), unmask, by)


def _day(ops: Ops, text: str, what: str) -> date:
    from deskops.commands.clock import now_utc
    from deskops.commands.orders import orders_config

    cfg = orders_config(ops.config.profile, ops.tz)
    return cfg.when(text, now_utc(), what=what).astimezone(ops.tz).date()


def _profile_name(ops: Ops) -> str:
    prof = ops.config.profile.get("profile", {})
    return str(prof.get("name") or ops.config.get("profile") or "ops")


@app.command("daily")
def daily(
    ctx: typer.Context,
    day: Annotated[
        str, typer.Option("--date", help="The day (date, today, yesterday, last-business-day).")
    ] = "today",
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Group rows by agent, store, affiliate or line where a section "
            "can (mail per storefront, orders and returns per storefront…).",
        ),
    ] = None,  # fmt: skip
    section: SectionOpt = None,
    unmask: UnmaskOpt = False,
    send: Annotated[
        list[str] | None,
        typer.Option(
            "--send",
            help="Post the summary: slack+https://hooks.slack.com/services/…, "
            "telegram+https://api.telegram.org/?chat_id=…, line+https://api.line.me/"
            "?to=…, smtp://host:587/?to=…; repeatable.",
        ),
    ] = None,  # fmt: skip
    force: Annotated[
        bool, typer.Option("--force", help="Post again even if this day's report went out.")
    ] = False,
    fmt: OutOpt = None,
    fields: Fields = None,
) -> None:
    """The day's report: one table per section (and a bar chart per agent) on a terminal,
    one JSON document with -o json, one section's rows with -o csv/tsv/jsonl, a
    self-contained HTML page with charts with -o html. Personal data masked unless
    --unmask.

    Example: ops -p toys-ru report daily --date yesterday --section agents -o csv
    """
    from deskops.commands.report import build, day_window, document, pick_sections

    ops = get(ctx)
    names = pick_sections(section)
    rc = _context(ops, unmask, by)
    if not (send and fmt is None):  # a report only sent writes nothing here
        _one_section(ops, fmt, names)
    w = day_window(_day(ops, day, "--date"), ops.tz)
    sections = build(rc, w, names)
    doc = document(w, sections, _profile_name(ops))
    if send:
        _send(ops, doc, send, force)
        if fmt is None:
            return
    _emit(ops, doc, sections, fmt, fields)


def _send(ops: Ops, doc: dict[str, Any], urls: list[str], force: bool) -> None:
    """Post the summary to each URL, once per day and channel unless --force."""
    from deskops.commands.clock import now_utc
    from deskops.commands.plan import SEND, Change, Plan
    from deskops.commands.report import summary_text

    key = f"report-{doc['profile']}-{doc['from']}"
    if force:
        key += f"-{now_utc().strftime('%H%M%S')}"
    after = {"text": summary_text(doc), "title": f"ops report {doc['from']}"}
    plan = Plan(command=f"report daily {doc['from']} --send")
    plan.add(Change(f"outbox:{key}", "*", SEND, None, after, "daily report", "notify"))
    ops.post(plan, urls, what="report daily --send")


@app.command("range")
def range_cmd(
    ctx: typer.Context,
    first: Annotated[str, typer.Option("--from", help="First day.")],
    last: Annotated[str, typer.Option("--to", help="Last day (inclusive).")],
    by: Annotated[
        str, typer.Option("--by", help="day, week, month or quarter: one row per period.")
    ] = "week",
    section: SectionOpt = None,
    unmask: UnmaskOpt = False,
    fmt: OutOpt = None,
    fields: Fields = None,
) -> None:
    """The reviews: each section's totals per period (week, month, quarter) between two
    days, and over the whole range.

    Example: ops -p stores-zh report range --from 2026-01-01 --to 2026-03-31 --by month
    """
    from deskops.commands.report import build_periods, document, periods, pick_sections

    ops = get(ctx)
    names = pick_sections(section)
    _one_section(ops, fmt, names)
    lo, hi = _day(ops, first, "--from"), _day(ops, last, "--to")
    if hi < lo:
        raise UsageError(f"--to {hi} is before --from {lo}")
    rc = _context(ops, unmask)
    windows = periods(lo, hi, by, ops.tz)
    built = build_periods(rc, windows, names)
    name = _profile_name(ops)
    docs = [document(w, sections, name) for w, sections in zip(windows, built, strict=True)]
    rows = [
        {"period": d["from"] if d["from"] == d["to"] else f"{d['from']}..{d['to']}",
         "section": name, **{k: v for k, v in sec["totals"].items()
                             if not isinstance(v, dict | list)}}
        for d in docs for name, sec in d["sections"].items()
    ]  # fmt: skip
    if fmt == "html":
        from ..report_html import range_page

        ops.stdout.write(range_page(docs, _profile_name(ops), by))
        return
    renderer = ops.renderer(fmt, fields)
    if renderer.fmt == "json":
        from ..output import dump_document

        dump_document({"report": "range", "from": lo.isoformat(), "to": hi.isoformat(),
                       "by": by, "periods": docs}, ops.stdout)  # fmt: skip
        return
    for name in names:
        mine = [r for r in rows if r["section"] == name]
        cols = ["period", *[k for k in mine[0] if k not in ("period", "section")]] if mine else []
        renderer.render(mine, cols or ["period"], title=name if renderer.fmt == "table" else None)


def _one_section(ops: Ops, fmt: str | None, names: list[str]) -> None:
    """Rows formats (csv, tsv, jsonl) carry one section; say so before any work is done."""
    if fmt == "html" or len(names) == 1:
        return
    resolved = ops.renderer(fmt, None).fmt
    if resolved not in ("table", "json"):
        raise UsageError(f"-o {resolved} writes one section: add --section NAME")


def _emit(ops: Ops, doc: dict[str, Any], sections: dict[str, Any], fmt: str | None,
          fields: str | None) -> None:  # fmt: skip
    from ..output import dump_document

    if fmt == "html":
        from ..report_html import daily_page

        ops.stdout.write(daily_page(doc))
        return
    renderer = ops.renderer(fmt, fields)
    if renderer.fmt == "json":
        dump_document(doc, ops.stdout)
        return
    if renderer.fmt != "table":
        (sec,) = sections.values()  # one section: _one_section checked it
        renderer.render(sec.rows, sec.columns)
        return
    for name, sec in sections.items():
        if not sec.rows:
            ops.stdout.write(f"\n{name} {doc['from']}\n")
        renderer.render(sec.rows, sec.columns, title=f"{name} {doc['from']}")
        totals = ", ".join(f"{k} {v}" for k, v in sec.totals.items() if v not in (None, {}, []))
        ops.stdout.write(f"  {totals}\n")
        for key, rows in sec.details.items():
            if rows:
                renderer.render(rows, list(rows[0]), title=key.replace("_", " "))
        if name == "agents" and sec.rows:
            ops.stdout.write(bars(sec.rows) + "\n")


def bars(rows: list[dict[str, Any]], width: int = 30) -> str:
    """A bar per agent: cases and calls handled, and handling minutes."""
    work = {r["agent"]: r["cases"] + r["calls_answered"] + r["calls_made"] for r in rows}
    top = max(work.values()) or 1
    name_w = max(len(n) for n in work)
    lines = ["  work per agent (cases + calls)"]
    for name, n in sorted(work.items(), key=lambda kv: -kv[1])[:25]:
        lines.append(f"  {name:<{name_w}} {'█' * max(1 if n else 0, round(n / top * width))} {n}")
    return "\n".join(lines)
