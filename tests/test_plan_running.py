"""RunningPlan: a non-atomic run applied while it is planned, with any backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from deskops.adapters.schema import ORDERS
from deskops.adapters.store import Store
from deskops.commands import plan as planmod
from deskops.commands.plan import ADD, SET, Change, Plan, RunningPlan


class Flags:
    """A backend that writes in batches and has no writer of its own: written in the
    caller's thread when a batch is full."""

    def __init__(self) -> None:
        self.flags: dict[str, bool] = {"m1": True}
        self.batches: list[int] = []

    def read(self, c: Change) -> Any:
        return self.flags.get(c.key, False)

    def write_batch(self, changes: list[Change]) -> None:
        self.batches.append(len(changes))
        for c in changes:
            if c.key == "bad":
                raise planmod.OpsError("refused: bad")
            self.flags[c.key] = c.after

    def transaction(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()


def test_batches_store_changes_and_the_journal(store_url: str, monkeypatch) -> None:
    monkeypatch.setattr(RunningPlan, "batch", 4)
    store = Store.open(store_url)
    with store.transaction():
        store.insert(ORDERS, {"id": "1001", "status": "new"})
    flags = Flags()
    plan = Plan(command="test")
    with RunningPlan(plan, store, {"flags": flags}) as run:
        for i in range(1, 11):  # m1 is flagged already: skipped when its batch is assessed
            c = Change(f"messages:m{i}", "flagged", SET, False, True, "r", "flags")
            plan.add(c)
            run.add([c])
            assert len(flags.batches) == i // 4  # sent as each batch fills
        order = Change("orders:1001", "flags", ADD, None, "checked", "r")
        plan.add(order)
        run.add([order])
        assert store.get(ORDERS, "1001")["flags"] == ["checked"]  # applied there and then
    assert flags.batches == [3, 4, 2]  # m1 skipped; the rest on leaving
    result = run.result
    assert result is not None and result.status == "done"
    assert result.counts == {"applied": 10, "skipped": 1}
    journal = planmod.Journal(store)
    entries = journal.entries(result.run_id)
    assert [e["seq"] for e in entries] == list(range(1, 12))
    assert entries[0]["outcome"] == "skipped" and entries[-1]["target"] == "orders:1001"
    store.close()


def test_a_refused_batch_fails_the_later_ones(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(RunningPlan, "batch", 2)
    store = Store.open(str(tmp_path / "s.sqlite"))
    flags = Flags()
    plan = Plan(command="test")
    keys = ["a", "b", "bad", "c", "d", "e"]
    with RunningPlan(plan, store, {"flags": flags}) as run:
        for k in keys:
            c = Change(f"messages:{k}", "flagged", SET, False, True, "r", "flags")
            plan.add(c)
            run.add([c])
    result = run.result
    assert result is not None and result.status == "partial"
    assert [c.outcome for c in plan.changes] == ["applied"] * 2 + ["failed"] * 4
    assert {c.error for c in plan.changes[2:]} == {
        "refused: bad", "not sent after an earlier failure: refused: bad"
    }  # fmt: skip
    assert flags.flags == {"m1": True, "a": True, "b": True}
    store.close()


def test_a_run_that_plans_nothing_journals_nothing(tmp_path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    with RunningPlan(Plan(command="test"), store, {"flags": Flags()}) as run:
        pass
    assert run.result is None
    assert planmod.Journal(store).runs() == []
    store.close()


class Moves(Flags):
    """Moves cost the backend more per batch: they wait for a bigger one."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[list[str]] = []

    def costly(self, c: Change) -> bool:
        return c.field == "folder"

    def read(self, c: Change) -> Any:
        return "INBOX" if c.field == "folder" else False

    def write_batch(self, changes: list[Change]) -> None:
        self.sent.append([f"{c.field}:{c.key}" for c in changes])


def test_costly_changes_wait_for_a_bigger_batch_after_what_came_before(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(RunningPlan, "batch", 3)
    monkeypatch.setattr(RunningPlan, "costly_batch", 4)
    store = Store.open(str(tmp_path / "s.sqlite"))
    moves = Moves()
    plan = Plan(command="test")
    with RunningPlan(plan, store, {"imap": moves}) as run:
        for i in range(1, 6):  # a label and a move per message
            changes = [
                Change(f"messages:m{i}", "flagged", SET, False, True, "r", "imap"),
                Change(f"messages:m{i}", "folder", SET, "INBOX", "Archive", "r", "imap"),
            ]
            for c in changes:
                plan.add(c)
            run.add(changes)
    assert moves.sent == [
        ["flagged:m1", "flagged:m2", "flagged:m3"],
        ["flagged:m4"],  # what came before the moves goes first
        ["folder:m1", "folder:m2", "folder:m3", "folder:m4"],
        ["flagged:m5"],
        ["folder:m5"],
    ]
    assert run.result is not None and run.result.counts == {"applied": 10}
    store.close()


class SlowWriter(Flags):
    """A batch backend with a writer of its own (a thread writes), slow to answer."""

    def writer(self) -> SlowWriter:
        return self

    def write_batch(self, changes: list[Change]) -> None:
        import time

        time.sleep(0.3)
        super().write_batch(changes)


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Ctrl-C raising KeyboardInterrupt, as in a terminal: a shell starts a background
    job (``pytest &``) with SIGINT ignored, and Python then leaves it ignored."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_while_the_last_writes_are_answered_waits_for_their_journal(
    tmp_path, monkeypatch, ctrl_c
) -> None:
    """The interrupt takes effect once the writes in flight are answered and journaled:
    nothing applied is left without a journal entry to undo it by."""
    import os
    import signal
    import threading

    import pytest

    monkeypatch.setattr(RunningPlan, "batch", 3)
    store = Store.open(str(tmp_path / "s.sqlite"))
    closing = threading.Event()  # the run waits for its writes in flight
    real_closing = RunningPlan._closing

    def waiting(self: RunningPlan, *, failed: bool) -> None:
        closing.set()
        real_closing(self, failed=failed)

    monkeypatch.setattr(RunningPlan, "_closing", waiting)

    class Interrupted(SlowWriter):
        def write_batch(self, changes: list[Change]) -> None:
            if any(c.target == "messages:m8" for c in changes):  # the last batch: Ctrl-C
                assert closing.wait(10)  # meanwhile (not at a moment a timer guesses)
                os.kill(os.getpid(), signal.SIGINT)
            super().write_batch(changes)

    flags = Interrupted()
    plan = Plan(command="test")
    with pytest.raises(KeyboardInterrupt):
        with RunningPlan(plan, store, {"flags": flags}) as run:
            for i in range(2, 9):
                c = Change(f"messages:m{i}", "flagged", SET, False, True, "r", "flags")
                plan.add(c)
                run.add([c])
    assert all(flags.flags[f"m{i}"] for i in range(2, 9))
    journal = planmod.Journal(store)
    entries = journal.entries(run.run_id)
    assert [e["outcome"] for e in entries] == ["applied"] * 7
    assert journal.run(run.run_id)["status"] == "done"
    store.close()


class Reporting(Flags):
    """A writer that marks its changes one group at a time and hands each group back
    (``settled``) before it writes the next, as the IMAP writer does."""

    settled: Any = None

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.journaled_meanwhile: list[int] = []

    def writer(self) -> Reporting:
        return self

    def write_batch(self, changes: list[Change]) -> None:
        import time

        half = len(changes) // 2
        for n, group in enumerate((changes[:half], changes[half:])):
            for c in group:
                if c.key == "m3":  # fails alone; the rest of its group is applied
                    c.outcome, c.error = "failed", "no such message"
                    continue
                self.flags[c.key] = c.after
                c.outcome = "applied"
            self.settled(group)
            if n:
                return
            # the caller journals the first group while this one writes the second
            other = Store.open(self.path)
            try:
                for _ in range(500):
                    count = other.scalar("SELECT COUNT(*) FROM journal_entries")
                    if count:
                        break
                    time.sleep(0.01)
                self.journaled_meanwhile.append(count)
            finally:
                other.close()


def test_what_a_writer_has_settled_is_journaled_while_it_writes_the_rest(tmp_path) -> None:
    path = str(tmp_path / "s.sqlite")
    store = Store.open(path)
    flags = Reporting(path)
    plan = Plan(command="test")
    with RunningPlan(plan, store, {"flags": flags}) as run:
        for i in range(2, 12):
            c = Change(f"messages:m{i}", "flagged", SET, False, True, "r", "flags")
            plan.add(c)
            run.add([c])
    assert flags.journaled_meanwhile == [5]  # the first group, before the second was written
    entries = planmod.Journal(store).entries(run.run_id)
    assert [e["seq"] for e in entries] == list(range(1, 11))  # each change once
    assert [e["outcome"] for e in entries] == ["applied"] + ["failed"] + ["applied"] * 8
    assert entries[1]["error"] == "no such message"
    assert run.result is not None and run.result.counts == {"applied": 9, "failed": 1}
    store.close()


def test_ctrl_c_in_a_batch_of_a_planned_run_journals_the_batch(tmp_path, ctrl_c) -> None:
    import os
    import signal

    import pytest

    class Interrupted(Flags):
        def write_batch(self, changes: list[Change]) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # half way through the batch
            super().write_batch(changes)

    store = Store.open(str(tmp_path / "s.sqlite"))
    flags = Interrupted()
    plan = Plan(command="test")
    for i in range(2, 6):
        plan.add(Change(f"messages:m{i}", "flagged", SET, False, True, "r", "flags"))
    with pytest.raises(KeyboardInterrupt):
        planmod.execute(plan, store, {"flags": flags}, atomic=False)
    journal = planmod.Journal(store)
    run = journal.runs()[0]
    assert run["status"] == "failed" and run["changes"] == 4  # what was done, to undo
    assert [e["outcome"] for e in journal.entries(run["run_id"])] == ["applied"] * 4
    store.close()


def test_undo_brings_a_message_back_before_it_undoes_the_rest(tmp_path) -> None:
    """A run journaled with a message's move before its flag (as runs before moves came
    last were): the undo moves it back first, so the flag is taken off where it is."""
    store = Store.open(str(tmp_path / "s.sqlite"))
    journal = planmod.Journal(store)
    mail = "mail:imap://u@h/INBOX"
    done = [
        Change("messages:<a@x>", "folder", SET, "INBOX", "Archive", "r", mail),
        Change("messages:<a@x>", "flagged", SET, False, True, "r", mail),
        Change("messages:<b@x>", "labels", ADD, None, "確認", "r", mail),
    ]
    for c in done:
        c.outcome = "applied"
    with store.transaction():
        journal.start("run1", "mail label", "me", None)
        journal.record_many("run1", list(enumerate(done, 1)))
        journal.finish("run1", "done", {})
    undo = planmod.undo_plan(store, "run1")
    assert [(c.target, c.field, c.before, c.after) for c in undo.changes] == [
        ("messages:<b@x>", "labels", "確認", None),  # newest first otherwise
        ("messages:<a@x>", "folder", "Archive", "INBOX"),
        ("messages:<a@x>", "flagged", True, False),
    ]
    store.close()


class Preparing(Flags):
    """A writer that connects (``prepare``) in its own thread before its first batch."""

    def __init__(self, fail: bool = False) -> None:
        import threading

        super().__init__()
        self.fail = fail
        self.calls: list[str] = []
        self.prepared = threading.Event()

    def writer(self) -> Preparing:
        return self

    def prepare(self) -> None:
        self.calls.append("prepare")
        self.prepared.set()
        if self.fail:
            raise planmod.OpsError("cannot connect yet")

    def write_batch(self, changes: list[Change]) -> None:
        self.calls.append("write")
        super().write_batch(changes)


@pytest.mark.parametrize("fail", [False, True])
def test_ready_connects_the_writer_before_its_first_batch(tmp_path, fail: bool) -> None:
    """``ready``: the writer's thread starts and connects while the command still reads;
    a connection that fails then is no error of its own: the first batch meets it (here
    it writes), and nothing is lost."""
    store = Store.open(str(tmp_path / "s.sqlite"))
    writer = Preparing(fail=fail)
    plan = Plan(command="test")
    with RunningPlan(plan, store, {"flags": writer}) as run:
        run.ready()
        assert writer.prepared.wait(5)  # before any change is there
        assert writer.calls == ["prepare"]
        c = Change("messages:m2", "flagged", SET, False, True, "r", "flags")
        plan.add(c)
        run.add([c])
    assert writer.calls == ["prepare", "write"]
    assert writer.flags["m2"] is True
    assert run.result is not None and run.result.counts == {"applied": 1}
    store.close()


def test_ready_without_a_writer_thread_is_nothing(store_url: str) -> None:
    """A backend written in the caller's thread has nothing to connect early."""
    store = Store.open(store_url)
    flags = Flags()
    plan = Plan(command="test")
    with RunningPlan(plan, store, {"flags": flags}) as run:
        run.ready()
        c = Change("messages:m2", "flagged", SET, False, True, "r", "flags")
        plan.add(c)
        run.add([c])
    assert flags.batches == [1] and run.result is not None
    store.close()
