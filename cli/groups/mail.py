"""ops mail: rules over mail that has arrived, the awaiting-reply lifecycle, bounces, SLA."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskops.adapters.errors import PartialFailure, UsageError

from ..context import Ops, get
from ..options import DryRun, Fields, Format, Yes, group, read_ids

app = group("Label mail by rules, follow replies, find bounces and unanswered mail.")
rules_app = group("Check the profile's mail rules.")
app.add_typer(rules_app, name="rules")

MailboxOpt = Annotated[
    str | None,
    typer.Option(
        "--mailbox",
        "-m",
        help="maildir:///path, or a mailbox name in the store "
        "(default: OPS_MAIL_URL, else every message in the store).",
    ),
]
FolderOpt = Annotated[str | None, typer.Option("--folder", help="Only this folder.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only messages since this date/time.")
]
RulesOpt = Annotated[
    str | None,
    typer.Option("--rules", help="A TOML file with [[mail.rules]] (default: the profile's)."),
]


def open_mailbox(ops: Ops, url: str | None) -> Any:
    from deskops.adapters.mailbox import StoreMailbox
    from deskops.adapters.registry import scheme_of

    url = url or ops.config.get("mail.url")
    if url and scheme_of(str(url)):
        return ops.backend(f"mail:{url}")
    return StoreMailbox(ops.store(), mailbox=url or None)


def _context(ops: Ops, with_customers: bool = True) -> Any:
    from deskops.commands.clock import now_utc
    from deskops.commands.mail import rule_context

    return rule_context(
        ops.config.profile, tz=ops.tz, now=now_utc(), store=ops.store() if with_customers else None
    )


def _rules(ops: Ops, rules_file: str | None) -> tuple[list[Any], dict[str, Any], str]:
    from pathlib import Path

    from deskops.commands.mailrules import load_rules

    from ..config import read_toml

    if rules_file:
        data = read_toml(Path(rules_file))
        source = rules_file
    else:
        data = ops.config.profile
        source = str(ops.config.profile_path or "profile")
    mail = data.get("mail", {}) if isinstance(data.get("mail"), dict) else {}
    rules = load_rules(mail.get("rules", data.get("rules")), source)
    if not rules:
        raise UsageError(f"{source}: no mail rules ([[mail.rules]])")
    return rules, mail, source


def _since(ops: Ops, since: str | None) -> Any:
    if not since:
        return None
    from deskops.commands.clock import parse_datetime

    return parse_datetime(since, ops.tz, field="--since")


def _ids(ids: list[str] | None) -> list[str] | None:
    return read_ids(ids, ("id", "message_id"))


@app.command("label")
def label(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Message ids (or - to read them from stdin); default: every message of the folder."
        ),
    ] = None,
    mailbox: MailboxOpt = None,
    folder: FolderOpt = None,
    since: SinceOpt = None,
    rules_file: RulesOpt = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all",
            help="On IMAP and Maildir, read the whole folder, not only what "
            "arrived since the last run (the checkpoint).",
        ),
    ] = False,
    staff: Annotated[
        str | None,
        typer.Option(
            "--staff",
            help="Add this agent's 対応スタッフ/<surname> label to the given "
            "messages instead of running the rules (the morning batch is skipped).",
        ),
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Apply the profile's rules to existing messages and show what each rule changes.

    Every row names the message (its id and Message-ID), the rules that fired
    and the changes: +label, -label, →folder, seen, flagged, order comment/flag.

    Example: ops -p salon-ja mail label --dry-run
    """
    from deskops.commands.mail import LABEL_FIELDS, outcome_of, plan_label, plan_staff

    ops = get(ctx)
    box = open_mailbox(ops, mailbox)
    checkpoint = None
    # Confirmed beforehand on a mailbox with a second connection for writes: the writes
    # go out while the rest is read, and the rows show the outcomes as usual.
    streamed = (
        not staff and not (dry_run or ops.dry_run) and (yes or ops.yes) and hasattr(box, "writer")
    )
    if staff:
        from deskops.commands.mail import staff_label

        wanted = _ids(ids)
        if not wanted:
            raise UsageError("--staff needs message ids (or - to read them from stdin)")
        res = plan_staff(
            box, wanted, staff_label(ops.config.profile, staff), ops.config.profile, ops.tz
        )
    else:
        rules, mail_cfg, _source = _rules(ops, rules_file)
        checkpoint = _checkpoint(ops, box, folder, use=not (all_ or since or ids))
        args = {
            "store": ops.store(),
            "folder": folder,
            "since": _since(ops, since),
            "ids": _ids(ids),
            "number_re": mail_cfg.get("order_number_pattern"),
            **(checkpoint[1] if checkpoint else {}),
        }
        if streamed:
            from deskops.commands.plan import Plan, RunningPlan

            plan = Plan(command="mail label")
            with RunningPlan(plan, ops.store(), {box.backend: box}) as running:
                res = plan_label(
                    box,
                    rules,
                    _context(ops),
                    apply=running.add,
                    plan=plan,
                    flush=running.flush,
                    ready=running.ready,
                    **args,
                )
        else:
            res = plan_label(box, rules, _context(ops), **args)
    err = None
    try:
        if streamed:
            result = ops.ran_plan(running.result, res.plan, what="mail label")
        else:
            result = ops.run_plan(
                res.plan,
                what="mail label",
                dry_run=dry_run,
                yes=yes,
                targets={box.backend: box} if box.backend != "store" else None,
                atomic=False,
                show=False,
            )
    except PartialFailure as exc:
        result, err = True, exc
    for row, changes in zip(res.rows, res.by_row, strict=True):
        row["outcome"] = (
            "dry run" if (dry_run or ops.dry_run) else outcome_of(changes) if result else "in place"
        )
    ops.renderer(fmt, fields).render(res.rows, LABEL_FIELDS)
    if err:
        raise err
    if checkpoint is not None and not (dry_run or ops.dry_run):
        from deskops.commands import checkpoints

        # What was in the folder when the run began has been read; later arrivals have not.
        checkpoints.put(ops.store(), checkpoint[0], box.checkpointed(folder, checkpoint[2]))


