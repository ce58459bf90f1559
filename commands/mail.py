"""Mail procedures: labeling by rules, staff labels, the awaiting-reply lifecycle,
unanswered mail against the SLA.

Everything here reads messages through the mailbox port and returns plans
(changes on ``messages:<id>`` for the mailbox's backend, on ``orders:<id>``
and ``report_records:<id>`` for the store) plus the rows a person reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from deskops.adapters.errors import OpsError, UsageError
from deskops.adapters.mailbox import Mailbox, MailMessage
from deskops.adapters.schema import ORDERS, REPORT_RECORDS
from deskops.adapters.store import Store

from .clock import iso
from .lookup import CustomerIndex, fold
from .mailrules import BodyNeeded, Decision, Rule, RuleContext, Suspended, decide
from .plan import ADD, CREATE, REMOVE, SET, SKIPPED, Change, Plan, actor, state_of

LABEL_FIELDS = ["id", "message_id", "date", "from", "subject", "rules", "changes", "outcome"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def mailbox_addresses(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Our mailboxes by name: address, zone, affiliate (``[mailboxes]`` of the profile)."""
    boxes = profile.get("mailboxes", {})
    return (
        {k: v for k, v in boxes.items() if isinstance(v, dict)} if isinstance(boxes, dict) else {}
    )


def rule_context(
    profile: dict[str, Any], *, tz: tzinfo, now: datetime, store: Store | None
) -> RuleContext:
    mail = profile.get("mail", {}) if isinstance(profile.get("mail"), dict) else {}
    labels = profile.get("labels", {}) if isinstance(profile.get("labels"), dict) else {}
    country = str(profile.get("profile", {}).get("country") or "")
    stores = labels.get("stores", {}) if isinstance(labels.get("stores"), dict) else {}
    return RuleContext(
        tz=tz,
        now=now,
        region=country,
        our_addresses={
            fold(str(b.get("address")))
            for b in mailbox_addresses(profile).values()
            if b.get("address")
        },  # fmt: skip
        customers=CustomerIndex(store, country) if store is not None else None,
        store_labels={str(k): str(v) for k, v in stores.items()},
        solicitation_words=[str(w) for w in mail.get("solicitation_words", [])],
        tables=profile,
        archive_folder=str(mail.get("archive_folder", "Archive")),
        trash_folder=str(mail.get("trash_folder", "Trash")),
    )


def _describe(changes: list[Change]) -> str:
    parts = []
    for c in changes:
        if c.field == "labels":
            parts.append(("+" if c.op == ADD else "-") + str(c.after if c.op == ADD else c.before))
        elif c.field == "folder":
            parts.append(f"→{c.after}")
        elif c.field in ("seen", "flagged"):
            parts.append(c.field if c.after else f"un{c.field}")
        elif c.field == "comments":
            parts.append(f"{c.target} comment")
        elif c.field == "flags":
            parts.append(f"{c.target} +{c.after}")
    return "; ".join(parts)


def message_row(msg: MailMessage, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": msg.id,
        "message_id": msg.message_id,
        "uid": msg.uid,
        "mailbox": msg.mailbox,
        "folder": msg.folder,
        "date": msg.date.astimezone(tz).isoformat(timespec="minutes"),
        "from": msg.from_addr,
        "subject": msg.subject,
    }


@dataclass
class LabelResult:
    plan: Plan
    rows: list[dict[str, Any]]
    by_row: list[list[Change]]


def with_label(mailbox: Any, messages: Iterable[MailMessage], label: str) -> Iterator[MailMessage]:
    """The messages, each carrying ``label`` when the mailbox has it on them."""
    apart = labels_apart(mailbox, [label])
    for m in messages:
        carry_labels(m, apart)
        yield m


def labels_apart(mailbox: Any, labels: Iterable[str]) -> dict[str, set[str]]:
    """Label → the Message-IDs that have it, for those of ``labels`` the mailbox keeps
    apart from the messages (IMAP: copies in the label's folder, read once each); the
    others are read with the message and are not looked up."""
    carries = getattr(mailbox, "carries", None)
    if carries is None:
        return {}
    return {label: mailbox.labelled(label) for label in sorted(set(labels)) if not carries(label)}


def carry_labels(msg: MailMessage, apart: dict[str, set[str]]) -> None:
    """Give a message the labels kept apart that it has (:func:`labels_apart`)."""
    for label, there in apart.items():
        if msg.message_id in there and label not in msg.labels:
            msg.labels = sorted([*msg.labels, label])


