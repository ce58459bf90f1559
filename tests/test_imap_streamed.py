# ruff: noqa: F811  (the IMAP fixtures are imported from test_imap)
"""`ops mail label --yes` on IMAP writes while it reads (RunningPlan): the same result as
planning first, every change journaled, undo, and what a refusal or a failure leaves."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import test_imap
from test_imap import dovecot, fill, folders, imap_user, message  # noqa: F401  (fixtures)
from test_mail import PROFILE


def _mail(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(message(f"s{i}@spam", "info@seo.example", "SEOで集客"))
        elif kind == 1:
            out.append(message(f"b{i}@stores", "noreply@stores.example", "【和楽 新宿店】予約"))
        else:
            out.append(message(f"q{i}@c", "someone@example.jp", "問い合わせ", body="返金希望"))
    return out


RULES = [
    {"name": "spam", "when": {"subject": "SEO"}, "add_labels": ["確認"], "trash": True,
     "stop": True},
    {"name": "booking", "when": {"from": "noreply@stores.example"}, "add_labels": ["予約"],
     "archive": True, "stop": True},
    {"name": "refund", "when": {"body": "返金"}, "add_labels": ["返金"], "flag": True},
]  # fmt: skip


def _setup(user: str, port: int) -> tuple[Any, Any, Any]:
    from deskops.adapters.imap import ImapMailbox
    from deskops.commands.clock import now_utc, zone
    from deskops.commands.mailrules import RuleContext, load_rules

    box = ImapMailbox(f"imap://{user}@127.0.0.1:{port}/INBOX", password="secret")
    return box, load_rules(RULES, "t.toml"), RuleContext(tz=zone("Asia/Tokyo"), now=now_utc())


def _streamed(box: Any, rules: Any, ctx: Any, store: Any) -> tuple[Any, Any]:
    from deskops.commands import plan as planmod
    from deskops.commands.mail import plan_label

    plan = planmod.Plan(command="mail label")
    with planmod.RunningPlan(plan, store, {box.backend: box}) as run:
        res = plan_label(box, rules, ctx, store=None, apply=run.add, plan=plan, flush=run.flush,
                         ready=run.ready)  # fmt: skip
    return res, run.result


def _undo(store: Any, run_id: str, user: str, port: int) -> None:
    from deskops.commands import plan as planmod

    undo = planmod.undo_plan(store, run_id)
    box, _, _ = _setup(user, port)
    assert planmod.execute(undo, store, {box.backend: box}, atomic=False).status == "done"
    box.close()


def _state(user: str, port: int) -> dict[str, tuple[int, int]]:
    """Folder → (messages, flagged)."""
    import imapclient

    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    out = {}
    for flags, _delim, name in c.list_folders():
        if b"\\Noselect" in flags:
            continue
        c.select_folder(name, readonly=True)
        n = len(c.search(["ALL"]))
        if n:
            out[name] = (n, len(c.search(["FLAGGED"])))
    c.logout()
    return out


def test_written_while_read_is_what_planning_first_writes(
    imap_user, store_url, monkeypatch
) -> None:
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.mail import plan_label

    user, port = imap_user
    other = next(test_imap._next_user)
    fill(user, port, _mail(90))
    fill(other, port, _mail(90))
    store = Store.open(store_url)
    # planned first, then applied
    box, rules, ctx = _setup(other, port)
    res = plan_label(box, rules, ctx, store=None)
    planned = planmod.execute(res.plan, store, {box.backend: box}, atomic=False)
    box.close()
    # written while read, in batches of 10 changes: many batches handed to one writer
    # connection (which writes those that piled up meanwhile as one)
    batches: list[int] = []
    real = planmod._Worker.put

    def counted(worker: Any, items: list[Any], todo: list[Any]) -> None:
        batches.append(len(todo))
        real(worker, items, todo)

    monkeypatch.setattr(planmod._Worker, "put", counted)
    monkeypatch.setattr(planmod.RunningPlan, "batch", 10)
    box, rules, ctx = _setup(user, port)
    res2, result = _streamed(box, rules, ctx, store)
    box.close()
    assert len(batches) >= 2 and sum(batches) == len(res2.plan.changes) == 180
    assert result.status == "done" and result.counts == planned.counts == {"applied": 180}
    mine, theirs = _state(user, port), _state(other, port)
    assert mine.pop("INBOX") == theirs.pop("INBOX") == (30, 30)
    # label copies: whether one is flagged depends on the order of COPY and STORE
    assert {k: n for k, (n, _) in mine.items()} == {k: n for k, (n, _) in theirs.items()}
    assert set(mine) == {"Trash", "Archive", "確認", "予約", "返金"}
    assert [row["id"] for row in res2.rows] == [row["id"] for row in res.rows]  # mailbox order
    # every change journaled once, in plan order, with its outcome
    journal = planmod.Journal(store)
    entries = journal.entries(result.run_id)
    assert [e["seq"] for e in entries] == list(range(1, 181))
    assert {e["outcome"] for e in entries} == {"applied"}
    assert journal.run(result.run_id)["status"] == "done"
    _undo(store, result.run_id, user, port)  # and undone as any run
    assert _state(user, port) == {"INBOX": (90, 0)}
    store.close()


def _busy_first_writer(monkeypatch: Any, *, refuse_second: bool = False) -> list[list[Any]]:
    """Writers whose first stays busy until the run asks for a second (whose connection
    is refused with ``refuse_second``), in small batches; per writer, the changes it
    wrote."""
    import threading

    from deskops.adapters.errors import BackendUnreachable
    from deskops.adapters.imap import ImapMailbox
    from deskops.commands import plan as planmod

    real_writer = ImapMailbox.writer
    asked = threading.Event()
    written: list[list[Any]] = []

    def writer(self: ImapMailbox) -> ImapMailbox:
        w = real_writer(self)
        mine: list[Any] = []
        written.append(mine)
        first = len(written) == 1
        if not first:
            asked.set()
        if not first and refuse_second:

            def refuse() -> Any:
                raise BackendUnreachable("too many connections from this user")

            w.connect = refuse  # type: ignore[method-assign]
        real_batch = w.write_batch

        def write_batch(changes: list[Any]) -> None:
            mine.extend(changes)
            if first:
                asked.wait(10)
            real_batch(changes)

        w.write_batch = write_batch  # type: ignore[method-assign]
        return w

    monkeypatch.setattr(ImapMailbox, "writer", writer)
    monkeypatch.setattr(planmod.RunningPlan, "batch", 10)
    monkeypatch.setattr(planmod.RunningPlan, "spare_at", 5)
    return written


def test_the_last_changes_go_over_a_second_connection_while_the_first_is_busy(
    imap_user, store_url, monkeypatch
) -> None:
    """At the end of a run, what the busy writer's batches do not concern is written by a
    second connection meanwhile: each message's changes together, flags before copies."""
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod

    user, port = imap_user
    fill(user, port, _mail(120))
    written = _busy_first_writer(monkeypatch)
    store = Store.open(store_url)
    box, rules, ctx = _setup(user, port)
    res, result = _streamed(box, rules, ctx, store)
    box.close()
    assert len(written) == 2
    first, second = ({c.key for c in changes} for changes in written)
    refunds = {c.key for c in res.plan.changes if c.after == "返金"}
    assert second == refunds and not first & second  # the body rule's messages, apart
    assert result.status == "done" and result.counts == {"applied": 240}
    state = _state(user, port)
    assert state == {"INBOX": (40, 40), "Trash": (40, 0), "Archive": (40, 0),
                     "確認": (40, 0), "予約": (40, 0), "返金": (40, 40)}  # fmt: skip
    entries = planmod.Journal(store).entries(result.run_id)
    assert [e["seq"] for e in entries] == list(range(1, 241))  # each change once
    assert {e["outcome"] for e in entries} == {"applied"}
    _undo(store, result.run_id, user, port)
    assert _state(user, port) == {"INBOX": (120, 0)}
    store.close()


