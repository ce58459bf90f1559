#!/usr/bin/env python3
"""A loopback TCP proxy that delays every chunk by N ms in each direction (stdlib asyncio).

Models the latency of a real mail server: with ``--delay-ms 5`` every chunk
read from either side is written to the other side 5 ms later, so a command
and its answer take a 10 ms round trip. Chunks stay in order and are
pipelined (the delay is latency, not a bandwidth cap).

Bounded: it stops after ``--max-seconds``, and, when started by another
program with a pipe on stdin (``spawn``), as soon as that pipe closes — so
it never outlives the benchmark that started it.

    python bench/tcpdelay.py --target 10143 --delay-ms 5     # prints the listen port

From Python::

    proc, port = spawn(target_port, delay_ms=5)   # its own process, no GIL sharing
    ...
    stop(proc)                                    # prints chunk counts to stderr
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import threading
from pathlib import Path


class Stats:
    def __init__(self) -> None:
        self.connections = 0
        self.chunks = {"up": 0, "down": 0}
        self.bytes = {"up": 0, "down": 0}

    def line(self) -> str:
        return (
            f"tcpdelay: {self.connections} connections; client→server {self.chunks['up']} chunks"
            f" {self.bytes['up']} bytes; server→client {self.chunks['down']} chunks"
            f" {self.bytes['down']} bytes"
        )


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    stats: Stats,
    way: str,
) -> None:
    """Copy reader → writer, each chunk released ``delay`` seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def take() -> None:
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((loop.time() + delay, data))
                if not data:
                    return
                stats.chunks[way] += 1
                stats.bytes[way] += len(data)
        except (ConnectionError, OSError):
            queue.put_nowait((loop.time() + delay, b""))

    async def give() -> None:
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return

    await asyncio.gather(take(), give())


async def _serve(
    target_host: str,
    target_port: int,
    delay_ms: float,
    listen_port: int,
    stats: Stats,
    stopping: asyncio.Event | None = None,
) -> None:
    delay = delay_ms / 1000.0

    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        stats.connections += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            c_writer.close()
            return
        _nodelay(c_writer)
        _nodelay(s_writer)
        try:
            await asyncio.gather(
                _pipe(c_reader, s_writer, delay, stats, "up"),
                _pipe(s_reader, c_writer, delay, stats, "down"),
            )
        except asyncio.CancelledError:
            pass  # the proxy is stopping
        finally:
            for w in (c_writer, s_writer):
                w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        if stopping is None:
            await asyncio.Event().wait()  # cancelled from outside
        else:
            await stopping.wait()


# -- as a process -----------------------------------------------------------------------------
def spawn(
    target_port: int,
    delay_ms: float = 5.0,
    *,
    target_host: str = "127.0.0.1",
    max_seconds: float = 1800.0,
) -> tuple[subprocess.Popen[str], int]:
    """Start the proxy in its own process; returns (process, listen port).

    It exits when ``stop`` closes its stdin, when this process dies, or after
    ``max_seconds``.
    """
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--target", str(target_port),
         "--target-host", target_host, "--delay-ms", str(delay_ms),
         "--max-seconds", str(max_seconds), "--stdin-watch"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        err = proc.stderr.read() if proc.stderr else ""
        proc.kill()
        raise RuntimeError(f"tcpdelay did not start: {line!r} {err[-300:]}")
    return proc, int(line)


def stop(proc: subprocess.Popen[str], timeout: float = 5.0) -> str:
    """Close its stdin, wait, return its closing statistics line."""
    try:
        _out, err = proc.communicate(input="", timeout=timeout)  # closes its stdin
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return (err or "").strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", type=int, required=True, help="port to forward to")
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--delay-ms", type=float, default=5.0, help="delay per chunk, each way")
    ap.add_argument("--listen-port", type=int, default=0, help="0: a free port (printed)")
    ap.add_argument("--max-seconds", type=float, default=1800.0, help="stop after this long")
    ap.add_argument("--stdin-watch", action="store_true", help="stop when stdin reaches EOF")
    args = ap.parse_args(argv)
    stats = Stats()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        if args.stdin_watch:

            def watch() -> None:
                try:
                    while sys.stdin.read(4096):
                        pass
                except (OSError, ValueError):
                    pass
                loop.call_soon_threadsafe(stopping.set)

            threading.Thread(target=watch, daemon=True).start()
        loop.call_later(args.max_seconds, stopping.set)
        await _serve(
            args.target_host, args.target, args.delay_ms, args.listen_port, stats,
            stopping=stopping,
        )  # fmt: skip

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    print(stats.line(), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