def decision_changes(
    d: Decision,
    backend: str,
    ctx: RuleContext,
    store: Store | None,
    number_re: str | None,
    carries: Callable[[str], bool] | None = None,
) -> list[Change]:
    """The changes of one message's decision. ``carries(label)``: whether the mailbox
    reads that label with the message (an IMAP folder label is a copy elsewhere, so a
    removal is planned and its current state read from the folder)."""
    msg = d.msg
    target = f"messages:{msg.id}"
    reason = "rule " + ", ".join(repr(r) for r in d.rules)
    out: list[Change] = []
    have = set(msg.labels)
    for label in d.add:
        if label not in have:
            out.append(Change(target, "labels", ADD, None, label, reason, backend))
    for label in d.remove:
        if label in have or (carries is not None and not carries(label)):
            out.append(Change(target, "labels", REMOVE, label, None, reason, backend))
    if d.seen and not msg.seen:
        out.append(Change(target, "seen", SET, msg.seen, True, reason, backend))
    if d.flagged and not msg.flagged:
        out.append(Change(target, "flagged", SET, msg.flagged, True, reason, backend))
    if d.folder and d.folder != msg.folder:
        # Last, as it is written (a label copy or a flag acts where the message is), so
        # an undo, newest first, brings it back before it takes the flag off.
        out.append(Change(target, "folder", SET, msg.folder, d.folder, reason, backend))
    if (d.order_comment or d.order_flags) and store is not None:
        order = find_order(msg, ctx, store, number_re)
        if order is not None:
            otarget = f"orders:{order['id']}"
            if d.order_comment and not any(
                c.get("text") == d.order_comment for c in order.get("comments") or []
            ):
                comment = {"at": iso(ctx.now), "author": actor(), "text": d.order_comment}
                out.append(Change(otarget, "comments", ADD, None, comment, reason))
            for flag in d.order_flags:
                if flag not in (order.get("flags") or []):
                    out.append(Change(otarget, "flags", ADD, None, flag, reason))
    return out


