"""Plan → apply → journal: the one mechanism every mutating command uses.

A command computes a :class:`Plan` (a list of :class:`Change`). The CLI shows
it (``--dry-run``), asks for confirmation where needed, then :func:`execute`
applies it through *targets* (ports that can read and write a field) and
journals every change with its outcome in the store. :func:`undo_plan` turns a
journaled run back into a plan of inverse changes, so undo is itself an
ordinary, journaled run.

Each change carries the value expected before and the value wanted after.
Applying re-reads the current value first: already equal to ``after`` is a
skip (so re-running is safe), equal to ``before`` is applied, anything else is
a conflict — somebody changed it since the plan was made — and is not
overwritten.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from deskops.adapters.errors import OpsError, PartialFailure, UsageError
from deskops.adapters.schema import ENTITIES, Entity
from deskops.adapters.store import Store

from .clock import iso, now_utc

if TYPE_CHECKING:
    import queue

CREATE, SET, ADD, REMOVE, DELETE = "create", "set", "add", "remove", "delete"
SEND = "send"  # a message sent out: done once, never undone
INVERSE = {CREATE: DELETE, DELETE: CREATE, SET: SET, ADD: REMOVE, REMOVE: ADD}

PLANNED, APPLIED, SKIPPED, CONFLICT, FAILED, NOT_RUN = (
    "planned",
    "applied",
    "skipped",
    "conflict",
    "failed",
    "not-run",
)

PLAN_FIELDS = ["seq", "target", "field", "op", "before", "after", "reason", "outcome", "error"]


@dataclass
class Change:
    target: str  # "<kind>:<id>", e.g. "orders:1001"
    field: str  # a field or child collection; "*" for a whole record
    op: str
    before: Any = None
    after: Any = None
    reason: str = ""
    backend: str = "store"
    outcome: str = PLANNED
    error: str | None = None

    @property
    def kind(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def key(self) -> str:
        return self.target.split(":", 1)[1]

    def inverse(self) -> Change:
        op = INVERSE[self.op]
        if self.op in (ADD, REMOVE):  # the value moves between before and after
            value = self.after if self.op == ADD else self.before
            before, after = (value, None) if op == REMOVE else (None, value)
        else:
            before, after = self.after, self.before
        return Change(self.target, self.field, op, before, after, self.reason, self.backend)

    def row(self, seq: int) -> dict[str, Any]:
        return {
            "seq": seq,
            "target": self.target,
            "field": self.field,
            "op": self.op,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "outcome": self.outcome,
            "error": self.error,
        }


@dataclass
class Plan:
    command: str
    changes: list[Change] = field(default_factory=list)
    undo_of: str | None = None
    # Set by the command: items it could not plan (bad rows), reported with the run.
    problems: list[str] = field(default_factory=list)
    unchanged: int = 0

    def add(self, change: Change) -> None:
        self.changes.append(change)

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def targets(self) -> set[str]:
        return {c.target for c in self.changes}

    def is_bulk(self, threshold: int = 1) -> bool:
        """More than ``threshold`` records touched: a bulk plan needs confirmation."""
        return len(self.targets) > threshold

    def rows(self) -> Iterator[dict[str, Any]]:
        for i, c in enumerate(self.changes, 1):
            yield c.row(i)


class ChangeTarget(Protocol):
    """A port that can read and write the fields that changes name."""

    def read(self, change: Change) -> Any: ...

    def write(self, change: Change) -> None: ...

    def transaction(self) -> Any: ...


def _norm(value: Any) -> Any:
    """Comparable form: JSON round trip (tuples → lists, ints vs floats kept)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value  # already what the round trip would give; most changes are these
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return json.loads(json.dumps(value, default=_json_default, sort_keys=True))


DIGEST = "$digest"  # a journaled record kept as its fingerprint only (see create_stream)


def digest_of(value: Any) -> dict[str, str]:
    """The fingerprint a record is journaled as when it is not kept in full."""
    # the JSON text of a value and of its normalised form (_norm) are the same
    text = json.dumps(value, default=_json_default, sort_keys=True, ensure_ascii=False)
    return {DIGEST: hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]}