def test_a_second_connection_refused_leaves_the_last_changes_to_the_first(
    imap_user, store_url, monkeypatch
) -> None:
    """A server that takes no third connection (a per-user limit): the first writer
    writes what the second would have, and the run is done as without it."""
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod

    user, port = imap_user
    fill(user, port, _mail(60))
    written = _busy_first_writer(monkeypatch, refuse_second=True)
    store = Store.open(store_url)
    box, rules, ctx = _setup(user, port)
    res, result = _streamed(box, rules, ctx, store)
    box.close()
    assert len(written) == 2 and not written[1]  # asked for, refused, given nothing
    assert result.status == "done" and result.counts == {"applied": 120}
    assert _state(user, port)["返金"] == (20, 20)
    entries = planmod.Journal(store).entries(result.run_id)
    assert [e["seq"] for e in entries] == list(range(1, 121))
    store.close()


def test_a_refused_batch_stops_the_later_ones_and_a_rerun_finishes(
    imap_user, isolated: Path, monkeypatch
) -> None:
    from deskops.adapters.imap import ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod

    user, port = imap_user
    fill(user, port, _mail(60))
    real_writer = ImapMailbox.writer
    batches: list[list[Any]] = []  # the batches the writer was given
    with_copies: list[int] = []  # which of them hold label copies

    def refusing_writer(self: ImapMailbox) -> ImapMailbox:
        w = real_writer(self)
        real_send, real_batch = w._send, w.write_batch

        def write_batch(changes: list[Any]) -> None:
            batches.append(changes)
            if any(c.field == "labels" for c in changes):
                with_copies.append(len(batches))
            real_batch(changes)

        def send(*args: Any) -> Any:
            if args[:2] == ("UID", "COPY") and len(with_copies) == 2:  # the second batch of copies
                args = (*args[:3], '"no such folder"')  # the server refuses them
            return real_send(*args)

        w._send, w.write_batch = send, write_batch  # type: ignore[method-assign]
        return w

    monkeypatch.setattr(ImapMailbox, "writer", refusing_writer)
    monkeypatch.setattr(planmod.RunningPlan, "batch", 10)
    monkeypatch.setattr(planmod.RunningPlan, "costly_batch", 10)
    real_put = planmod._Worker.put

    def put_and_wait(self: Any, items: Any, todo: Any) -> None:
        # one batch at a time (batches sent while the writer is busy go out as one, so
        # which batch is the second with copies would depend on how fast it is)
        real_put(self, items, todo)
        while sum(ends for who, ends, _ in list(self._answers.queue) if who is self) < len(
            self._out
        ):
            time.sleep(0.001)  # until every batch put has ended (parts come before the end)

    monkeypatch.setattr(planmod._Worker, "put", put_and_wait)
    store = Store.open(str(isolated / "s.sqlite"))
    box, rules, ctx = _setup(user, port)
    res, result = _streamed(box, rules, ctx, store)
    box.close()
    assert result.status == "partial"
    outcomes = [c.outcome for c in res.plan.changes]
    assert {c.outcome for c in batches[0]} == {"applied"}  # the first batch went through
    failed = [c for c in res.plan.changes if c.outcome == "failed"]
    assert any("TRYCREATE" in (c.error or "") for c in failed)
    assert all(
        "TRYCREATE" in (c.error or "") or "not sent after an earlier failure" in (c.error or "")
        for c in failed
    )
    entries = planmod.Journal(store).entries(result.run_id)
    assert [e["outcome"] for e in entries] == outcomes  # the failed ones journaled too
    state = _state(user, port)  # nothing was moved without its label copy
    assert 0 < state.get("Trash", (0,))[0] <= state.get("確認", (0,))[0] < 20
    assert 0 < state.get("Archive", (0,))[0] <= state.get("予約", (0,))[0] < 20
    assert {c.outcome for c in batches[1]} == {"applied"} and len(with_copies) == 2
    # the rerun finishes the rest, nothing twice
    monkeypatch.setattr(ImapMailbox, "writer", real_writer)
    box, rules, ctx = _setup(user, port)
    res2, result2 = _streamed(box, rules, ctx, store)
    box.close()
    assert result2.status == "done"
    state = _state(user, port)
    assert state.pop("INBOX") == (20, 20)  # flagged; whether a label copy is depends on order
    assert {k: n for k, (n, _) in state.items()} == {
        "Trash": 20, "Archive": 20, "確認": 20, "予約": 20, "返金": 20,
    }  # fmt: skip
    store.close()