def _checkpoint(
    ops: Ops, box: Any, folder: str | None, use: bool
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(name, what the run reads from, what to save once it has read it), or None for a
    mailbox without checkpoints (the backend's ``checkpoint``: IMAP, Maildir)."""
    if not hasattr(box, "checkpoint"):
        return None
    from deskops.commands import checkpoints

    name = f"mail label {box.backend} {folder or box.default_folder}"
    query, value, warning = box.checkpoint(folder, checkpoints.get(ops.store(), name), use)
    if warning:
        ops.warn(warning)
    return name, query, value


@app.command("classify")
def classify_cmd(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None,
        typer.Argument(help="Message ids (or - for stdin); default: every customer message."),
    ] = None,
    mailbox: MailboxOpt = None,
    folder: FolderOpt = None,
    since: SinceOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Tell plain questions (A) from reservation requests naming a date and time (B).

    Shows the evidence: the date/time phrase found and its value relative to
    the message date. Japanese, Chinese, Russian, Ukrainian and English.

    Example: ops -p salon-ja mail classify --fields message_id,kind,evidence,when
    """
    from deskops.commands.mail import CLASSIFY_FIELDS, classify_rows

    ops = get(ctx)
    box = open_mailbox(ops, mailbox)
    msgs = box.messages(folder=folder, since=_since(ops, since), ids=_ids(ids))
    rows = classify_rows(msgs, _context(ops, with_customers=False))
    ops.renderer(fmt, fields).render(
        rows, CLASSIFY_FIELDS, ["id", "date", "from", "kind", "evidence", "when"]
    )


@app.command("bounces")
def bounces_cmd(
    ctx: typer.Context,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Re-send each bounced reply to the corrected address over "
            "SMTP (--smtp or OPS_SMTP_URL); journaled, never twice.",
        ),
    ] = False,
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="smtp://user@host:587?starttls=1 or smtps://…")
    ] = None,
    mailbox: MailboxOpt = None,
    folder: FolderOpt = None,
    since: SinceOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Find bounces, name the failed recipient and reason, and propose a fix.

    A typo'd domain (gmail.con → gmail.com, docomo.ne.jo → docomo.ne.jp), another
    address of the same customer (e-mail fields and notes), or a phone number in
    the original mail or the customer record (→ call). RFC 3464 reports and the
    free-text bounces of common MTAs and Japanese mobile carriers are read.

    Example: ops -p salon-ja mail bounces --fields recipient,suggested_address,action
    """
    import os

    from deskops.commands.mail import BOUNCE_FIELDS, bounce_fixes, plan_resend

    ops = get(ctx)
    box = open_mailbox(ops, mailbox)
    rctx = _context(ops)
    fixes = bounce_fixes(
        box, box.messages(folder=folder, since=_since(ops, since)), ops.config.profile, rctx
    )
    if resend:
        url = smtp or os.environ.get("OPS_SMTP_URL") or ops.config.section("smtp").get("url")
        if not url:
            raise UsageError("--resend needs an SMTP server: --smtp URL or OPS_SMTP_URL")
        sender = ops.backend(f"smtp:{url}")
        sender.store = ops.store()
        plan = plan_resend(fixes, sender.backend, rctx)
        err = None
        try:
            result = ops.run_plan(
                plan,
                what="mail bounces --resend",
                dry_run=dry_run,
                yes=yes,
                targets={sender.backend: sender},
                atomic=False,
                show=False,
            )
        except PartialFailure as exc:
            result, err = True, exc
        sent = {c.reason: c.outcome for c in plan.changes if c.op == "send"}
        for fix in fixes:
            if fix.resend_to:
                key = f"bounce of {fix.row['recipient']} → {fix.resend_to}"
                fix.row["outcome"] = (
                    "dry run"
                    if (dry_run or ops.dry_run)
                    else sent.get(key, "not sent")
                    if result
                    else "not sent"
                )
        ops.renderer(fmt, fields).render([f.row for f in fixes], BOUNCE_FIELDS)
        if err:
            raise err
        return
    ops.renderer(fmt, fields).render(
        [f.row for f in fixes],
        BOUNCE_FIELDS,
        ["id", "date", "recipient", "status", "reason", "suggested_address", "action"],
    )


@rules_app.command("test")
def rules_test(
    ctx: typer.Context,
    rules_file: RulesOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Run the rules on the .eml files of [[mail.tests]] and compare with the expected labels.

    Exit 1 on a mismatch; the expected and actual columns show the difference.

    Example: ops -p salon-ja mail rules test
    """
    from pathlib import Path

    from deskops.commands.mail import RULE_TEST_FIELDS, run_rule_tests

    ops = get(ctx)
    rules, mail_cfg, source = _rules(ops, rules_file)
    rows = run_rule_tests(mail_cfg.get("tests"), rules, _context(ops), Path(source).parent, source)
    ops.renderer(fmt, fields).render(rows, RULE_TEST_FIELDS)
    bad = [r for r in rows if r["result"] != "ok"]
    ops.info(f"{len(rows) - len(bad)} passed, {len(bad)} failed")
    if bad:
        raise typer.Exit(1)


@app.command("awaiting")
def awaiting_cmd(
    ctx: typer.Context,
    expire: Annotated[
        bool,
        typer.Option(
            "--expire",
            help="Remove the label from threads whose last message is "
            "from yesterday or older and record them as not converted.",
        ),
    ] = False,
    clear: Annotated[
        bool,
        typer.Option("--clear", help="Remove the label from threads the customer answered."),
    ] = False,
    mailbox: MailboxOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """List threads carrying the awaiting-reply label (返信待ち) with their age and state.

    States: waiting; answered (the customer wrote since; --clear removes the
    label); due (last message before today); expired (with --expire: the label
    is removed and a "not converted" report record is written, journaled).

    Example: ops -p salon-ja --as-of 2026-11-26T23:00 mail awaiting --expire --yes
    """
    from deskops.commands.mail import AWAITING_FIELDS, awaiting, with_label

    ops = get(ctx)
    labels = ops.config.section("labels")
    label_name = str(labels.get("awaiting_reply", "返信待ち"))
    box = open_mailbox(ops, mailbox)
    plan, rows = awaiting(
        with_label(box, box.messages(), label_name),
        label_name,
        _context(ops),
        clear=clear,
        expire=expire,
        backend=box.backend,
    )
    if plan.changes or dry_run or ops.dry_run:
        ops.run_plan(
            plan,
            what="mail awaiting",
            dry_run=dry_run,
            yes=yes,
            atomic=False,
            targets={box.backend: box} if box.backend != "store" else None,
            show=False,
        )
    ops.renderer(fmt, fields).render(rows, AWAITING_FIELDS)


@app.command("unanswered")
def unanswered_cmd(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="SLA (default: the profile's mail.sla, else 1h)."),
    ] = None,
    zone: Annotated[str | None, typer.Option("--zone", help="Only this mailbox zone.")] = None,
    mailbox: MailboxOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """List customer mail without a reply from us within the SLA, and replies missing the
    affiliate's required signature.

    Example: ops -p toys-ru mail unanswered --older-than 1h --zone 2
    """

    from deskops.commands.mail import UNANSWERED_FIELDS, reply_sla, unanswered
    from deskops.commands.mailrules import parse_duration

    ops = get(ctx)
    if older_than:
        limit = parse_duration(older_than, "--older-than")
    else:
        limit = reply_sla(ops.config.profile)
    box = open_mailbox(ops, mailbox)
    rows = unanswered(
        list(box.messages()), ops.config.profile, _context(ops, False), older_than=limit, zone=zone
    )
    ops.renderer(fmt, fields).render(rows, UNANSWERED_FIELDS)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help=".eml file, Maildir, folder of .eml files, mbox.")],
    mailbox: Annotated[
        str | None, typer.Option("--mailbox", "-m", help="Mailbox name to file them under.")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> None:
    """Load .eml files, a Maildir or an mbox into the embedded store (journaled, idempotent).

    Example: ops mail import ~/Maildir --mailbox support --yes
    """
    from deskops.adapters.schema import MESSAGES
    from deskops.commands.importer import mail_rows, plan_import

    ops = get(ctx)
    rows = mail_rows(path, mailbox)
    plan = plan_import(
        ops.store(), MESSAGES, rows, tz=ops.tz, source=path, command=f"mail import {path}"
    )
    ops.run_plan(plan, what="mail import", dry_run=dry_run, yes=yes, show=False)