def _is_digest(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and DIGEST in value


def _same(cur: Any, expected: Any) -> bool:
    """``cur`` (normalised) is ``expected`` — a value, or a record's fingerprint."""
    if _is_digest(expected):
        return cur is not None and digest_of(cur) == expected
    return bool(cur == _norm(expected))


def state_of(change: Change, current: Any) -> str:
    """``applied`` already in place (skip), ``planned`` can apply, ``conflict`` otherwise."""
    cur = _norm(current)
    if change.op == SEND:
        return SKIPPED if current is not None else PLANNED
    if change.op in (CREATE, SET):
        if _same(cur, change.after):
            return SKIPPED
        if change.op == CREATE:
            if _is_digest(change.after):
                raise OpsError(
                    f"{change.target} was journaled by its fingerprint only (an import): it "
                    "cannot be created again from the journal; import the file again"
                )
            return PLANNED if current is None else CONFLICT
        return PLANNED if _same(cur, change.before) else CONFLICT
    if change.op == DELETE:
        if current is None:
            return SKIPPED
        return PLANNED if _same(cur, change.before) else CONFLICT
    values = cur or []
    if change.op == ADD:
        return SKIPPED if _norm(change.after) in values else PLANNED
    if change.op == REMOVE:
        return PLANNED if _norm(change.before) in values else SKIPPED
    raise UsageError(f"unknown change op {change.op!r}")


class StoreTarget:
    """Applies changes to records of the store (``schema.ENTITIES``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _entity(self, change: Change) -> Entity:
        try:
            return ENTITIES[change.kind]
        except KeyError:
            raise UsageError(f"{change.target}: unknown record type {change.kind!r}") from None

    def read(self, change: Change) -> Any:
        ent = self._entity(change)
        if change.field == "*":
            return self.store.get(ent, change.key)
        if self.store.get(ent, change.key, children=False) is None:
            raise OpsError(f"{change.target} does not exist")
        return self.store.read_field(ent, change.key, change.field)

    def write(self, change: Change) -> None:
        ent = self._entity(change)
        if change.op == CREATE:
            self.store.insert(ent, change.after)
        elif change.op == DELETE:
            self.store.delete(ent, change.key)
        elif change.op == SET:
            self.store.set_field(ent, change.key, change.field, change.after)
        elif change.op == ADD:
            self.store.add_child(ent, change.key, change.field, change.after)
        elif change.op == REMOVE:
            self.store.remove_child(ent, change.key, change.field, change.before)

    def transaction(self) -> Any:
        return self.store.transaction()


def actor() -> str:
    return os.environ.get("OPS_AGENT") or _os_user()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a container: still journal something
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@contextmanager
def journaled_before_interrupt() -> Iterator[None]:
    """Ctrl-C waits for the end of the block: what it writes is journaled before the
    command stops. A change a backend applied with no journal entry could not be
    undone, and its run would look as if it had done nothing. Only in the main thread,
    where the signal arrives; a block is one change or one batch, or the wait for the
    writes in flight at the end of a run."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    before = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
        if caught and callable(before):
            before(caught[0], None)  # the default handler raises KeyboardInterrupt


def new_run_id() -> str:
    return f"{now_utc():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot journal {type(value).__name__}")


def _json_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$bytes" in obj:
        return base64.b64decode(obj["$bytes"])
    return obj


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default, sort_keys=True)


def dumps(value: Any) -> str | None:
    if value is None:
        return None
    return _ENCODER.encode(value)  # json.dumps with these options, without a new encoder each time


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text, object_hook=_json_hook)


@dataclass
class RunResult:
    run_id: str
    status: str
    counts: dict[str, int]
    changes: list[Change]

    @property
    def failed(self) -> int:
        return self.counts.get(CONFLICT, 0) + self.counts.get(FAILED, 0)