def find_order(
    msg: MailMessage, ctx: RuleContext, store: Store, number_re: str | None
) -> dict[str, Any] | None:
    """The order a message is about: its number in subject/body, else the sender's latest."""
    if number_re:
        for m in re.finditer(number_re, f"{msg.subject}\n{msg.body_text}"):
            num = m.group("number") if "number" in m.re.groupindex else m.group(0)
            order = store.get(ORDERS, num)
            if order is not None:
                return order
    if ctx.customers is None:
        return None
    from .mailrules import Facts

    matches = Facts(msg, ctx).customer_matches
    ids = {m.customer_id for m in matches if m.customer_id}
    orders = [m.record for m in matches if str(m.why).startswith("order ")]
    for cid in ids:
        orders.extend(store.iter_records(ORDERS, "customer_id = ?", (cid,), children=False))
    if not orders:
        return None
    latest = max(orders, key=lambda o: o.get("created_at") or "")
    return store.get(ORDERS, latest["id"])


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a run reads a mailbox.

    Reading thousands of messages allocates hundreds of thousands of small
    objects that all stay alive until the plan is made; the collector would walk
    them again and again (a tenth of the run) to free nothing. Plain reference
    counting still frees everything. When it resumes, what is alive by then (the
    messages and the plan, kept until the command ends) is frozen first: else the
    first allocation afterwards sets off a full collection over all of it, to free
    nothing again (another tenth of the run).
    """
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.enable()


def _nothing() -> None:
    """A hook with nothing to do."""


OFFLOAD_AT = 1000  # messages: a smaller run parses them here (a fork costs more than it saves)
MAX_CHILDREN = 4  # processes parsing and deciding at once, at most one a core, each with
# OFFLOAD_AT messages at least. On two cores the main process mostly waits for them: one
# child kept the reading to the speed of one core while the other stood idle a third of
# the time (bench/mail)


def _decisions(
    mailbox: Mailbox,
    rules: list[Rule],
    ctx: RuleContext,
    query: dict[str, Any],
    between: Callable[[], None] | None,
    ready: Callable[[], None],
) -> Iterator[tuple[int, Decision]]:
    """Every message some rule fired on, decided, with its position in the mailbox
    (for the rows' order), as soon as it is. ``between``: called once the headers are
    all decided, before the bodies some rules asked for are read; ``ready``: once the
    mailbox is open and the other processes that decide are started."""
    if hasattr(mailbox, "raw"):
        yield from _fetched_decisions(mailbox, rules, ctx, query, between, ready)
    elif hasattr(mailbox, "listing"):
        yield from _file_decisions(mailbox, rules, ctx, query, ready)
    else:
        ready()
        yield from _read_decisions(mailbox, rules, ctx, query)


def _read_decisions(
    mailbox: Mailbox, rules: list[Rule], ctx: RuleContext, query: dict[str, Any]
) -> Iterator[tuple[int, Decision]]:
    """The messages as the mailbox lists them, decided here one by one."""
    for pos, msg in enumerate(mailbox.messages(**query)):
        d = decide(rules, msg, ctx)
        if d.rules:
            yield pos, d


def _file_decisions(
    mailbox: Any,
    rules: list[Rule],
    ctx: RuleContext,
    query: dict[str, Any],
    ready: Callable[[], None],
) -> Iterator[tuple[int, Decision]]:
    """A folder of message files (Maildir), a chunk of files at a time: read and decided
    here, or for a big folder in other processes (:mod:`.offload`) while this one plans
    and writes what came back. Each file's id joins the index here, and a message whose
    id an earlier file of the folder had is left out (as :meth:`messages` does)."""
    from . import offload

    folder = query.get("folder") or "INBOX"
    files = mailbox.listing(folder, query.get("after"))
    if not files:  # nothing new (a checkpoint): no index to read either
        return
    mailbox.apart(folder)  # before a fork: the label copies elsewhere, for the rules
    decider = _FileDecider(mailbox, rules, ctx, folder, files, query)
    pool = None
    if len(files) >= OFFLOAD_AT and offload.available():
        size = min(MAX_CHILDREN, offload.cores(), len(files) // OFFLOAD_AT)
        decider.brief = True  # before the fork: the processes send them so
        try:
            pool = offload.Pool(decider, size, name="rules")
        except OSError:  # no process to be had: read here
            decider.brief = False
    ready()
    jobs = ((None, (lo, min(lo + FILE_CHUNK, len(files))))
            for lo in range(0, len(files), FILE_CHUNK))  # fmt: skip
    seen: set[str] = set()
    with pool if pool is not None else nullcontext():
        done = pool.map(jobs) if pool is not None else ((0, decider(job)) for _, job in jobs)
        for _, (lo, ids, passed, out) in done:
            mailbox.join(files[lo : lo + len(ids)], ids)
            repeated = set()
            for pos, mid in passed:
                if mid in seen:
                    repeated.add(pos)
                seen.add(mid)
            for pos, d in out:
                if pos not in repeated:
                    yield pos, Decision.from_brief(d) if decider.brief else d


FILE_CHUNK = 250  # message files a process reads and decides at a time


class _FileDecider:
    """Reads and decides a range of a folder's files (:func:`_file_decisions`): returns
    the range's first position, each file's id (None: not readable as a message), the
    position and id of those the query takes, and the decisions with rules that fired,
    as (position, decision). A message is read with its header block, and whole when a
    rule asks for the body, from that rule on. ``brief``: decisions go to another
    process, as :meth:`Decision.brief`."""

    def __init__(
        self,
        mailbox: Any,
        rules: list[Rule],
        ctx: RuleContext,
        folder: str,
        files: list[Any],
        query: dict[str, Any],
    ) -> None:
        self.mailbox, self.rules, self.ctx = mailbox, rules, ctx
        self.folder, self.files = folder, files
        self.since, self.ids = query.get("since"), query.get("ids")
        self.brief = False

    def __call__(
        self, job: tuple[int, int]
    ) -> tuple[int, list[str | None], list[tuple[int, str]], list[Any]]:
        lo, hi = job
        mailbox, rules, ctx = self.mailbox, self.rules, self.ctx
        ids: list[str | None] = []
        passed: list[tuple[int, str]] = []
        out: list[Any] = []
        for pos in range(lo, hi):
            msg = mailbox.head(self.files[pos], self.folder)
            ids.append(None if msg is None else msg.message_id)
            if msg is None or (self.ids and msg.message_id not in self.ids):
                continue
            if self.since and msg.date < self.since:
                continue
            passed.append((pos, msg.message_id))
            try:
                d = decide(rules, msg, ctx)
            except BodyNeeded as exc:
                try:
                    d = decide(rules, mailbox.whole(msg), ctx, resume=exc.resume)
                except OpsError:  # gone or unreadable meanwhile: left out
                    continue
            if d.rules:
                out.append((pos, d.brief() if self.brief else d))
        return lo, ids, passed, out


def _fetched_decisions(
    mailbox: Any,
    rules: list[Rule],
    ctx: RuleContext,
    query: dict[str, Any],
    between: Callable[[], None] | None,
    ready: Callable[[], None],
) -> Iterator[tuple[int, Decision]]:
    """A mailbox read in chunks of FETCH answers (IMAP): the headers of every message
    first, in mailbox order; then the bodies of those whose rules asked for one, their
    rules going on from where they stopped. A big run parses and decides in other
    processes (:mod:`.offload`), the header chunks taking turns between them, while
    this one reads the next chunk off the socket and plans and writes what came back;
    a body goes to the process that holds its message."""
    from deskops.adapters.imap import HEADER, TEXT

    from . import offload

    decider = _Decider(mailbox, rules, ctx, brief=True)
    decider.labelled = labels_apart(mailbox, (label for rule in rules for label in rule.labels))
    folder, uids = mailbox.uids(**query)
    pool = None
    size = min(MAX_CHILDREN, offload.cores(), len(uids) // max(1, OFFLOAD_AT))
    if len(uids) >= OFFLOAD_AT and offload.available():
        try:
            pool = offload.Pool(decider, size, name="rules")
        except OSError:  # no process to be had (a limit, memory): parse here
            pool = None
    decider.brief = pool is not None
    ready()

    def headers() -> Iterator[tuple[int | None, Any]]:
        base = 0
        for raw in mailbox.raw(folder, uids, part=HEADER):
            yield None, (base, raw)
            base += len(raw.uids)

    def here(jobs: Iterable[tuple[int | None, Any]]) -> Iterator[tuple[int, Any]]:
        return ((0, decider(job)) for _, job in jobs)

    with pool if pool is not None else nullcontext():
        run: Callable[[Iterable[Any]], Iterator[Any]] = pool.map if pool is not None else here
        holder: dict[int, int] = {}  # UID whose body was asked for → the process holding it
        for who, (out, more) in run(headers()):
            holder.update(dict.fromkeys(more, who))
            yield from _received(mailbox, out)
        if holder:
            if between is not None:
                between()
            bodies = (
                (who, (0, piece))
                for raw in mailbox.raw(folder, sorted(holder), part=TEXT)
                for who, piece in _by_holder(raw, holder)
            )
            for _, (out, _) in run(bodies):
                yield from _received(mailbox, out)


def _by_holder(raw: Any, holder: dict[int, int]) -> Iterator[tuple[int, Any]]:
    """A chunk of bodies in pieces, each of UIDs in a row held by one process: in UID
    order still, so the decisions come in the order one process would give them."""
    from itertools import groupby

    runs = [(who, list(part)) for who, part in groupby(raw.uids, key=holder.__getitem__)]
    if len(runs) == 1:
        yield runs[0][0], raw
        return
    for who, part in runs:
        yield who, raw._replace(uids=part, data={u: raw.data[u] for u in part if u in raw.data})


def _received(mailbox: Any, out: list[Any]) -> Iterator[tuple[int, Decision]]:
    for pos, d, known in out:
        if known is not None:  # decided in the other process: what it learnt of the message
            mailbox.remember(known)
            d = Decision.from_brief(d)
        yield pos, d


class _Decider:
    """Parses and decides the messages of one chunk of FETCH answers: the part of a run
    that a second process can take. A message whose rules ask for its body is kept
    here, with where its rules stopped, until the chunk with its body comes.

    Called with (position of the chunk's first UID, the chunk); returns the decisions
    with rules that fired, as (position, decision, what the mailbox learnt of the
    message), and the UIDs whose bodies the rules asked for. ``brief``: decisions go
    to another process, as :meth:`Decision.brief`."""

    def __init__(self, mailbox: Any, rules: list[Rule], ctx: RuleContext, brief: bool) -> None:
        self.mailbox, self.rules, self.ctx, self.brief = mailbox, rules, ctx, brief
        self.held: dict[int, tuple[int, Suspended | None, MailMessage]] = {}
        # label → the Message-IDs that have it, for labels the messages do not carry
        self.labelled: dict[str, set[str]] = {}

    def __call__(self, job: tuple[int, Any]) -> tuple[list[Any], list[int]]:
        base, raw = job
        out: list[Any] = []
        asked: list[int] = []
        mailbox, rules, ctx = self.mailbox, self.rules, self.ctx
        if raw.is_text:
            text_of = {u: self.held[u][2] for u in raw.uids if u in self.held}
            for msg in mailbox.parse(raw, text_of):
                pos, resume, _ = self.held.pop(msg.uid)
                self._keep(out, pos, decide(rules, msg, ctx, resume=resume))
            return out, asked
        for i, msg in enumerate(mailbox.parse(raw)):
            carry_labels(msg, self.labelled)
            try:
                d = decide(rules, msg, ctx)
            except BodyNeeded as exc:
                self.held[msg.uid] = (base + i, exc.resume, msg)
                asked.append(msg.uid)
                continue
            self._keep(out, base + i, d)
        return out, asked

    def _keep(self, out: list[Any], pos: int, d: Decision) -> None:
        if d.rules:
            if self.brief:
                out.append((pos, d.brief(), self.mailbox.known(d.msg)))
            else:
                out.append((pos, d, None))


def plan_label(
    mailbox: Mailbox,
    rules: list[Rule],
    ctx: RuleContext,
    *,
    store: Store | None,
    folder: str | None = None,
    since: datetime | None = None,
    ids: list[str] | None = None,
    number_re: str | None = None,
    command: str = "mail label",
    after_uid: int | None = None,
    after: Any = None,
    apply: Callable[..., None] | None = None,
    plan: Plan | None = None,
    flush: Callable[..., None] | None = None,
    ready: Callable[[], None] | None = None,
) -> LabelResult:
    """The plan and the rows (in mailbox order) of the rules over a mailbox.

    ``after_uid`` (IMAP) and ``after`` (Maildir, a ``MaildirCheckpoint``): where the last
    run stopped reading; only what arrived since is read.
    ``apply``: called with each message's changes as soon as they are planned (after
    they are added to the plan), to apply them while the rest is read
    (:meth:`~deskops.commands.plan.RunningPlan.add`; ``assessed`` says whether their
    current state was read here), into ``plan`` when given; ``flush``: called when the
    headers are all decided and the bodies some rules asked for are about to be read,
    and with ``last=True`` when every message is decided
    (:meth:`~deskops.commands.plan.RunningPlan.flush`:
    what waits for a full batch is written while the bodies are read, and while the
    rows are made); ``ready``: called once the mailbox is open and any other process
    that decides is started (:meth:`~deskops.commands.plan.RunningPlan.ready`: the
    writers connect meanwhile, not when the first batch is there).
    """
    plan = plan if plan is not None else Plan(command=command)
    decided: list[tuple[int, MailMessage, list[str], list[Change]]] = []
    extra: dict[str, Any] = {"after_uid": after_uid} if after_uid is not None else {}
    if after is not None:
        extra["after"] = after
    reads = hasattr(mailbox, "read")
    carries = getattr(mailbox, "carries", None)
    with _no_cyclic_gc():  # the plan's objects too: they live until it is applied
        query = {"folder": folder, "since": since, "ids": ids, **extra}
        for pos, d in _decisions(mailbox, rules, ctx, query, flush, ready or _nothing):
            msg = d.msg
            changes = decision_changes(d, mailbox.backend, ctx, store, number_re, carries)
            if reads:
                # Some state is not on the message itself (IMAP label folders): ask the backend.
                kept = []
                for c in changes:
                    if c.backend == mailbox.backend:
                        c.outcome = state_of(c, mailbox.read(c))  # type: ignore[attr-defined]
                        if c.outcome == SKIPPED:
                            continue
                    kept.append(c)
                changes = kept
            for c in changes:
                plan.add(c)
            if not changes:
                plan.unchanged += 1
            elif apply is not None:
                apply(changes, assessed=reads)
            decided.append((pos, msg, d.rules, changes))
        if flush is not None:
            flush(last=True)  # the last writes go out while the rows are made
        decided.sort(key=lambda item: item[0])
        rows = []
        for _, msg, fired, changes in decided:
            row = message_row(msg, ctx.tz)
            row.update({"rules": "; ".join(fired), "changes": _describe(changes) or "(in place)"})
            rows.append(row)
    return LabelResult(plan, rows, [changes for *_, changes in decided])


def outcome_of(changes: list[Change]) -> str:
    """One word for a message's changes; a failure carries its reason."""
    if not changes:
        return "in place"
    kinds = {c.outcome for c in changes}
    text = kinds.pop() if len(kinds) == 1 else ", ".join(sorted(kinds))
    errors = sorted({c.error for c in changes if c.error and c.outcome in ("failed", "conflict")})
    return f"{text}: {'; '.join(errors)}" if errors else text


# -- staff labels -------------------------------------------------------------------


def in_morning_batch(when: datetime, profile: dict[str, Any], tz: tzinfo) -> bool:
    """The 08:30 batch (configurable): booking mails reflected before opening get no staff label."""
    mb = profile.get("morning_batch", {})
    if not isinstance(mb, dict) or not mb.get("time") or not mb.get("skip_staff_label", True):
        return False
    local = when.astimezone(tz)
    days = [str(d).lower()[:3] for d in mb.get("weekdays", WEEKDAYS)]
    if WEEKDAYS[local.weekday()] not in days:
        return False
    hh, mm = (int(x) for x in str(mb["time"]).split(":"))
    start = datetime.combine(local.date(), time(hh, mm), tzinfo=tz)
    window = timedelta(minutes=int(mb.get("window_minutes", 5)))
    return start - window <= local <= start + window


def staff_label(profile: dict[str, Any], name: str) -> str:
    labels = profile.get("labels", {}) if isinstance(profile.get("labels"), dict) else {}
    staff = labels.get("staff", {}) if isinstance(labels.get("staff"), dict) else {}
    if name in staff:
        return str(staff[name])
    for key, label in staff.items():  # by surname as written in the label
        if str(label).endswith("/" + name) or key.lower() == name.lower():
            return str(label)
    prefix = str(labels.get("staff_prefix", "対応スタッフ/"))
    if staff:
        raise UsageError(
            f"unknown staff {name!r}; known: {', '.join(staff)} (labels.staff of the profile)"
        )
    return prefix + name


def plan_staff(
    mailbox: Mailbox, ids: list[str], label: str, profile: dict[str, Any], tz: tzinfo
) -> LabelResult:
    plan = Plan(command=f"mail label --staff {label}")
    rows: list[dict[str, Any]] = []
    by_row: list[list[Change]] = []
    found = {m.id: m for m in mailbox.messages(ids=ids)}
    for i in ids:
        if i not in found:
            plan.problems.append(f"message {i}: not found in {mailbox.display}")
    for msg in found.values():
        row = message_row(msg, tz)
        changes: list[Change] = []
        if in_morning_batch(msg.date, profile, tz):
            row.update({"rules": "morning batch", "changes": "(no staff label: morning batch)"})
        elif label in msg.labels:
            row.update({"rules": "staff", "changes": "(in place)"})
            plan.unchanged += 1
        else:
            changes = [Change(f"messages:{msg.id}", "labels", ADD, None, label, "staff label",
                              mailbox.backend)]  # fmt: skip
            plan.add(changes[0])
            row.update({"rules": "staff", "changes": f"+{label}"})
        rows.append(row)
        by_row.append(changes)
    return LabelResult(plan, rows, by_row)


# -- threads: awaiting reply and unanswered ------------------------------------------------


@dataclass
class Thread:
    id: str
    messages: list[MailMessage]

    @property
    def last(self) -> MailMessage:
        return self.messages[-1]


def threads(messages: Iterable[MailMessage]) -> list[Thread]:
    """Messages grouped by conversation.

    The thread is the first of References; a client that sends only the
    parent's id (In-Reply-To, short References) still joins its parent's thread.
    """
    msgs = list(messages)
    by_id = {m.message_id: m for m in msgs}

    def root(m: MailMessage) -> str:
        seen: set[str] = set()
        while m.in_reply_to in by_id and m.message_id not in seen:
            seen.add(m.message_id)
            m = by_id[m.in_reply_to]
        return m.thread_id or m.message_id

    by: dict[str, list[MailMessage]] = {}
    for m in msgs:
        by.setdefault(root(m), []).append(m)
    out = [Thread(k, sorted(v, key=lambda m: m.date)) for k, v in by.items()]
    return sorted(out, key=lambda t: t.last.date)


AWAITING_FIELDS = [
    "thread", "id", "message_id", "subject", "customer", "store", "labelled_at", "last_at",
    "last_from", "age_hours", "state",
]  # fmt: skip


def awaiting(
    messages: Iterable[MailMessage],
    label: str,
    ctx: RuleContext,
    *,
    clear: bool,
    expire: bool,
    backend: str,
) -> tuple[Plan, list[dict[str, Any]]]:
    """Threads carrying the awaiting-reply label and what becomes of them.

    The plan holds only what was asked: removing the label from answered
    threads (``clear``, implied by ``expire``) and expiring old ones (``expire``).

    ``answered``: the customer wrote after our labelled message → the label
    goes. ``expired`` (only with ``expire``): the last message is from before
    today in the profile's time zone → the label goes and a "not converted"
    report record is written, dated today.
    """
    from .mailrules import Facts

    plan = Plan(command="mail awaiting --expire" if expire else "mail awaiting")
    rows: list[dict[str, Any]] = []
    today = ctx.now.astimezone(ctx.tz).date()
    for t in threads(messages):
        tagged = [m for m in t.messages if label in m.labels]
        if not tagged:
            continue
        first_tag = tagged[0]
        customer_msgs = [m for m in t.messages if fold(m.from_addr) not in ctx.our_addresses]
        answered = any(m.date > first_tag.date for m in customer_msgs)
        last_local = t.last.date.astimezone(ctx.tz).date()
        state = "waiting"
        if answered:
            state = "answered"
        elif expire and last_local < today:
            state = "expired"
        elif last_local < today:
            state = "due"  # expires at the next --expire run
        customer_msg = customer_msgs[0] if customer_msgs else t.messages[0]
        facts = Facts(customer_msg, ctx)
        customer = customer_msg.from_name or customer_msg.from_addr
        store = facts.customer_store
        row = {
            "thread": t.id,
            "id": first_tag.id,
            "message_id": first_tag.message_id,
            "subject": t.messages[0].subject,
            "customer": customer,
            "store": store,
            "labelled_at": first_tag.date.astimezone(ctx.tz).isoformat(timespec="minutes"),
            "last_at": t.last.date.astimezone(ctx.tz).isoformat(timespec="minutes"),
            "last_from": t.last.from_addr,
            "age_hours": round((ctx.now - t.last.date).total_seconds() / 3600, 1),
            "state": state,
        }
        rows.append(row)
        if (state == "answered" and (clear or expire)) or state == "expired":
            for m in tagged:
                plan.add(Change(f"messages:{m.id}", "labels", REMOVE, label, None,
                                f"awaiting reply: {state}", backend))  # fmt: skip
        if state == "expired":
            rid = f"not-converted:{today.isoformat()}:{t.id}"
            record = {
                "id": rid, "kind": "not_converted", "date": today.isoformat(),
                "subject": row["subject"], "customer": customer, "store": store,
                "source": first_tag.message_id,
                "data": {"thread": t.id, "last_at": iso(t.last.date)},
                "created_at": iso(ctx.now),
            }  # fmt: skip
            full = {n: record.get(n) for n in REPORT_RECORDS.field_names}
            plan.add(Change(f"report_records:{rid}", "*", CREATE, None, full, "not converted"))
    return plan, rows


UNANSWERED_FIELDS = [
    "id", "message_id", "mailbox", "zone", "date", "from", "subject", "waiting_minutes",
    "problem",
]  # fmt: skip


def reply_sla(profile: dict[str, Any]) -> timedelta:
    """How soon customer mail must be answered: ``[mail.sla] reply_within_minutes``, else 1 h."""
    mail = profile.get("mail")
    sla = mail.get("sla") if isinstance(mail, dict) else None
    if isinstance(sla, dict) and sla.get("reply_within_minutes"):
        return timedelta(minutes=int(sla["reply_within_minutes"]))
    return timedelta(hours=1)


def unanswered(
    messages: list[MailMessage],
    profile: dict[str, Any],
    ctx: RuleContext,
    *,
    older_than: timedelta,
    zone: str | None = None,
) -> list[dict[str, Any]]:
    """Customer mail with no reply from us within the SLA; our replies missing a signature.
    Not customer mail: automatic mail (Auto-Submitted), mailing lists and bulk mail
    (List-Id, Precedence), and senders of ``[mail] vendor_domains`` (suppliers and
    services, by domain or address)."""
    boxes = mailbox_addresses(profile)
    section = profile.get("mail")
    vendors = section.get("vendor_domains") if isinstance(section, dict) else None
    not_customers = {fold(str(v)).strip().lstrip("@") for v in vendors or []}
    affiliates = (
        profile.get("affiliates", {}) if isinstance(profile.get("affiliates"), dict) else {}
    )
    out: list[dict[str, Any]] = []

    def zone_of(mailbox: str | None) -> str:
        return str(boxes.get(mailbox or "", {}).get("zone", ""))

    for t in threads(messages):
        for i, m in enumerate(t.messages):
            ours = fold(m.from_addr) in ctx.our_addresses
            z = zone_of(m.mailbox)
            if zone and z != str(zone):
                continue
            if ours:
                aff_name = boxes.get(m.mailbox or "", {}).get("affiliate")
                aff = affiliates.get(aff_name, {}) if aff_name else {}
                sig = str(aff.get("signature") or "").strip()
                if aff.get("signature_required") and sig:
                    first_line = fold(sig.splitlines()[-1])
                    if first_line not in fold(m.body_text):
                        out.append(_unanswered_row(m, z, ctx, None, "reply without signature"))
                continue
            if m.header("Auto-Submitted") and m.header("Auto-Submitted")[0] != "no":
                continue
            if m.header("List-Id") or fold((m.header("Precedence") or [""])[0]).strip() in (
                "bulk",
                "list",
                "junk",
            ):
                continue
            sender = fold(m.from_addr).strip()
            if sender in not_customers or sender.rpartition("@")[2] in not_customers:
                continue
            reply = next(
                (r for r in t.messages[i + 1 :] if fold(r.from_addr) in ctx.our_addresses), None
            )
            deadline = m.date + older_than
            if reply is None and ctx.now > deadline:
                out.append(_unanswered_row(m, z, ctx, ctx.now, "no reply"))
            elif reply is not None and reply.date > deadline:
                out.append(_unanswered_row(m, z, ctx, reply.date, "late reply"))
    return out


def _unanswered_row(
    m: MailMessage, zone: str, ctx: RuleContext, until: datetime | None, problem: str
) -> dict[str, Any]:
    return {
        "id": m.id,
        "message_id": m.message_id,
        "mailbox": m.mailbox,
        "zone": zone,
        "date": m.date.astimezone(ctx.tz).isoformat(timespec="minutes"),
        "from": m.from_addr,
        "subject": m.subject,
        "waiting_minutes": int((until - m.date).total_seconds() // 60) if until else None,
        "problem": problem,
    }


# -- rule tests -------------------------------------------------------------------

RULE_TEST_FIELDS = ["file", "rules", "expected", "actual", "result"]


def run_rule_tests(
    tests: Any, rules: list[Rule], ctx: RuleContext, base: Any, source: str
) -> list[dict[str, Any]]:
    """``[[mail.tests]]``: real .eml files with the labels/folder the rules must give.

    Each test: ``file`` (relative to the rules file), ``labels`` (labels added,
    exactly), optional ``folder`` (where the message must end up) and
    ``rules`` (names that must fire, in order).
    """
    from pathlib import Path

    from deskops.adapters.eml import parse_message
    from deskops.adapters.mailbox import from_record

    if not isinstance(tests, list) or not tests:
        raise UsageError(f"{source}: no [[mail.tests]] to run")
    rows = []
    for i, t in enumerate(tests, 1):
        if not isinstance(t, dict) or "file" not in t:
            raise UsageError(f"{source}: test {i} has no file")
        path = Path(base) / str(t["file"])
        try:
            rec = parse_message(path.read_bytes(), name=str(path), mailbox=t.get("mailbox", ""),
                                folder=t.get("in_folder", "INBOX"))  # fmt: skip
        except OSError as exc:
            raise UsageError(f"{source}: test {i}: cannot read {path} ({exc.strerror})") from None
        d = decide(rules, from_record(rec), ctx)
        expected: dict[str, Any] = {"labels": sorted(str(x) for x in t.get("labels", []))}
        actual: dict[str, Any] = {"labels": sorted(d.add)}
        if "folder" in t:
            expected["folder"] = t["folder"]
            actual["folder"] = d.folder
        if "rules" in t:
            expected["rules"] = [str(x) for x in t["rules"]]
            actual["rules"] = d.rules
        rows.append({
            "file": str(t["file"]),
            "rules": "; ".join(d.rules),
            "expected": _fmt(expected),
            "actual": _fmt(actual),
            "result": "ok" if expected == actual else "MISMATCH",
        })  # fmt: skip
    return rows


def _fmt(d: dict[str, Any]) -> str:
    parts = [f"labels={','.join(d['labels']) or '-'}"]
    if "folder" in d:
        parts.append(f"folder={d['folder'] or '-'}")
    if "rules" in d:
        parts.append(f"rules={','.join(d['rules']) or '-'}")
    return " ".join(parts)


CLASSIFY_FIELDS = ["id", "message_id", "date", "from", "subject", "kind", "evidence", "when",
                   "language"]  # fmt: skip


def classify_rows(messages: Iterable[MailMessage], ctx: RuleContext) -> list[dict[str, Any]]:
    """A (question) or B (reservation request) for each customer message, with the evidence."""
    from .classify import classify

    rows = []
    for m in messages:
        if fold(m.from_addr) in ctx.our_addresses:
            continue
        c = classify(m.body_text or m.subject, m.date, ctx.tz)
        row = message_row(m, ctx.tz)
        row.update({
            "kind": c.kind,
            "evidence": c.evidence,
            "when": (c.when.astimezone(ctx.tz).isoformat(timespec="minutes")
                     if c.when and c.has_time else c.when.date().isoformat() if c.when else None),
            "language": c.language,
        })  # fmt: skip
        rows.append(row)
    return rows


# -- bounces ------------------------------------------------------------------------

BOUNCE_FIELDS = [
    "id", "message_id", "date", "recipient", "status", "reason", "style", "suggested_address",
    "alternatives", "phones", "action", "original_message_id", "outcome",
]  # fmt: skip


@dataclass
class BounceFix:
    row: dict[str, Any]
    resend_to: str | None
    original: MailMessage | None


def bounce_fixes(
    mailbox: Mailbox,
    messages: Iterable[MailMessage],
    profile: dict[str, Any],
    ctx: RuleContext,
) -> list[BounceFix]:
    """Every bounce with what to do: a corrected address, another address of the
    customer, or a phone number to call (from the original mail or the customer)."""
    from .bounces import is_bounce, parse_bounce, phones_in, suggest_address

    fixes_cfg = profile.get("bounces", {}) if isinstance(profile.get("bounces"), dict) else {}
    typo_table = fixes_cfg.get("domain_fixes", {}) if isinstance(
        fixes_cfg.get("domain_fixes"), dict) else {}  # fmt: skip
    out: list[BounceFix] = []
    for m in messages:
        if m.raw is None or not is_bounce(m.raw):
            continue
        b = parse_bounce(m.raw)
        if b is None:
            continue
        recipient = b.recipient or ""
        suggested = _table_fix(recipient, typo_table) or (
            suggest_address(recipient) if recipient else None
        )
        original = _original(mailbox, b.original_message_id)
        alternatives: list[str] = []
        phones: list[str] = []
        if ctx.customers is not None and recipient:
            local_matches = ctx.customers.find([recipient])
            if suggested:
                local_matches += ctx.customers.find([suggested])
            for match in local_matches:
                cust = ctx.customers.customer(match.customer_id)
                if not cust:
                    continue
                from .lookup import emails_in_text

                for e in [
                    *(cust.get("emails") or []),
                    *emails_in_text(f"{cust.get('notes') or ''} {cust.get('other') or ''}"),
                ]:
                    e = fold(e)
                    if e not in (recipient, suggested) and e not in alternatives:
                        alternatives.append(e)
                for p in cust.get("phones") or []:
                    if p not in phones:
                        phones.append(p)
        texts = [b.original_text or ""]
        if original is not None:
            texts.append(original.body_text)
        for t in texts:
            for p in phones_in(t, ctx.region) if t else []:
                if p not in phones:
                    phones.append(p)
        resend_to = suggested or (alternatives[0] if alternatives else None)
        if resend_to:
            action = f"resend to {resend_to}"
        elif phones:
            action = f"call {phones[0]}"
        else:
            action = "no fix found: ask the customer by another channel"
        row = message_row(m, ctx.tz)
        row.update({
            "recipient": recipient or None, "status": b.status, "reason": b.reason,
            "style": b.style, "suggested_address": suggested or "", "alternatives": alternatives,
            "phones": phones, "action": action, "original_message_id": b.original_message_id,
            "outcome": None,
        })  # fmt: skip
        out.append(BounceFix(row, resend_to, original))
    return out


def _table_fix(address: str, table: dict[str, Any]) -> str | None:
    """The profile's own typo table (``[bounces.domain_fixes]``) wins over edit distance."""
    local, at, domain = address.rpartition("@")
    right = table.get(domain) if at else None
    return f"{local}@{right}" if right else None


def _original(mailbox: Mailbox, message_id: str | None) -> MailMessage | None:
    if not message_id:
        return None
    try:
        return next(iter(mailbox.messages(ids=[message_id])), None)
    except Exception:  # noqa: BLE001 - a missing original only means fewer clues
        return None


def plan_resend(fixes: list[BounceFix], sender_backend: str, ctx: RuleContext) -> Plan:
    """Re-send each bounced reply to the corrected address, once (the key is in the journal)."""
    import hashlib
    from email import message_from_bytes, policy
    from email.utils import format_datetime, make_msgid

    plan = Plan(command="mail bounces --resend")
    for fix in fixes:
        if not fix.resend_to:
            continue
        if fix.original is None or fix.original.raw is None:
            plan.problems.append(
                f"{fix.row['message_id']}: the bounced mail "
                f"{fix.row['original_message_id'] or '(unknown)'} is not in the mailbox; "
                "cannot resend"
            )
            continue
        key = "resend:" + hashlib.sha1(
            f"{fix.original.message_id}|{fix.resend_to}".encode()).hexdigest()[:16]  # fmt: skip
        msg = message_from_bytes(fix.original.raw, policy=policy.default)
        for h in ("To", "Cc", "Bcc", "Message-ID", "Date"):
            del msg[h]
        msg["To"] = fix.resend_to
        msg["Date"] = format_datetime(ctx.now.astimezone(ctx.tz))
        msg["Message-ID"] = make_msgid(domain=(fix.original.from_addr.rpartition("@")[2]
                                               or "deskops.invalid"))  # fmt: skip
        msg["X-Ops-Resend-Of"] = f"<{fix.original.message_id}>"
        payload = {"raw": msg.as_bytes(), "from": fix.original.from_addr, "to": [fix.resend_to]}
        reason = f"bounce of {fix.row['recipient']} → {fix.resend_to}"
        plan.add(Change(f"outbox:{key}", "*", "send", None, payload, reason, sender_backend))
    return plan
