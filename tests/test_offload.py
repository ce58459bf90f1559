"""commands.offload: work done by a forked child, results and errors back in order."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from deskops.adapters.errors import OpsError, UsageError
from deskops.commands.offload import Offload, Pool, available

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_results_come_in_order_and_the_child_keeps_its_state() -> None:
    seen: list[int] = []  # the child's copy grows; this one stays empty

    def work(n: int) -> tuple[int, int, int]:
        seen.append(n)
        return n * n, len(seen), os.getpid()

    with Offload(work) as child:
        out = list(child.map(range(1, 8), ahead=2))
    assert [sq for sq, _, _ in out] == [1, 4, 9, 16, 25, 36, 49]
    assert [n for _, n, _ in out] == list(range(1, 8))  # one process took them one by one
    assert {pid for *_, pid in out} != {os.getpid()} and len({pid for *_, pid in out}) == 1
    assert seen == []


def test_big_items_and_results_cross_without_a_stall() -> None:
    """Items and results bigger than a pipe holds, sent before the last result is read."""
    blob = b"x" * 3_000_000

    with Offload(lambda b: b + b) as child:
        out = list(child.map([blob, blob, blob], ahead=2))
    assert [len(b) for b in out] == [6_000_000] * 3


def test_an_error_in_the_child_is_raised_here_in_its_turn() -> None:
    def work(n: int) -> int:
        if n == 3:
            raise UsageError("rule 'x': bad value", hint="see the profile")
        return n

    got: list[int] = []
    with Offload(work) as child, pytest.raises(UsageError) as exc:
        for n in child.map(range(1, 6)):
            got.append(n)
    assert got == [1, 2]
    assert str(exc.value) == "rule 'x': bad value (see the profile)"
    assert exc.value.exit_code == 2


class _Odd(Exception):
    def __init__(self, a: int, b: int) -> None:  # cannot be rebuilt from its args alone
        super().__init__(f"{a}/{b}")


def test_an_error_that_cannot_cross_comes_as_text() -> None:
    def work(n: int) -> Any:
        if n == 2:
            raise _Odd(1, 2)
        if n == 3:
            return lambda: n  # a result that cannot be pickled
        return n

    with Offload(work) as child:
        assert list(child.map([1], ahead=0)) == [1]
        child.send(2)
        with pytest.raises(OpsError, match=r"_Odd: 1/2"):
            child.receive()
        child.send(3)
        with pytest.raises(OpsError, match=r"function: "):
            child.receive()
        child.send(4)
        assert child.receive() == 4  # the child is still there


def test_a_child_that_dies_is_an_error_saying_how() -> None:
    def work(n: int) -> int:
        if n == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return n

    with Offload(work, name="rules") as child, pytest.raises(OpsError) as exc:
        list(child.map([1, 2, 3], ahead=0))
    assert str(exc.value) == "the rules process stopped before it answered (killed by signal 9)"


def test_a_parent_that_stops_early_stops_the_child() -> None:
    import time

    def work(n: int) -> int:
        time.sleep(0.05)
        return n

    child = Offload(work)
    pid = child.pid
    it = child.map(range(100), ahead=50)
    assert next(it) == 0
    child.close()  # 50 items still on their way
    assert child.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left


def test_the_child_leaves_without_the_parents_exit_handlers(tmp_path) -> None:
    """It ends with os._exit: no atexit handler, no buffered output of the parent twice."""
    import subprocess
    import sys

    script = tmp_path / "s.py"
    script.write_text(
        "import atexit, sys\n"
        "from deskops.commands.offload import Offload\n"
        "atexit.register(lambda: print('exit handler'))\n"
        "sys.stdout.write('buffered ')\n"
        "with Offload(lambda n: n + 1) as c:\n"
        "    print(list(c.map([1, 2])))\n",
        encoding="utf-8",
    )
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert r.stdout == "buffered [2, 3]\nexit handler\n"


def test_available_wants_linux_and_a_second_core(monkeypatch) -> None:
    import sys

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert available() is False
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert available() is True
    monkeypatch.setattr(sys, "platform", "darwin")
    assert available() is False


def test_a_pool_takes_turns_routes_what_is_named_and_answers_in_order() -> None:
    kept: list[int] = []  # each child's copy keeps what it was given

    def work(item: tuple[str, int]) -> tuple[int, int, list[int]]:
        kind, n = item
        if kind == "keep":
            kept.append(n)
        return n, os.getpid(), list(kept)

    with Pool(work, 2) as pool:
        assert len(pool.children) == 2
        firsts = list(pool.map((None, ("keep", n)) for n in range(6)))
        # in turn: 0, 2, 4 to the first child, 1, 3, 5 to the second
        assert [who for who, _ in firsts] == [0, 1, 0, 1, 0, 1]
        assert [r[0] for _, r in firsts] == list(range(6))
        pids = [pool.children[0].pid, pool.children[1].pid]
        assert [r[1] for _, r in firsts] == [pids[0], pids[1]] * 3
        assert firsts[4][1][2] == [0, 2, 4] and firsts[5][1][2] == [1, 3, 5]
        routed = list(pool.map([(1, ("ask", 10)), (0, ("ask", 11)), (1, ("ask", 12))], ahead=2))
        assert [(who, r[0], r[1], r[2]) for who, r in routed] == [
            (1, 10, pids[1], [1, 3, 5]),
            (0, 11, pids[0], [0, 2, 4]),
            (1, 12, pids[1], [1, 3, 5]),
        ]
    assert all(c.pid is None for c in pool.children)
    assert kept == []


def test_a_pool_closes_though_each_child_was_forked_with_the_pipes_before_it(tmp_path) -> None:
    """The second child is a copy of a parent that held the first one's pipe: unless
    it lets go of it, the first never sees its pipe close and the parent waits for it
    forever."""
    import subprocess
    import sys

    script = tmp_path / "s.py"
    script.write_text(
        "from deskops.commands.offload import Pool\n"
        "with Pool(lambda n: n * 2, 3) as p:\n"
        "    print([r for _, r in p.map((None, n) for n in range(7))])\n"
        "print('closed')\n",
        encoding="utf-8",
    )
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    )
    assert r.stdout == "[0, 2, 4, 6, 8, 10, 12]\nclosed\n"


def test_a_pool_goes_on_with_the_processes_it_could_get(monkeypatch) -> None:
    real_fork = os.fork
    forks: list[int] = []

    def fork_once() -> int:
        if forks:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", fork_once)
    with Pool(lambda n: n + 1, 3) as pool:
        assert len(pool.children) == 1
        assert [r for _, r in pool.map((None, n) for n in range(4))] == [1, 2, 3, 4]
    forks.clear()
    monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(OSError(12, "no memory")))
    with pytest.raises(OSError):
        Pool(lambda n: n, 2)