class Journal:
    """Journal runs and entries, kept in the store next to the records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self, run_id: str, command: str, who: str, undo_of: str | None) -> None:
        # seq orders runs even when the clock is pinned or two start in one second.
        for attempt in range(5):
            try:
                with self.store.transaction():
                    self.store.execute(
                        "INSERT INTO journal_runs (run_id, seq, command, actor, started_at, "
                        "status, undo_of) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, "
                        "'running', ? FROM journal_runs",
                        (run_id, command, who, iso(now_utc()), undo_of),
                    )
                return
            except OpsError:
                raise
            except Exception:  # a concurrent run took the same seq (PostgreSQL)
                if attempt == 4:
                    raise

    def record(self, run_id: str, seq: int, c: Change) -> None:
        self.record_many(run_id, [(seq, c)])

    def record_many(self, run_id: str, items: list[tuple[int, Change]]) -> None:
        """Journal entries in one statement (a batch of thousands is one round trip)."""
        at = iso(now_utc())
        self.store.executemany(
            "INSERT INTO journal_entries (run_id, seq, backend, target, field, op, before, after,"
            " reason, outcome, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    seq,
                    c.backend,
                    c.target,
                    c.field,
                    c.op,
                    dumps(c.before),
                    dumps(c.after),
                    c.reason,
                    c.outcome,
                    c.error,
                    at,
                )
                for seq, c in items
            ],  # fmt: skip
        )

    def sent(self, target: str) -> bool:
        """Whether a ``send`` to ``target`` (``outbox:<key>``) went out in some run."""
        return self.store.sent(target)

    def finish(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        self.store.execute(
            "UPDATE journal_runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
            (iso(now_utc()), status, dumps(summary), run_id),
        )

    def fail(self, run_id: str) -> None:
        """Close a run that stopped half way (an error, Ctrl-C): failed, with the outcomes
        of what it journaled before it stopped (that much was done, and can be undone)."""
        counts = {
            r["outcome"]: r["n"]
            for r in self.store.query(
                "SELECT outcome, COUNT(*) AS n FROM journal_entries WHERE run_id = ?"
                " GROUP BY outcome",
                (run_id,),
            )
        }
        self.finish(run_id, "failed", {**counts, "error": 1})

    def runs(self, limit: int | None = 50) -> list[dict[str, Any]]:
        sql = (
            "SELECT r.run_id, r.started_at, r.finished_at, r.actor, r.command, r.status, "
            "r.undo_of, r.undone_by, r.summary FROM journal_runs r ORDER BY r.seq DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self.store.query(sql)
        for r in rows:
            r["summary"] = loads(r["summary"]) or {}
            r["changes"] = sum(
                v for k, v in r["summary"].items() if k in (APPLIED, SKIPPED, CONFLICT, FAILED)
            )
        return rows

    def run(self, run_id: str) -> dict[str, Any]:
        if run_id == "last":
            rows = self.store.query("SELECT run_id FROM journal_runs ORDER BY seq DESC LIMIT 1")
            if not rows:
                raise UsageError("the journal is empty: no run to show")
            run_id = rows[0]["run_id"]
        rows = self.store.query("SELECT * FROM journal_runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise UsageError(f"no run {run_id!r} in the journal (see `ops journal list`)")
        run = rows[0]
        run["summary"] = loads(run["summary"]) or {}
        return run

    def entries(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT seq, backend, target, field, op, before, after, reason, outcome, error, at "
            "FROM journal_entries WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        for r in rows:
            r["before"] = loads(r["before"])
            r["after"] = loads(r["after"])
        return rows


def execute(
    plan: Plan,
    store: Store,
    targets: dict[str, ChangeTarget] | None = None,
    *,
    atomic: bool = True,
    who: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Apply ``plan`` and journal it; ``progress(n)`` is called as changes are done.

    ``atomic``: every change goes in one transaction of the store, journal
    included; a conflict or error rolls all of it back (nothing half-written)
    and the run is journaled as failed with each change's outcome. Sends follow
    the commit, each alone (a refused message fails by itself: a partial run). Otherwise
    each change stands alone and failures leave the others applied (a partial
    run, exit 3).
    """
    targets = dict(targets or {})
    targets.setdefault("store", StoreTarget(store))
    journal = Journal(store)
    run_id = new_run_id()
    who = who or actor()
    journal.start(run_id, plan.command, who, plan.undo_of)

    def apply_one(c: Change) -> None:
        if progress is not None:
            progress(1)
        _apply_one(c, targets)

    failed_early = None
    try:
        failed_early = _apply_all(
            plan, store, journal, run_id, apply_one, atomic, targets, progress
        )
    except BaseException:
        with store.transaction():
            journal.fail(run_id)
        raise
    return _finish(plan, store, journal, run_id, failed=failed_early is not None)


def _apply_one(c: Change, targets: dict[str, ChangeTarget]) -> None:
    """Assess one change and write it when it is still planned."""
    target = _assess(c, targets)
    if c.outcome == CONFLICT:
        c.error = "changed since the plan was made; left as it is"
    elif c.outcome == PLANNED and target is not None:
        try:
            target.write(c)
            c.outcome = APPLIED
        except OpsError as exc:
            c.outcome, c.error = FAILED, str(exc)


def _finish(plan: Plan, store: Store, journal: Journal, run_id: str, *, failed: bool) -> RunResult:
    """Count the outcomes, close the run in the journal: done, partial or failed."""
    counts: dict[str, int] = {}
    for c in plan.changes:
        counts[c.outcome] = counts.get(c.outcome, 0) + 1
    if plan.problems:
        counts["rejected"] = len(plan.problems)
    if plan.unchanged:
        counts["unchanged"] = plan.unchanged
    bad = counts.get(CONFLICT, 0) + counts.get(FAILED, 0)
    status = "failed" if failed else "partial" if bad or plan.problems else "done"
    with store.transaction():
        journal.finish(run_id, status, counts)
    return RunResult(run_id, status, counts, plan.changes)


def _apply_batch(target: Any, group: list[Change], progress: Callable[[int], None] | None) -> None:
    """Backends that talk in batches (IMAP): assess all, then one write per action.

    ``write_batch`` marks each change applied as its command succeeds; what is
    still planned when it fails is journaled as failed, so a rerun finishes it.
    """
    _write_batch(target, _assessed(group, target))
    if progress is not None:
        progress(len(group))


def _assessed(group: list[Change], target: Any) -> list[Change]:
    """Assess a batch against the current state; the changes still to write. A target
    that can read the state of many messages at once (``prefetch``) is asked to first;
    if it cannot, each change's own read says why."""
    prefetch = getattr(target, "prefetch", None)
    if prefetch is not None and group:
        try:
            prefetch(group)
        except OpsError:
            pass
    for c in group:
        _assess(c, {c.backend: target})
        if c.outcome == CONFLICT:
            c.error = "changed since the plan was made; left as it is"
    return [c for c in group if c.outcome == PLANNED]


