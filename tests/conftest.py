"""Test set-up: every test runs in its own config/data dirs and working directory.

Tests never read the developer's real configuration or store. ``cli`` runs
``ops`` in-process with captured streams and returns code, stdout, stderr.
"""

from __future__ import annotations

import io
import os
import sys
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_INTEGRATION = os.environ.get("OPS_REQUIRE_INTEGRATION") == "1"


def integration_skip(reason: str) -> None:
    """Skip, except under OPS_REQUIRE_INTEGRATION=1 (CI), where a skip is a failure."""
    if REQUIRE_INTEGRATION:
        pytest.fail(f"integration test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("OPS_") and key not in (
            "OPS_TEST_POSTGRES_URL",
            "OPS_REQUIRE_INTEGRATION",
        ):
            monkeypatch.delenv(key)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("OPS_AGENT", "tester")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
    from deskops.commands.clock import pin

    pin(None)


@dataclass
class Result:
    code: int
    out: str
    err: str


class _Stdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    from deskops.cli.app import run

    def invoke(*args: str, input: bytes | str | None = None) -> Result:
        data = input.encode("utf-8") if isinstance(input, str) else (input or b"")
        monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(data), encoding="utf-8"))
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(list(args))
        return Result(int(code), out.getvalue(), err.getvalue())

    return invoke


def _pg_url() -> str | None:
    return os.environ.get("OPS_TEST_POSTGRES_URL")


@pytest.fixture
def pg_url():
    """A PostgreSQL store URL in a fresh schema, dropped afterwards."""
    url = _pg_url()
    if not url:
        integration_skip("OPS_TEST_POSTGRES_URL is not set")
    try:
        import psycopg

        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001
        integration_skip(f"PostgreSQL at OPS_TEST_POSTGRES_URL unreachable: {exc}")
    schema = f"ops_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    admin.execute(f"DROP SCHEMA {schema} CASCADE")
    admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


DATA = Path(__file__).parent / "data"


@pytest.fixture
def smtp_server():
    """An SMTP sink (aiosmtpd) on loopback: (sink with .messages, port)."""  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            self.messages.append(
                (
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                )
            )
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    yield sink, port
    ctl.stop()
