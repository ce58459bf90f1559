"""Work handed to a forked child process, so a command uses a second core.

A run over a big mailbox spends most of its time parsing messages and asking the
rules, all in Python, all on one core while the interpreter lock is held; the
socket reads, the plan and the journal wait behind it. :class:`Offload` forks the
command: the child, a copy of the process as it is at that moment (the rules, the
customer index: nothing to rebuild or send over), runs a function over the items
the parent sends it, in order, and sends back what it returns, while the parent
goes on with its own part (reading the next chunk off the socket, applying what
came back)::

    with Offload(parse_and_decide) as child:
        for result in child.map(chunks):
            ...

The function may keep state between items in the child (what it held back for a
second phase): the child is one process that takes the items one at a time. It
must not use connections inherited from the parent (sockets, database handles):
they belong to the parent. An exception in the child is raised in the parent, in
the turn of the item it happened on; a child that dies is an error naming it.
Items and results cross a pipe pickled.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..adapters.errors import OpsError

_OK, _ERROR = 0, 1
_PARENT_ENDS: set[Any] = set()  # this process's ends of the pipes to its children


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available() -> bool:
    """Whether forking helps here: Linux (elsewhere a forked copy of a process that
    loaded system frameworks may crash, which is why Python's own multiprocessing does
    not fork on macOS), and more than one core."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return cores() > 1


class Offload:
    """A forked child running ``fn`` over items sent to it (see the module)."""

    def __init__(self, fn: Callable[[Any], Any], *, name: str = "worker") -> None:
        import socket

        self.name = name
        self._pending = 0  # items sent, results not yet read
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its work is seen through the parent
            parent.close()
            for other in _PARENT_ENDS:  # a sibling's pipe: else it never sees its end
                os.close(other.detach())
            _child(child, fn)
        child.close()
        self.pid: int | None = pid
        self._sock = parent
        _PARENT_ENDS.add(parent)
        self._rfile = parent.makefile("rb")
        self._wfile = parent.makefile("wb")

    # -- parent side ---------------------------------------------------------------------
    def send(self, item: Any) -> None:
        """Hand the child one more item (it reads them as they come: this never waits for
        the work, only for the pipe)."""
        data = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        try:
            self._wfile.write(len(data).to_bytes(8, "big"))
            self._wfile.write(data)
            self._wfile.flush()
        except OSError as exc:
            raise OpsError(f"the {self.name} process stopped ({exc})") from None
        self._pending += 1

    def receive(self) -> Any:
        """What ``fn`` returned for the oldest item sent and not yet received; its
        exception, raised here."""
        if not self._pending:
            raise OpsError(f"the {self.name} process has nothing to answer")
        head = self._rfile.read(8)
        size = int.from_bytes(head, "big") if len(head) == 8 else 0
        data = self._rfile.read(size) if size else b""
        if not size or len(data) != size:
            raise OpsError(f"the {self.name} process stopped before it answered ({self._exit()})")
        self._pending -= 1
        kind, value = pickle.loads(data)
        if kind == _ERROR:
            raise value
        return value

    def map(self, items: Iterable[Any], *, ahead: int = 1) -> Iterator[Any]:
        """The results of ``items`` in order. ``ahead``: items sent beyond the one whose
        result is awaited, so the child has the next at hand when it finishes one while
        this process makes the item after it."""
        for item in items:
            self.send(item)
            if self._pending > ahead:
                yield self.receive()
        while self._pending:
            yield self.receive()

    def close(self) -> None:
        """Let the child go (it ends when the pipe closes) and wait for it; a child still
        at work (the parent stopped early) is stopped."""
        if self.pid is None:
            return
        for f in (self._wfile, self._rfile):
            try:
                f.close()
            except OSError:
                pass
        _PARENT_ENDS.discard(self._sock)
        self._sock.close()
        if self._pending:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(self.pid, 0)
        self.pid = None

    def _exit(self) -> str:
        """How the child ended, once it has (for an error)."""
        assert self.pid is not None
        pid, status = os.waitpid(self.pid, 0)
        self.pid = None
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit {os.WEXITSTATUS(status)}"

    def __enter__(self) -> Offload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pool:
    """Several children running the same function, each with its own state.

    An item goes to the child named with it (the one that holds what the item is
    for), or else to the next child in turn; the results come back in the order the
    items were sent, each with the child that made it::

        with Pool(parse_and_decide, 2) as pool:
            for who, result in pool.map((None, chunk) for chunk in chunks):
                ...

    When fewer processes can be had than asked for (a limit, memory), the pool
    goes on with those it got; with none, ``OSError`` as from :class:`Offload`.
    """

    def __init__(self, fn: Callable[[Any], Any], size: int, *, name: str = "worker") -> None:
        self.children: list[Offload] = []
        try:
            for _ in range(max(1, size)):
                self.children.append(Offload(fn, name=name))
        except OSError:
            if not self.children:
                raise

    def map(
        self, items: Iterable[tuple[int | None, Any]], *, ahead: int = 1
    ) -> Iterator[tuple[int, Any]]:
        """(child, result) for each (child or None, item), in order. ``ahead``: items
        sent to each child beyond the one whose result is awaited (see
        :meth:`Offload.map`)."""
        children = self.children
        order: deque[int] = deque()  # the child of each item sent, not yet received
        turn = 0
        for who, item in items:
            if who is None:
                who, turn = turn, (turn + 1) % len(children)
            children[who].send(item)
            order.append(who)
            if len(order) > len(children) * ahead:
                first = order.popleft()
                yield first, children[first].receive()
        while order:
            first = order.popleft()
            yield first, children[first].receive()

    def close(self) -> None:
        for child in self.children:
            child.close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child(sock: Any, fn: Callable[[Any], Any]) -> None:  # pragma: no cover - runs forked
    """Take items off the pipe (a thread reads them as they come, so the parent never
    waits on a full pipe while this one writes a result), run ``fn``, send the result
    or the exception back. Never returns: the copy of the parent ends here, without
    its exit handlers (they are the parent's: its files, its connections)."""
    import queue
    import threading

    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        rfile, wfile = sock.makefile("rb"), sock.makefile("wb")
        items: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

        def reader() -> None:
            try:
                while True:
                    head = rfile.read(8)
                    if len(head) != 8:
                        break
                    items.put(rfile.read(int.from_bytes(head, "big")))
            except OSError:
                pass
            items.put(None)

        threading.Thread(target=reader, daemon=True).start()
        while (data := items.get()) is not None:
            try:
                answer: tuple[int, Any] = (_OK, fn(pickle.loads(data)))
            except BaseException as exc:  # noqa: BLE001 - every error goes to the parent
                answer = (_ERROR, exc)
            try:
                out = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
                if answer[0] == _ERROR:
                    pickle.loads(out)  # an exception that cannot be rebuilt there goes as text
            except Exception as exc:  # noqa: BLE001 - a result or an error that cannot cross
                error = OpsError(f"{type(answer[1]).__name__}: {answer[1]} ({exc})")
                out = pickle.dumps((_ERROR, error), pickle.HIGHEST_PROTOCOL)
            wfile.write(len(out).to_bytes(8, "big"))
            wfile.write(out)
            wfile.flush()
    except BaseException:  # noqa: BLE001 - the parent is gone or stopped: nothing to tell
        code = 1
    finally:
        os._exit(code)