def _write_batch(target: Any, todo: list[Change], refused: str | None = None) -> str | None:
    """One ``write_batch``; the error that stopped it, if any (what it left planned is
    failed with that error, what it did not mark is applied). After a ``refused`` batch
    nothing is sent: the changes fail with that reason, and a rerun sends them."""
    if refused is not None:
        for c in todo:
            c.outcome, c.error = FAILED, f"not sent after an earlier failure: {refused}"
        return refused
    error = None
    try:
        target.write_batch(todo)
    except OpsError as exc:
        error = str(exc)
    for c in todo:
        if c.outcome == PLANNED:
            if error is None:
                c.outcome = APPLIED
            else:
                c.outcome, c.error = FAILED, error
    return error


class RunningPlan:
    """A non-atomic run applied while its plan is still being made.

    For a big run confirmed beforehand (``--yes``), so that the backend works while
    the command reads: the command adds each change to the plan and hands batches of
    them to :meth:`add`. A change for the store, or for a backend that writes one
    change at a time, is applied and journaled there and then. Changes for a backend
    that writes in batches wait until enough are there; the batch is then assessed
    against the current state (as :func:`execute` does) and sent. When the backend
    offers a ``writer()`` (a connection of its own, IMAP), batches are written by a
    worker thread while the command goes on reading and deciding: the batches that
    piled up while one was written go out as one, so the server always has work and
    the commands sent stay few; at the end, while it is still busy, the changes of
    messages its batches do not concern go over a second writer (``spare_at``).
    Changes the backend calls ``costly(change)`` (a command of a fixed cost the server
    pays again for every batch: an IMAP move) wait for a bigger batch, and whatever is
    pending before them is sent first. Each batch is journaled, change by change with
    its outcome, once it is answered (what the writer reports as answered before the
    rest, meanwhile: see :class:`_Worker`). A batch the backend refuses stops the
    writes (no second writer is opened after it): the later batches are journaled as failed
    with that reason and a rerun finishes them, as with :func:`execute`. A command
    that fails halfway (an exception inside the ``with``) leaves what was applied
    journaled and the run marked failed::

        with RunningPlan(plan, store, targets) as run:
            for changes in ...:
                for c in changes:
                    plan.add(c)
                run.add(changes)
        result = run.result
    """

    batch = 1000  # changes for one backend before a batch is sent
    # The same for changes the backend calls costly (IMAP moves). A batch of moves costs
    # the server a fixed part for each target folder (about 25 ms on a Maildir INBOX of
    # 10,000 messages, against 0.07 ms a message), so they wait for the next flush (the
    # headers all decided, the end of the run) or for this many: on bench/mail a fifth
    # less of the server's CPU for the writes, and the run ends no later.
    costly_batch = 10000
    # Changes left at the end, while the writer still has batches to write, worth a second
    # connection (a second server process) that writes them meanwhile: those of messages
    # no batch on the first one concerns. On bench/mail the label copies of the messages
    # a body rule decided went out while the moves the headers decided were still being
    # written, instead of after them (a tenth of the run).
    spare_at = 500

    def __init__(
        self,
        plan: Plan,
        store: Store,
        targets: dict[str, ChangeTarget] | None = None,
        *,
        who: str | None = None,
    ) -> None:
        import queue  # here, not on import: the commands that write in batches need it

        self.plan = plan
        self.store = store
        self.targets: dict[str, Any] = dict(targets or {})
        self.targets.setdefault("store", StoreTarget(store))
        self.journal = Journal(store)
        self.run_id = new_run_id()
        self.who = who or actor()
        self.result: RunResult | None = None  # None: nothing was added, no run journaled
        self._started = False
        self._seq = 0
        # (backend, costly) → (seq, change, assessed) waiting to be sent
        self._pending: dict[tuple[str, bool], list[tuple[int, Change, bool]]] = {}
        self._workers: dict[str, _Worker] = {}
        self._spares: dict[str, _Worker] = {}  # backend → a second writer for the last changes
        # (writer, whether it ends a batch, changes) as the writers answer them
        self._answers: queue.Queue[tuple[_Worker, bool, list[tuple[int, Change]]]] = queue.Queue()
        self._refused: dict[str, str] = {}  # backend → why it refused a batch
        # backend → (whether it writes in batches, its ``costly`` test), looked up once
        self._batched: dict[str, tuple[bool, Callable[[Change], bool] | None]] = {}

    def __enter__(self) -> RunningPlan:
        try:
            for backend, target in self.targets.items():
                if hasattr(target, "write_batch") and hasattr(target, "writer"):
                    self._workers[backend] = _Worker(target.writer(), self._answers)
        except BaseException:
            self._close(failed=True)
            raise
        return self

    def add(self, changes: Iterable[Change], *, assessed: bool = False) -> None:
        """Apply these changes (already added to the plan, in the same order) or queue them.
        The run is journaled from the first change on: a run that plans none leaves none.

        ``assessed``: the caller has just read the current state of the changes for
        batch backends and set their outcomes (planned, skipped or conflict), so they
        are not read again before they are sent."""
        if not self._started:
            self.journal.start(self.run_id, self.plan.command, self.who, self.plan.undo_of)
            self._started = True
        if self._workers:
            self._journal_answered()
        for c in changes:
            self._seq += 1
            batched = self._batched.get(c.backend)
            if batched is None:
                target = self.targets.get(c.backend)
                batched = self._batched[c.backend] = (
                    target is not None and hasattr(target, "write_batch"),
                    getattr(target, "costly", None),
                )
            if batched[0]:
                costly = bool(batched[1] and batched[1](c))
                self._pending.setdefault((c.backend, costly), []).append((self._seq, c, assessed))
                continue
            with journaled_before_interrupt(), self.store.transaction():
                _apply_one(c, self.targets)
                self.journal.record(self.run_id, self._seq, c)
        for (backend, costly), items in list(self._pending.items()):
            if len(items) >= (self.costly_batch if costly else self.batch):
                worker = self._workers.get(backend)
                if worker is not None and worker.busy and not costly:
                    continue  # it would wait behind the batch being written: it grows here
                self._send(backend, costly)

    def ready(self) -> None:
        """The command has started the processes it forks, if any: the writers may start
        their threads and connect now, while it reads, instead of when the first batch
        is there (on bench/mail the first batch went out 0.1–0.2 s sooner)."""
        for worker in self._workers.values():
            worker.start()

    def flush(self, *, last: bool = False) -> None:
        """Send what is waiting for a full batch now: the command knows no more changes
        will come for a while (it starts reading the bodies of messages whose headers
        it has decided), so the server can write them meanwhile instead of at the end.
        ``last``: none will come any more; what the writer's batches do not concern may
        go over a second connection (``spare_at``)."""
        if last:
            self._journal_answered()  # which batches the writers still have, as of now
            for backend in list(self._workers):
                self._spread(backend)
        for backend, costly in sorted(self._pending):
            self._send(backend, costly)

    def _spread(self, backend: str) -> None:
        """The last changes, while the writer is still busy: those of messages that none
        of its batches concerns (sent and not answered, or moves waiting) go to a second
        writer when they are ``spare_at`` at least, so that two server processes write
        at once. Each message's changes stay together, in one connection, in the order
        one batch gives them."""
        worker = self._workers[backend]
        items = self._pending.get((backend, False), [])
        if not worker.busy or worker.refused or backend in self._spares:
            return  # after a refused batch the rest is not sent at all (see the class)
        if len(items) < self.spare_at:
            return
        held = worker.keys() | {c.key for _, c, _ in self._pending.get((backend, True), [])}
        apart = [item for item in items if item[1].key not in held]
        if len(apart) < self.spare_at:
            return
        writer = None
        try:
            writer = self.targets[backend].writer()
            connect = getattr(writer, "connect", None)
            if connect is not None:
                connect()  # here: a server that takes no more connections is no error
        except Exception:  # noqa: BLE001 - no second writer: the first writes them all
            if writer is not None and hasattr(writer, "close"):
                writer.close()
            return
        spare = self._spares[backend] = _Worker(writer, self._answers)
        self._pending[(backend, False)] = [item for item in items if item[1].key in held]
        self._dispatch(backend, apart, spare)

    def _send(self, backend: str, costly: bool) -> None:
        if costly:  # what came before them goes first (a label copy before the move)
            self._send(backend, False)
        items = self._pending.pop((backend, costly), [])
        if items:
            self._dispatch(backend, items, self._workers.get(backend))

    def _dispatch(
        self, backend: str, items: list[tuple[int, Change, bool]], worker: _Worker | None
    ) -> None:
        target = self.targets[backend]
        todo = _assessed([c for _, c, known in items if not known], target)
        for _, c, known in items:
            if known and c.outcome == PLANNED:
                todo.append(c)
            elif known and c.outcome == CONFLICT:
                c.error = "changed since the plan was made; left as it is"
        done = [(seq, c) for seq, c, _ in items]
        if worker is None:
            with journaled_before_interrupt():
                refused = _write_batch(target, todo, self._refused.get(backend))
                if refused is not None:
                    self._refused[backend] = refused
                self._record(done)
        else:
            worker.put(done, todo)

    def _journal_answered(self) -> None:
        for part in self._answered(wait=False):
            self._record(part)

    def _answered(self, *, wait: bool) -> Iterator[list[tuple[int, Change]]]:
        """What the writers have answered, in parts: what is there now; with ``wait``,
        until every batch sent is answered, each part as soon as it is (with whatever
        else is answered by then)."""
        workers = [*self._workers.values(), *self._spares.values()]
        while any(w.busy for w in workers):
            if not wait and self._answers.empty():
                return
            part = self._take(self._answers.get())
            while not self._answers.empty():
                part += self._take(self._answers.get_nowait())
            yield part

    @staticmethod
    def _take(entry: tuple[_Worker, bool, list[tuple[int, Change]]]) -> list[tuple[int, Change]]:
        worker, ends, items = entry
        if ends:
            worker.ended()
        return items

    def _record(self, items: list[tuple[int, Change]]) -> None:
        with self.store.transaction():
            self.journal.record_many(self.run_id, items)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        failed = exc_type is not None
        try:
            if not failed:
                self.flush(last=True)
        except BaseException:
            failed = True
            raise
        finally:
            self._close(failed=failed)

    def _close(self, *, failed: bool) -> None:
        """Wait for the batches sent, journal them, close the run. What was never sent
        is not journaled: nothing happened to it. Ctrl-C meanwhile takes effect once
        the writes in flight are answered and journaled."""
        with journaled_before_interrupt():
            self._closing(failed=failed)

    def _closing(self, *, failed: bool) -> None:
        self._pending.clear()
        if self._started:  # each part as it is answered, while the rest is written
            for part in self._answered(wait=True):
                self._record(part)
        for worker in [*self._workers.values(), *self._spares.values()]:
            worker.close()
        if not self._started:
            return
        self._journal_answered()  # all answered by now
        if failed:
            with self.store.transaction():
                self.journal.fail(self.run_id)
            return
        with self.store.transaction():
            _mark_undone(self.store, self.plan, self.run_id)
        self.result = _finish(self.plan, self.store, self.journal, self.run_id, failed=False)