def test_a_run_cut_short_keeps_what_it_wrote_journaled_and_undoable(
    imap_user, isolated: Path, monkeypatch
) -> None:
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod
    from deskops.commands.mail import plan_label

    user, port = imap_user
    fill(user, port, _mail(60))
    monkeypatch.setattr(planmod.RunningPlan, "batch", 10)
    store = Store.open(str(isolated / "s.sqlite"))
    box, rules, ctx = _setup(user, port)
    plan = planmod.Plan(command="mail label")
    calls = []
    with pytest.raises(ConnectionError):
        with planmod.RunningPlan(plan, store, {box.backend: box}) as run:

            def add_then_fail(changes: list[Any], **kw: Any) -> None:
                calls.append(changes)
                run.add(changes, **kw)
                if len(calls) == 12:
                    raise ConnectionError("the line to the server dropped")

            plan_label(box, rules, ctx, store=None, apply=add_then_fail, plan=plan)
    box.close()
    journal = planmod.Journal(store)
    assert journal.run(run.run_id)["status"] == "failed"
    entries = journal.entries(run.run_id)
    written = [e for e in entries if e["outcome"] == "applied"]
    assert 10 <= len(written) <= 24 and {e["outcome"] for e in entries} == {"applied"}
    assert sum(n for n, _ in _state(user, port).values()) > 60  # label copies were made
    _undo(store, run.run_id, user, port)
    assert _state(user, port) == {"INBOX": (60, 0)}
    store.close()


