"""ops reservations: book, change, cancel and remind store reservations; surveys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskops.adapters.errors import AuthError, OpsError, PartialFailure, UsageError

from ..context import Ops, get
from ..options import AgentOpt, DryRun, Fields, Format, Yes, group

app = group("Book, change and cancel store reservations; reminders and satisfaction surveys.")

ResArg = Annotated[str, typer.Argument(help="The reservation (YX2601140012).")]
SmtpOpt = Annotated[
    str | None,
    typer.Option("--smtp", help="smtp://user@host:587?starttls=1 for e-mail (else OPS_SMTP_URL)."),
]
SmsOpt = Annotated[
    str | None,
    typer.Option(
        "--sms",
        help="twilio+https://ACCOUNT_SID@api.twilio.com/?from=+1… to send SMS (else OPS_SMS_URL, "
        "[sms] url; none: SMS waits in the outbox).",
    ),
]
NoMessageOpt = Annotated[
    bool, typer.Option("--no-message", help="Send the customer nothing (no SMS, push, mail).")
]
WaiveOpt = Annotated[
    str | None,
    typer.Option("--waive", help="Waive the fee, giving one of [changes.waivers] reasons."),
]


def _cfg(ops: Ops) -> Any:
    from deskops.commands.reservations import reservations_config

    return reservations_config(
        ops.config.profile, ops.tz, str(ops.config.profile_path or "profile")
    )


def _now() -> Any:
    from deskops.commands.clock import now_utc

    return now_utc()


def _senders(
    ops: Ops, smtp: str | None, sms: str | None, no_message: bool, agent: str | None
) -> Any:
    """E-mail through SMTP and SMS through the SMS sender when they are configured (the
    flag, else OPS_SMTP_URL / OPS_SMS_URL, else the profile's [smtp] / [sms] url); the rest
    is kept in the outbox."""
    from deskops.commands.plan import actor
    from deskops.commands.reservations import Senders

    if no_message:
        return Senders(None, "", agent or actor(), False)
    sender, address = ops.smtp(smtp)
    texts = None
    url = sms or ops.config.get("sms.url")
    if url:
        texts = ops.backend(f"sms:{url}")
        if not getattr(texts, "secret", True):  # before anything is booked or sent
            raise AuthError(f"{texts.display}: no credentials", hint=texts.secret_hint)
        texts.store = ops.store()
    return Senders(sender, address, agent or actor(), True, texts)


def _apply(
    ops: Ops,
    planned: Any,
    senders: Any,
    cfg: Any,
    *,
    what: str,
    fmt: str | None,
    fields: str | None,
    dry_run: bool,
    yes: bool,
    atomic: bool = True,
    bulk_needs_yes: bool = False,
) -> Any:
    """Show the summary, confirm a fee, apply, and show what the desk must send by hand.
    A plan of one reservation applies without asking (unless it carries a fee); remind and
    survey runs touch many records, so they need --yes without a terminal."""
    plan = planned.plan if hasattr(planned, "plan") else planned
    summary = getattr(planned, "summary", None)
    if summary:
        ops.info("; ".join(f"{k}: {v}" for k, v in summary.items() if v not in (None, "")))
    fee = getattr(planned, "fee", None)
    if fee is not None and fee.amount and not (yes or ops.yes or dry_run or ops.dry_run):
        kind = fee.kind.replace("_", "-")
        when = "" if fee.kind == "no_show" else f" {fee.hours_before:.1f} h before the start"
        text = f"{what}: a {kind}{when} carries a fee of {fee.text()}"
        if not ops.interactive:
            raise UsageError(f"{text}; rerun with --yes to apply it (or --dry-run to review)")
        if not typer.confirm(f"{text}. Apply?", err=True):
            raise OpsError("nothing was changed")
    try:
        result = ops.run_plan(plan, what=what, fmt=fmt, fields=fields, dry_run=dry_run,
                              yes=yes if bulk_needs_yes else True, atomic=atomic,
                              targets=senders.targets(ops.store(), cfg))  # fmt: skip
    except OpsError as exc:  # Twilio refused the token: exit 4, whatever else happened
        refused = getattr(senders.sms, "refused", None)
        if refused is None or isinstance(exc, AuthError):
            raise
        raise AuthError(f"{exc.message}; {refused.message}", hint=refused.hint) from None
    finally:
        senders.close()
    kept = [c.after for c in plan.changes if c.backend == "outbox" and c.outcome == "applied"]
    if len(kept) > 10:
        ops.info(f"{len(kept)} message(s) kept in the outbox to send by hand: "
                 "ops reservations outbox --since today")  # fmt: skip
    for a in kept if len(kept) <= 10 else []:
        ops.info(f"outbox, to send by hand: {a['channel']} to {a['to']}: "
                 + (f"{a['title']} — " if a.get("title") else "") + a["text"])  # fmt: skip
    return result


@app.command("create")
def create(
    ctx: typer.Context,
    store: Annotated[str | None, typer.Option("--store", help="Store code or name.")] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Service code or name ([resources.services]).")
    ] = None,
    when: Annotated[
        str | None,
        typer.Option("--time", help="Start (local): 2026-01-15 14:00, tomorrow 14:00, now."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The customer's name.")] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Mobile number.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="E-mail (optional).")] = None,
    channel: Annotated[
        str, typer.Option("--channel", help="website, app, third-party, phone or walk-in.")
    ] = "phone",
    customer: Annotated[
        str | None,
        typer.Option("--customer", help="Customer id; fills name, number and e-mail not given."),
    ] = None,
    staff: Annotated[
        str | None, typer.Option("--staff", help="The member of staff the customer asked for.")
    ] = None,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Third-party platform ([channels] platforms).")
    ] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="Notes for the store.")] = None,
    smtp: SmtpOpt = None,
    sms: SmsOpt = None,
    no_message: NoMessageOpt = False,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Book a reservation: every missing or malformed field is named at once (exit 2); then
    a qualified member of staff on shift and a free room or station of the service's kind
    are taken for its duration, claimed under a lock so that two desks cannot book the same
    slot. A taken slot is refused with the reason and the free times of that day (exit 1).
    The confirmation goes out in the customer's language by the channel's method
    ([confirmation] by_channel), and by e-mail when they left one. The same booking twice
    creates nothing; `ops undo RUN` removes it (messages cannot be unsent).

    Example: ops -p stores-zh reservations create --store SH01 --service TN60 \
      --time "2026-01-15 14:00" --name 王芳 --contact 13812345678 --channel app
    """
    from deskops.commands.reservations import Request, plan_create

    ops = get(ctx)
    cfg = _cfg(ops)
    senders = _senders(ops, smtp, sms, no_message, agent)
    req = Request(store, service, when, name, contact, email, channel, customer, staff,
                  platform, notes)  # fmt: skip
    planned = plan_create(ops.store(), cfg, req, _now(), senders)
    if planned.existing is not None:
        r = planned.existing
        ops.info(f"reservations create: {r['id']} already books this ({r['status']}); "
                 "nothing to do")  # fmt: skip
        return
    _apply(ops, planned, senders, cfg, what=f"reservations create {planned.record['id']}",
           fmt=fmt, fields=fields, dry_run=dry_run, yes=True)  # fmt: skip


@app.command("confirm")
def confirm(
    ctx: typer.Context,
    reservations: Annotated[
        list[str] | None,
        typer.Argument(help="Requests to confirm (default: every pending one, oldest first)."),
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Only this store's requests (code or name).")
    ] = None,
    smtp: SmtpOpt = None,
    sms: SmsOpt = None,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Confirm pending (待确认) online requests. Each is checked by the rules `create` uses:
    an incomplete or malformed one stays pending and the customer is asked to fix it
    ([validation] fix_request_template, every problem named; by the channel's method and
    e-mail, once per set of problems). A valid one gets its staff and room, claimed under
    the lock as `create` claims them, becomes 已确认, and the confirmation goes out; a
    taken slot stays pending with the free times of that day, for the desk to call. One
    row per request (outcome: confirmed, fix requested, fix needed, taken, already
    handled, not found, failed). Each request is its own run (`ops undo RUN` puts one back
    to pending; messages stay sent); an id that is not pending is a problem (exit 3), the
    others are still done. More than one request to change needs --yes without a terminal.

    Example: ops -p stores-zh reservations confirm --store SH01 --dry-run
    """
    from deskops.commands.reservations import (
        CONFIRM_DEFAULT,
        CONFIRM_FIELDS,
        apply_confirm,
        plan_confirm,
    )

    ops = get(ctx)
    cfg = _cfg(ops)
    shop = None
    if store:
        found = cfg.shop(store)
        if found is None:
            raise UsageError(f"--store {store!r}; valid: {', '.join(cfg.shops)}")
        shop = found.name
    senders = _senders(ops, smtp, sms, False, agent)
    try:
        decisions = plan_confirm(ops.store(), cfg, reservations or [], shop, _now(), senders)
        todo = [d for d in decisions if d.plan is not None and d.plan.changes]
        dry = dry_run or ops.dry_run
        if not dry and len(todo) > 1 and not (yes or ops.yes):
            what = f"reservations confirm would change or message {len(todo)} request(s)"
            if not ops.interactive:
                raise UsageError(f"{what}; rerun with --yes to apply or --dry-run to review")
            if not typer.confirm(f"{what}. Apply?", err=True):
                raise OpsError("nothing was changed")
        if not dry:
            with ops.progress(sum(len(d.plan.changes) for d in todo if d.plan), "confirm") as bar:
                apply_confirm(ops.store(), cfg, decisions, senders, bar)
    finally:
        senders.close()
    ops.renderer(fmt, fields).render(
        (d.row(cfg) for d in decisions), CONFIRM_FIELDS, CONFIRM_DEFAULT
    )
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.outcome] = counts.get(d.outcome, 0) + 1
    said = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no pending request"
    if dry:
        ops.info(f"reservations confirm (dry run): {said}; nothing was changed or sent")
        return
    ops.info(f"reservations confirm: {said}")
    refused = getattr(senders.sms, "refused", None)
    if refused is not None:  # Twilio refused the token: exit 4, whatever else happened
        raise AuthError(f"reservations confirm: {refused.message}", hint=refused.hint)
    problems = [d for d in decisions if d.problem]
    if problems:
        raise PartialFailure(
            f"reservations confirm: {len(problems)} of {len(decisions)} not done — "
            + "; ".join(f"{d.rid}: {d.detail}" for d in problems[:3])
        )


@app.command("change")
def change(
    ctx: typer.Context,
    reservation: ResArg,
    when: Annotated[str | None, typer.Option("--time", help="The new start (local).")] = None,
    service: Annotated[str | None, typer.Option("--service", help="Another service.")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Another store.")] = None,
    staff: Annotated[
        str | None, typer.Option("--staff", help="The member of staff asked for.")
    ] = None,
    waive: WaiveOpt = None,
    smtp: SmtpOpt = None,
    sms: SmsOpt = None,
    no_message: NoMessageOpt = False,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Move a reservation: the new time (or service, store, staff) is checked and claimed
    like a new booking, and the old one becomes 改期 pointing to it. Free up to [changes]
    change_notice_hours before the start; later, the [[changes.fees]] fee is shown and
    recorded, and needs --yes (or a yes at the prompt). `ops undo RUN` reverses it.

    Example: ops -p stores-zh reservations change YX2601140012 --time "2026-01-16 15:00"
    """
    from deskops.commands.reservations import ChangeRequest, plan_change

    ops = get(ctx)
    cfg = _cfg(ops)
    senders = _senders(ops, smtp, sms, no_message, agent)
    want = ChangeRequest(when, service, store, staff, waive)
    planned = plan_change(ops.store(), cfg, reservation, want, _now(), senders)
    _apply(ops, planned, senders, cfg, what=f"reservations change {reservation}", fmt=fmt,
           fields=fields, dry_run=dry_run, yes=yes)  # fmt: skip


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    reservation: ResArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded).")] = None,
    waive: WaiveOpt = None,
    smtp: SmtpOpt = None,
    sms: SmsOpt = None,
    no_message: NoMessageOpt = False,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Cancel a reservation and tell the customer. Free up to [changes] cancel_notice_hours
    before the start; later, the [[changes.fees]] fee is shown, recorded, and needs --yes
    (or a yes at the prompt); [changes.waivers] reasons waive it (--waive).

    Example: ops -p stores-zh reservations cancel YX2601140012 --reason 行程变更
    """
    from deskops.commands.reservations import plan_cancel

    ops = get(ctx)
    cfg = _cfg(ops)
    senders = _senders(ops, smtp, sms, no_message, agent)
    planned = plan_cancel(ops.store(), cfg, reservation, _now(), senders, reason=reason,
                          waive=waive)  # fmt: skip
    if planned is None:
        ops.info(f"reservations cancel: {reservation} is cancelled already; nothing to do")
        return
    _apply(ops, planned, senders, cfg, what=f"reservations cancel {reservation}", fmt=fmt,
           fields=fields, dry_run=dry_run, yes=yes)  # fmt: skip


@app.command("no-show")
def no_show(
    ctx: typer.Context,
    reservation: ResArg,
    waive: WaiveOpt = None,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Mark a customer who did not come (爽约), after the start, with the [changes.no_show]
    fee recorded; a fee needs --yes (or a yes at the prompt).

    Example: ops -p stores-zh reservations no-show YX2601140012 --yes
    """
    from deskops.commands.plan import actor
    from deskops.commands.reservations import Senders, plan_no_show

    ops = get(ctx)
    cfg = _cfg(ops)
    planned = plan_no_show(ops.store(), cfg, reservation, _now(), agent or actor(), waive)
    if planned is None:
        ops.info(f"reservations no-show: {reservation} is marked already; nothing to do")
        return
    _apply(ops, planned, Senders(enabled=False), cfg, what=f"reservations no-show {reservation}",
           fmt=fmt, fields=fields, dry_run=dry_run, yes=yes)  # fmt: skip


@app.command("complete")
def complete(
    ctx: typer.Context,
    reservation: ResArg,
    started: Annotated[
        str | None,
        typer.Option("--started-at", help="When the service really began (default: as booked)."),
    ] = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Record a delivered service (已完成) and when it began, for the on-time rate and the
    satisfaction survey.

    Example: ops -p stores-zh reservations complete YX2601140012 --started-at "14:10"
    """
    from deskops.commands.reservations import Senders, parse_time, plan_complete

    ops = get(ctx)
    cfg = _cfg(ops)
    now = _now()
    begin = parse_time(started, cfg.tz, now, what="--started-at") if started else None
    planned = plan_complete(ops.store(), cfg, reservation, now, begin)
    if planned is None:
        ops.info(f"reservations complete: {reservation} is completed already; nothing to do")
        return
    _apply(ops, planned, Senders(enabled=False), cfg,
           what=f"reservations complete {reservation}", fmt=fmt, fields=fields,
           dry_run=dry_run, yes=True)  # fmt: skip


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    store: Annotated[str | None, typer.Option("--store", help="Store code or name.")] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Reservations starting this day: a date, today, tomorrow."),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="confirmed, pending, … or the status name; repeatable."),
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Booking channel.")] = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Reservations by start time, in the profile's time zone, with the customer's name and
    number for the desk (the daily report masks them).

    Example: ops -p stores-zh reservations list --store SH01 --date tomorrow --status confirmed
    """
    from datetime import timedelta

    from deskops.commands.reservations import (
        RESERVATION_DEFAULT,
        RESERVATION_FIELDS,
        Filter,
        day_of,
        reservation_rows,
    )

    ops = get(ctx)
    cfg = _cfg(ops)
    f = Filter(customer_id=customer, statuses=[cfg.status(s) for s in status or []])
    if store:
        shop = cfg.shop(store)
        if shop is None:
            raise UsageError(f"--store {store!r}; valid: {', '.join(cfg.shops)}")
        f.store = shop.name
    if channel:
        key = cfg.channel(channel)
        if key is None:
            raise UsageError(f"--channel {channel!r}; valid: {', '.join(cfg.channels)}")
        f.channel = cfg.channels[key]
    if day:
        f.first = day_of(day, _now(), cfg.tz)
        f.last = f.first + timedelta(days=1)
    ops.renderer(fmt, fields).render(
        reservation_rows(ops.store(), cfg, f), RESERVATION_FIELDS, RESERVATION_DEFAULT
    )


@app.command("show")
def show(ctx: typer.Context, reservation: ResArg) -> None:
    """One reservation in full (JSON), local times, with the messages the customer was sent
    or that wait in the outbox.

    Example: ops -p stores-zh reservations show YX2601140012
    """
    from deskops.adapters.schema import RESERVATIONS
    from deskops.commands.reservations import message_log, row_of

    from ..output import dump_document

    ops = get(ctx)
    cfg = _cfg(ops)
    rec = ops.store().get(RESERVATIONS, reservation)
    if rec is None:
        raise UsageError(f"no reservation {reservation!r} (see `ops reservations list`)")
    doc = row_of(cfg, rec)
    doc["messages"] = message_log(ops.store(), reservation)
    dump_document(doc, ops.stdout)


@app.command("remind")
def remind(
    ctx: typer.Context,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="Remind every confirmed reservation starting within this (24h); default: "
            "the profile's [reminders] hours_before.",
        ),
    ] = None,  # fmt: skip
    smtp: SmtpOpt = None,
    sms: SmsOpt = None,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Reminders due now: SMS or app push by the booking channel (where the customer did
    not refuse them), and e-mail when they left an address; each once, so a second run
    sends nothing. Nothing goes out in [reminders] quiet_hours. For cron: --yes.

    Example: ops -p stores-zh reservations remind --yes
    """
    from deskops.commands.mailrules import parse_duration
    from deskops.commands.reservations import plan_remind

    ops = get(ctx)
    cfg = _cfg(ops)
    senders = _senders(ops, smtp, sms, False, agent)
    span = parse_duration(window, "--window") if window else None
    plan, held = plan_remind(ops.store(), cfg, _now(), senders, window=span)
    if held:
        quiet = cfg.quiet
        ops.info(f"reservations remind: quiet hours ({quiet[0]:%H:%M}–{quiet[1]:%H:%M}); "
                 f"{held} reminder(s) wait until {quiet[1]:%H:%M}")  # fmt: skip
        return
    _apply(ops, plan, senders, cfg, what="reservations remind", fmt=fmt, fields=fields,
           dry_run=dry_run, yes=yes, atomic=False, bulk_needs_yes=True)  # fmt: skip


@app.command("survey")
def survey(
    ctx: typer.Context,
    record: Annotated[
        tuple[str, int] | None,
        typer.Option("--record", help="Record an answer: RESERVATION SCORE (the [survey] scale)."),
    ] = None,
    comment: Annotated[
        str | None, typer.Option("--comment", help="The customer's words (with --record).")
    ] = None,
    smtp: SmtpOpt = None,
    sms: SmsOpt = None,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Satisfaction requests [survey] send_after_hours after each completed service (once
    each; --yes for cron), or with --record one customer's answer, which the daily report's
    reservations section counts; a low score gets a follow-up due date.

    Example: ops -p stores-zh reservations survey --record YX2601140012 5
    """
    from deskops.commands.reservations import Senders, plan_score, plan_survey

    ops = get(ctx)
    cfg = _cfg(ops)
    if record is not None:
        rid, score = record
        plan, info = plan_score(ops.store(), cfg, rid, int(score), _now(), comment)
        _apply(ops, plan, Senders(enabled=False), cfg, what=f"reservations survey --record {rid}",
               fmt=fmt, fields=fields, dry_run=dry_run, yes=True)  # fmt: skip
        if info["follow_up_due"]:
            ops.warn(f"{rid}: low score {score}; the manager of {info['store']} follows it up "
                     f"by {info['follow_up_due']}")  # fmt: skip
        return
    if comment:
        raise UsageError("--comment goes with --record RESERVATION SCORE")
    senders = _senders(ops, smtp, sms, False, agent)
    plan = plan_survey(ops.store(), cfg, _now(), senders)
    _apply(ops, plan, senders, cfg, what="reservations survey", fmt=fmt, fields=fields,
           dry_run=dry_run, yes=yes, atomic=False, bulk_needs_yes=True)  # fmt: skip


@app.command("outbox")
def outbox(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="Only those recorded since (date or time).")
    ] = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Messages no sender is configured for (app push; SMS without --sms / OPS_SMS_URL,
    e-mail without SMTP), recorded by the runs that made them, for the desk to send;
    undone_by names the undo of a run whose message is void.

    Example: ops -p stores-zh reservations outbox --since today -o csv
    """
    from deskops.commands.reservations import OUTBOX_FIELDS, day_of, outbox_rows, parse_time

    ops = get(ctx)
    cfg = _cfg(ops)
    start = None
    if since:
        word = since.strip().lower()
        if word in ("today", "yesterday"):
            start = day_of(word, _now(), cfg.tz, what="--since")
        else:
            start = parse_time(since, cfg.tz, _now(), what="--since")
    rows = outbox_rows(ops.store(), cfg, start)
    ops.renderer(fmt, fields).render(
        rows, OUTBOX_FIELDS, ["at", "channel", "to", "text", "undone_by"]
    )