class _Worker:
    """A thread writing batches through a backend's own writer, one batch at a time.

    The thread starts with the first batch: until then the process has one thread, so
    a command may still fork (:mod:`.offload`) without a copy of a lock held here.

    What it has written goes to ``answers`` as (this worker, whether it ends a batch,
    (seq, change) pairs). A writer with a ``settled`` attribute is given a function to
    call, from this thread, with changes whose outcome it has marked while the rest of
    the batch is still being written (an IMAP group once its commands are answered):
    they are handed back at once, so the caller journals them meanwhile rather than all
    after the last answer; the rest of the batch ends it."""

    def __init__(self, writer: Any, answers: queue.Queue[Any]) -> None:
        import queue
        import threading

        self.writer = writer
        self._todo: queue.Queue[tuple[list[tuple[int, Change]], list[Change]] | None] = (
            queue.Queue()
        )
        self._answers = answers
        # the messages of each batch put, not yet answered (only the caller's thread)
        self._out: deque[set[str]] = deque()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name="ops-writer", daemon=True)

    @property
    def busy(self) -> bool:
        """Whether a batch put is not yet answered (as far as the caller has taken)."""
        return bool(self._out)

    @property
    def refused(self) -> bool:
        """Whether a batch failed (its error stops the later ones)."""
        return self._error is not None

    def keys(self) -> set[str]:
        """The messages (change keys) of the batches not yet answered."""
        return set().union(*self._out)

    def start(self) -> None:
        """Start the thread (it connects the writer first, see :meth:`_run`)."""
        if self._thread.ident is None:
            self._thread.start()

    def put(self, items: list[tuple[int, Change]], todo: list[Change]) -> None:
        self.start()
        self._out.append({c.key for _, c in items})
        self._todo.put((items, todo))

    def ended(self) -> None:
        """The caller took the end of the oldest batch."""
        self._out.popleft()

    def _run(self) -> None:
        import queue

        prepare = getattr(self.writer, "prepare", None)
        if prepare is not None:
            try:
                prepare()  # connect before the first batch is there
            except Exception:  # noqa: BLE001 - the first batch meets the error and journals it
                pass
        stop = False
        while not stop:
            job = self._todo.get()
            if job is None:
                return
            jobs = [job]
            while True:  # the batches that piled up meanwhile go out as one
                try:
                    more = self._todo.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
            self._write(jobs)

    def _write(self, jobs: list[tuple[list[tuple[int, Change]], list[Change]]]) -> None:
        """Write batches as one; hand back what the writer settles as it goes, then the
        rest of each batch, which ends it."""
        todo = [c for _, part in jobs for c in part]
        seq_of = {id(c): seq for items, _ in jobs for seq, c in items}
        early: set[int] = set()  # changes handed back before their batch ended

        def settled(changes: list[Change]) -> None:
            done = [(seq_of[id(c)], c) for c in changes
                    if c.outcome != PLANNED and id(c) in seq_of and id(c) not in early]  # fmt: skip
            if done:
                early.update(id(c) for _, c in done)
                self._answers.put((self, False, done))

        reports = hasattr(self.writer, "settled")
        if reports:
            self.writer.settled = settled
        try:
            self._error = _write_batch(self.writer, todo, self._error)
        except BaseException as exc:  # noqa: BLE001 - the caller journals it; never lost
            self._error = f"{type(exc).__name__}: {exc}"
            for c in todo:
                if c.outcome == PLANNED:
                    c.outcome, c.error = FAILED, self._error
        finally:
            if reports:
                self.writer.settled = None
        for items, _ in jobs:
            self._answers.put((self, True, [(seq, c) for seq, c in items if id(c) not in early]))

    def close(self) -> None:
        if self._thread.ident is not None:
            self._todo.put(None)
            self._thread.join()
        close = getattr(self.writer, "close", None)
        if close is not None:
            close()