def test_cli_label_yes_writes_while_reading(cli, isolated: Path, imap_user, monkeypatch) -> None:
    from deskops.commands import plan as planmod

    user, port = imap_user
    (isolated / "ops.toml").write_text(PROFILE, encoding="utf-8")
    fill(
        user,
        port,
        [message(f"b{i}@stores", "noreply@stores.example", "【和楽 新宿店】予約が入りました")
         for i in range(30)],
    )  # fmt: skip
    writers = []
    real_init = planmod._Worker.__init__

    def init(self: Any, writer: Any, answers: Any) -> None:
        writers.append(writer)
        real_init(self, writer, answers)

    monkeypatch.setattr(planmod._Worker, "__init__", init)
    from deskops.adapters.imap import ImapMailbox

    calls = []  # the writer connects and opens INBOX while the command reads, before it writes
    real_prepare, real_write = ImapMailbox.prepare, ImapMailbox.write_batch

    def prepare(self: Any) -> None:
        real_prepare(self)
        calls.append(("prepare", self._selected))

    def write_batch(self: Any, changes: Any) -> None:
        calls.append(("write", self._selected))
        real_write(self, changes)

    monkeypatch.setattr(ImapMailbox, "prepare", prepare)
    monkeypatch.setattr(ImapMailbox, "write_batch", write_batch)
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    r = cli("mail", "label", "--mailbox", url, "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert calls[:2] == [("prepare", "INBOX"), ("write", "INBOX")]
    assert len(writers) == 1 and writers[0].client is None  # its own connection, closed
    assert {row["outcome"] for row in json.loads(r.out)} == {"applied"}
    assert folders(user, port)["Archive"] == 30
    r = cli("journal", "list", "-o", "json")
    runs = json.loads(r.out)
    assert runs[0]["status"] == "done" and runs[0]["changes"] == 60


def test_what_the_headers_decided_is_sent_before_the_bodies_are_read(
    imap_user, tmp_path, monkeypatch
) -> None:
    """The changes waiting for a full batch when the headers are all decided go out as
    the bodies start being read, label copies before moves; the rest at the end."""
    from deskops.adapters.imap import TEXT, ImapMailbox
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod

    user, port = imap_user
    fill(user, port, _mail(30))
    events: list[tuple[Any, ...]] = []
    real_raw = ImapMailbox.raw

    def raw(self: Any, folder: str, uids: list[int], **kw: Any) -> Any:
        if kw.get("part") == TEXT:
            events.append(("bodies", len(uids)))
        yield from real_raw(self, folder, uids, **kw)

    real_send = planmod.RunningPlan._send

    def send(self: Any, backend: str, costly: bool) -> None:
        if self._pending.get((backend, costly)):
            events.append(
                ("send", "moves" if costly else "others", len(self._pending[(backend, costly)]))
            )
        real_send(self, backend, costly)

    monkeypatch.setattr(ImapMailbox, "raw", raw)
    monkeypatch.setattr(planmod.RunningPlan, "_send", send)
    store = Store.open(str(tmp_path / "s.sqlite"))
    box, rules, ctx = _setup(user, port)
    _res, result = _streamed(box, rules, ctx, store)
    box.close()
    assert events == [
        ("send", "others", 20),  # the labels of 10 solicitations and 10 bookings
        ("send", "moves", 20),  # to Trash and Archive
        ("bodies", 10),  # the inquiries: their body rule
        ("send", "others", 20),  # their label and flag, at the end
    ]
    assert result.counts == {"applied": 60}
    store.close()


def test_a_big_run_decides_in_a_second_process_as_it_would_here(
    imap_user, store_url, monkeypatch
) -> None:
    """From OFFLOAD_AT messages on, the headers and bodies are parsed and the rules asked
    in forked processes, the chunks taking turns between them and each body going to the
    one holding its message: the same plan and rows, an order rule's message crosses whole
    (the order is looked up here), and the run written while read ends the same."""
    from deskops.adapters import imap as imapmod
    from deskops.adapters.schema import CUSTOMERS, ORDERS
    from deskops.adapters.store import Store
    from deskops.commands import mail as mailmod
    from deskops.commands import offload
    from deskops.commands import plan as planmod
    from deskops.commands.lookup import CustomerIndex
    from deskops.commands.mailrules import load_rules

    user, port = imap_user
    form = message("form1@example.ru", "Мария <maria@example.ru>", "Бланк",
                   "Добрый день, прошу оформить возврат, бланк во вложении.",
                   charset="utf-8", attachment="form.pdf")  # fmt: skip
    fill(user, port, _mail(45) + [form])
    store = Store.open(store_url)
    with store.transaction():
        store.insert(CUSTOMERS, {"id": "C1", "name": "Мария", "emails": ["maria@example.ru"]})
        store.insert(ORDERS, {"id": "1042", "customer_id": "C1", "status": "Доставлен",
                              "email": "maria@example.ru",
                              "created_at": "2026-11-01T10:00:00+03:00"})  # fmt: skip
    forks: list[int] = []

    class Counted(offload.Offload):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            forks.append(self.pid)

    monkeypatch.setattr(offload, "Offload", Counted)
    monkeypatch.setattr(offload, "cores", lambda: 2)
    monkeypatch.setattr(imapmod, "CHUNK", 10)  # 5 chunks of headers, bodies from several
    rules = load_rules(
        [
            *RULES,
            {
                "name": "form",
                "when": {"has_attachment": True, "text": "возврат"},
                "add_labels": ["Бланк"],
                "order_comment": "Бланк в почте",
                "order_flags": ["Обмен/Возврат"],
            },
        ],  # fmt: skip
        "t.toml",
    )

    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # the order comment's time, in both

    def plan(forked: bool) -> Any:
        box, _, ctx = _setup(user, port)
        ctx.customers, ctx.now = CustomerIndex(store, "RU"), now
        monkeypatch.setattr(mailmod, "OFFLOAD_AT", 0 if forked else 10_000)
        res = mailmod.plan_label(box, rules, ctx, store=store)
        box.close()
        return res, [(c.target, c.field, c.op, c.before, c.after) for c in res.plan.changes]

    here, here_changes = plan(False)
    assert forks == []
    there, there_changes = plan(True)
    assert len(forks) == 2
    assert there.rows == here.rows and there_changes == here_changes
    assert ("orders:1042", "flags", "add", None, "Обмен/Возврат") in there_changes
    assert sum(c[0] == "orders:1042" for c in there_changes) == 2  # the comment and the flag
    assert len(there.rows) == 46
    with monkeypatch.context() as m:  # no process to be had: the run parses here

        def no_fork() -> int:
            raise BlockingIOError(11, "Resource temporarily unavailable")

        m.setattr(os, "fork", no_fork)
        without, without_changes = plan(True)
    assert len(forks) == 2 and without.rows == here.rows and without_changes == here_changes
    # written while read, forked
    box, _, ctx = _setup(user, port)
    ctx.customers = CustomerIndex(store, "RU")
    run_plan = planmod.Plan(command="mail label")
    with planmod.RunningPlan(run_plan, store, {box.backend: box}) as run:
        res = mailmod.plan_label(box, rules, ctx, store=store, apply=run.add, plan=run_plan,
                                 flush=run.flush)  # fmt: skip
    box.close()
    assert len(forks) == 4
    assert run.result is not None and run.result.counts == {"applied": len(here_changes)}
    assert res.rows == here.rows
    state = _state(user, port)
    # the label copies have the flag the run gave the message (flags are stored first)
    assert state["Trash"][0] == state["Archive"][0] == 15 and state["返金"] == (15, 15)
    assert state["Бланк"][0] == 1
    order = store.get(ORDERS, "1042")
    assert order["flags"] == ["Обмен/Возврат"]
    assert [c["text"] for c in order["comments"]] == ["Бланк в почте"]
    store.close()


def test_an_undo_finds_its_messages_folder_by_folder_not_one_by_one(
    imap_user, tmp_path, monkeypatch
) -> None:
    """An undo runs on a connection that has read none of its messages: it reads the
    folders they may be in once each (Message-ID, flags), not a SEARCH and a FETCH a
    message; a message not there is still looked for on its own."""
    from deskops.adapters import imap as imapmod
    from deskops.adapters.store import Store
    from deskops.commands import plan as planmod

    user, port = imap_user
    fill(user, port, _mail(90))
    store = Store.open(str(tmp_path / "s.sqlite"))
    box, rules, ctx = _setup(user, port)
    _res, result = _streamed(box, rules, ctx, store)
    box.close()
    assert result.counts == {"applied": 180}  # 30 trashed, 30 archived, 30 flagged; 90 labels
    commands: list[int] = []
    for at in (imapmod.PREFETCH_AT, 10**9):  # 10**9: one by one, as before
        monkeypatch.setattr(imapmod, "PREFETCH_AT", at)
        undo = planmod.undo_plan(store, result.run_id)
        box, _, _ = _setup(user, port)
        done = planmod.execute(undo, store, {box.backend: box}, atomic=False)
        box.close()
        commands.append(box.commands)
        assert done.status == "done" and done.counts == {"applied": 180}
        assert _state(user, port) == {"INBOX": (90, 0)}
        redo = planmod.undo_plan(store, done.run_id)  # the label run again, to undo again
        box, _, _ = _setup(user, port)
        again = planmod.execute(redo, store, {box.backend: box}, atomic=False)
        box.close()
        assert again.counts == {"applied": 180}
        result = again
    # folders: INBOX, Trash, Archive and the 3 label folders, each a few commands; the
    # writes: one a group and chunk
    assert commands[0] <= 40 < 150 <= commands[1], commands
    store.close()


def test_undo_brings_a_flagged_and_moved_message_back_then_unflags_it(
    imap_user, tmp_path, monkeypatch
) -> None:
    """A rule that labels, flags and moves: the move is the message's last change, so
    the undo (newest first) finds the message where it went and takes the flag off."""
    from deskops.adapters.store import Store
    from deskops.commands.mailrules import load_rules

    user, port = imap_user
    fill(user, port, [message(f"v{i}@c", "vip@example.jp", "至急") for i in range(4)])
    store = Store.open(str(tmp_path / "s.sqlite"))
    box, _, ctx = _setup(user, port)
    rules = load_rules(
        [
            {
                "name": "vip",
                "when": {"from": "vip@example.jp"},
                "add_labels": ["重要"],
                "flag": True,
                "mark_read": True,
                "move": "VIP",
            }
        ],  # fmt: skip
        "t.toml",
    )
    res, result = _streamed(box, rules, ctx, store)
    box.close()
    assert [c.field for c in res.plan.changes[:4]] == ["labels", "seen", "flagged", "folder"]
    assert result.counts == {"applied": 16}
    state = _state(user, port)
    assert state["VIP"] == (4, 4) and state["重要"][0] == 4 and "INBOX" not in state
    _undo(store, result.run_id, user, port)
    assert _state(user, port) == {"INBOX": (4, 0)}
    store.close()


def test_a_label_condition_sees_folder_labels_on_imap(imap_user, monkeypatch) -> None:
    """On plain IMAP a label such as 返信待ち is a copy in a folder, not read with the
    message: a rule asking ``label = "返信待ち"`` finds it there, in this process and in
    the forked ones."""
    import imapclient

    from deskops.adapters import imap as imapmod
    from deskops.commands import mail as mailmod
    from deskops.commands import offload
    from deskops.commands.mailrules import load_rules

    user, port = imap_user
    fill(user, port, [message(f"w{i}@c", "yamada@example.jp", "問い合わせ") for i in range(6)])
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login(user, "secret")
    c.create_folder("返信待ち")
    c.select_folder("INBOX")
    c.copy([1, 3, 5], "返信待ち")  # w0, w2, w4 carry the label
    c.logout()
    rules = load_rules(
        [{"name": "waiting", "when": {"any": [{"label": "返信待ち"}]}, "flag": True}], "t.toml"
    )
    monkeypatch.setattr(offload, "cores", lambda: 2)
    monkeypatch.setattr(imapmod, "CHUNK", 2)
    for forked in (False, True):
        monkeypatch.setattr(mailmod, "OFFLOAD_AT", 0 if forked else 10_000)
        box, _, ctx = _setup(user, port)
        res = mailmod.plan_label(box, rules, ctx, store=None)
        box.close()
        assert [row["message_id"] for row in res.rows] == ["w0@c", "w2@c", "w4@c"], forked
        assert {(c.field, c.after) for c in res.plan.changes} == {("flagged", True)}