def _apply_all(
    plan: Plan,
    store: Store,
    journal: Journal,
    run_id: str,
    apply_one: Callable[[Change], None],
    atomic: bool,
    targets: dict[str, ChangeTarget],
    progress: Callable[[int], None] | None,
) -> Change | None:
    """Apply every change; the change that aborted an atomic run, or None."""
    if not atomic:
        seqs = {id(c): seq for seq, c in enumerate(plan.changes, 1)}
        batched: dict[str, list[Change]] = {}
        for c in plan.changes:
            target = targets.get(c.backend)
            if target is not None and hasattr(target, "write_batch"):
                batched.setdefault(c.backend, []).append(c)
                continue
            with journaled_before_interrupt(), store.transaction():
                apply_one(c)
                journal.record(run_id, seqs[id(c)], c)
        for backend, group in batched.items():
            with journaled_before_interrupt():
                _apply_batch(targets[backend], group, progress)
                with store.transaction():
                    journal.record_many(run_id, [(seqs[id(c)], c) for c in group])
        with store.transaction():
            _mark_undone(store, plan, run_id)
        return None
    # Messages go out once the records they are about are committed, each on its own: a
    # send cannot be rolled back, and a refused one (a recipient unsubscribed, a chat
    # down) must not take the records with it — it is journaled as failed and a rerun
    # sends it.
    sends = [(seq, c) for seq, c in enumerate(plan.changes, 1) if c.op == SEND]
    try:
        with store.transaction():
            for seq, c in enumerate(plan.changes, 1):
                if c.op == SEND:
                    continue
                apply_one(c)
                if c.outcome in (CONFLICT, FAILED):
                    raise _Abort(c)
                journal.record(run_id, seq, c)
            _mark_undone(store, plan, run_id)
        for seq, c in sends:
            with journaled_before_interrupt(), store.transaction():
                apply_one(c)
                journal.record(run_id, seq, c)
        return None
    except _Abort as abort:
        failed = abort.change
    # Rolled back: journal what happened to each change, nothing of it applied.
    for c in plan.changes:
        if c is not failed and c.outcome in (APPLIED, SKIPPED, PLANNED):
            c.outcome = NOT_RUN
    with store.transaction():
        for seq, c in enumerate(plan.changes, 1):
            journal.record(run_id, seq, c)
    return failed


class _Abort(Exception):
    def __init__(self, change: Change) -> None:
        self.change = change


def _mark_undone(store: Store, plan: Plan, run_id: str) -> None:
    if plan.undo_of:
        store.execute(
            "UPDATE journal_runs SET undone_by = ? WHERE run_id = ?", (run_id, plan.undo_of)
        )


def undo_plan(store: Store, run_id: str) -> Plan:
    """The inverse of a journaled run, newest change first."""
    journal = Journal(store)
    run = journal.run(run_id)
    run_id = run["run_id"]
    if run["undone_by"]:
        raise UsageError(f"run {run_id} was already undone by run {run['undone_by']}")
    if run["status"] == "running":
        raise UsageError(f"run {run_id} has not finished; it cannot be undone yet")
    plan = Plan(command=f"undo {run_id}", undo_of=run_id)
    inverses: list[Change] = []
    entries = journal.entries(run_id)
    if any(e["backend"] == "purge" for e in entries):
        raise UsageError(
            f"run {run_id} purged personal data past its retention period: it cannot be "
            "undone (the old values were not kept)"
        )
    for e in reversed(entries):
        if e["outcome"] != APPLIED:
            continue
        if e["op"] not in INVERSE:
            plan.problems.append(
                f"{e['target']}: a {e['op']} cannot be undone (run {run_id}, change {e['seq']})"
            )
            continue
        done = Change(
            e["target"], e["field"], e["op"], e["before"], e["after"], e["reason"], e["backend"]
        )
        inv = done.inverse()
        kind = ENTITIES.get(inv.kind)
        if inv.op == DELETE and inv.backend == "store" and kind and not kind.deletable:
            plan.problems.append(
                f"{inv.target}: kept — {kind.name} records are never deleted by ops "
                f"(created by run {run_id})"
            )
            continue
        inv.reason = f"undo of run {run_id}"
        inverses.append(inv)
    for inv in _moves_back_first(inverses):
        plan.add(inv)
    if not plan.changes and not plan.problems:
        raise UsageError(f"run {run_id} applied no change; there is nothing to undo")
    return plan


def _moves_back_first(changes: list[Change]) -> list[Change]:
    """An undo brings a message back to its folder before it undoes the other changes
    made to it: they were made there, and a mailbox finds the message where it is.
    A run writes a message's move last, so newest first already does so; runs journaled
    with the move first did not. Nothing else changes order."""
    moves: dict[str, list[Change]] = {}
    for c in changes:
        if c.field == "folder":
            moves.setdefault(c.target, []).append(c)
    out: list[Change] = []
    for c in changes:
        first = moves.pop(c.target, None)
        if first is not None:
            out += first
        if c.field != "folder":
            out.append(c)
    return out


def check_plan(plan: Plan, store: Store, targets: dict[str, ChangeTarget] | None = None) -> None:
    """Mark each change skipped / planned / conflict against the current state (for previews)."""
    targets = dict(targets or {})
    targets.setdefault("store", StoreTarget(store))
    for c in plan.changes:
        _assess(c, targets)
        if c.outcome == CONFLICT:
            c.error = "changed since; would be left as it is"


def _assess(c: Change, targets: dict[str, ChangeTarget]) -> ChangeTarget | None:
    """Set ``c.outcome`` from the current value: skipped, planned, conflict or failed."""
    target = targets.get(c.backend)
    if target is None:
        c.outcome, c.error = FAILED, f"no backend {c.backend!r} configured"
        return None
    try:
        c.outcome = state_of(c, target.read(c))
    except OpsError as exc:
        c.outcome, c.error = FAILED, str(exc)
    return target


def raise_for(result: RunResult, what: str) -> None:
    """Turn a run's outcome into the exit-code error the CLI maps."""
    if result.status == "failed":
        bad = next(c for c in result.changes if c.outcome in (CONFLICT, FAILED))
        raise OpsError(
            f"{what}: nothing was changed — {bad.target} {bad.field}: {bad.error} "
            f"(run {result.run_id})"
        )
    if result.status == "partial":
        worst = next((c for c in result.changes if c.outcome in (CONFLICT, FAILED)), None)
        first = f" — {worst.target}: {worst.error}" if worst is not None and worst.error else ""
        raise PartialFailure(f"{what}: {_summary(result.counts)}{first} (run {result.run_id})")


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def summary_line(result: RunResult) -> str:
    return f"run {result.run_id}: {_summary(result.counts) or 'nothing to do'}"


def plan_rows(changes: Iterable[Change]) -> Iterator[dict[str, Any]]:
    for i, c in enumerate(changes, 1):
        yield c.row(i)


@dataclass
class StreamResult:
    run_id: str | None  # None for a dry run
    status: str  # done, partial (some input rejected), failed, dry-run
    counts: dict[str, int]  # created, present (already in the store), rejected


def create_stream(
    command: str,
    entity: Entity,
    items: Iterable[dict[str, Any] | str],
    store: Store,
    *,
    reason: str,
    batch: int = 5000,
    dry_run: bool = False,
    on_problem: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
    who: str | None = None,
) -> StreamResult:
    """Create records from a stream too large to plan in memory (a month of call logs).

    ``items`` are records, or problem texts for input that could not be read
    (reported through ``on_problem`` and counted as rejected). Records whose id
    is already in the store are counted as present and left alone, so running
    the same input twice creates nothing the second time. Each batch is one
    transaction with its journal entries (``create`` changes holding each record's
    fingerprint rather than the record, so ``ops undo`` reverses the run and still
    refuses a record changed since); a failure keeps the batches already
    committed, journaled and consistent, and a rerun picks up the rest. Memory
    stays bounded by the batch, except in a dry run, which remembers the ids it
    has seen to count duplicates inside the input.
    """
    counts = {"created": 0, "present": 0, "rejected": 0}
    journal = Journal(store)
    run_id = None if dry_run else new_run_id()
    if run_id is not None:
        journal.start(run_id, command, who or actor(), None)
    seen: set[str] = set()
    seq = 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal seq
        fresh: dict[str, dict[str, Any]] = {}
        for rec in pending:
            if rec["id"] in fresh or rec["id"] in seen:
                counts["present"] += 1
            else:
                fresh[rec["id"]] = rec
        pending.clear()
        ids = list(fresh)
        present: set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            rows = store.query(
                f"SELECT id FROM {entity.table} WHERE id IN ({', '.join('?' for _ in part)})", part
            )
            present.update(r["id"] for r in rows)
        counts["present"] += len(present)
        new = [rec for rid, rec in fresh.items() if rid not in present]
        if dry_run:
            seen.update(fresh)
        else:
            assert run_id is not None
            with store.transaction():
                if entity.children:
                    for rec in new:
                        store.insert(entity, rec)
                else:
                    store.insert_many(entity, new)
                entries = []
                for rec in new:
                    seq += 1
                    # a fingerprint, not the record: undo can still tell a record changed
                    # since, and a month of calls does not take a gigabyte of journal
                    c = Change(f"{entity.name}:{rec['id']}", "*", CREATE, None,
                               digest_of(rec), reason)  # fmt: skip
                    c.outcome = APPLIED
                    entries.append((seq, c))
                journal.record_many(run_id, entries)
        counts["created"] += len(new)
        if progress is not None:
            progress(len(fresh))

    try:
        for item in items:
            if isinstance(item, str):
                counts["rejected"] += 1
                if on_problem is not None:
                    on_problem(item)
                continue
            pending.append(item)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    except BaseException:
        if run_id is not None:
            with store.transaction():
                journal.finish(run_id, "failed", {**counts, "applied": counts["created"]})
        raise
    status = "dry-run" if dry_run else "partial" if counts["rejected"] else "done"
    if run_id is not None:
        summary = {"applied": counts["created"], "present": counts["present"]}
        if counts["rejected"]:
            summary["rejected"] = counts["rejected"]
        with store.transaction():
            journal.finish(run_id, status, summary)
    return StreamResult(run_id, status, counts)
