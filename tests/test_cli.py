"""The CLI surface: lazy start-up, help, usage errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from deskops.cli.app import GROUPS, app, load_group

HEAVY = ("httpx", "rich", "tabulate", "psycopg", "phonenumbers", "charset_normalizer", "sqlite3")


@pytest.mark.parametrize("args", [["--version"], ["--help"], []])
def test_version_and_help_import_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys, io, contextlib\n"
        "from deskops.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main({args!r})\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
    if args == ["--version"]:
        cold = subprocess.run(
            [sys.executable, "-c", code.replace("print(heavy)", "print('typer' in sys.modules)")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert cold.stdout.strip() == "False"


def test_python_dash_m_and_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "deskops", "--version"], capture_output=True, text=True, check=True
    )
    from deskops import __version__

    assert out.stdout.strip() == f"ops {__version__}"


def test_group_one_liners_match_each_groups_own_help() -> None:
    for name, (_module, line) in GROUPS.items():
        cmd = load_group(name)
        assert (cmd.help or "").strip().splitlines()[0] == line, name


def _walk(cmd, path):  # type: ignore[no-untyped-def]
    yield path, cmd
    for sub_name in getattr(cmd, "commands", {}) or {}:
        yield from _walk(cmd.commands[sub_name], [*path, sub_name])


def test_every_command_has_help_and_an_example() -> None:
    seen = 0
    for name in GROUPS:
        for path, cmd in _walk(load_group(name), [name]):
            if getattr(cmd, "commands", None):
                continue
            text = cmd.help or ""
            assert text.strip(), path
            assert "Example: ops " in text, f"{' '.join(path)} has no example"
            seen += 1
    assert seen >= 8


def test_root_help_lists_groups(cli) -> None:
    r = cli("--help")
    assert r.code == 0
    for name in GROUPS:
        assert name in r.out
    assert isinstance(app, typer.Typer)


def test_unknown_option_lists_valid_ones(cli) -> None:
    r = cli("journal", "list", "--colour")
    assert r.code == 2
    assert "No such option: --colour" in r.err
    assert (
        "ops journal list: No such option: --colour; valid options: --fields, --format, --limit"
        in r.err
    )
    assert "Traceback" not in r.err


def test_unknown_command_lists_valid_ones(cli) -> None:
    r = cli("jornal")
    assert r.code == 2
    from deskops.cli.app import GROUPS

    assert "valid commands: demo, mail, orders, calls, returns, customers, cases" in r.err
    assert f"valid commands: {', '.join(GROUPS)}" in r.err
    r = cli("store", "imprt")
    assert r.code == 2 and "valid commands: import, export, info, purge" in r.err


def test_corrupt_store_is_one_line_exit_1(cli, isolated: Path) -> None:
    bad = isolated / "bad.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    r = cli("--store", str(bad), "journal", "list")
    assert r.code == 1
    assert r.err.count("\n") == 1 and "not a readable SQLite database" in r.err
    r = cli("-v", "--store", str(bad), "journal", "list")
    assert "Traceback" in r.err


def test_unreachable_postgres_is_exit_5(cli) -> None:
    r = cli("--store", "postgresql://nobody:secretpw@127.0.0.1:1/none", "journal", "list")
    assert r.code == 5, r.err
    assert "secretpw" not in r.err and "***" in r.err


def test_lock_held_is_exit_75(cli, isolated: Path) -> None:
    from deskops.cli.context import Ops

    holder = Ops(flags={"store.url": str(isolated / "s.sqlite")}, lock=True)
    holder.store()
    try:
        r = cli("--lock", "--store", str(isolated / "s.sqlite"), "journal", "list")
        assert r.code == 75 and "another `ops --lock` run" in r.err
        assert cli("--store", str(isolated / "s.sqlite"), "journal", "list").code == 0
    finally:
        holder.close()
    assert cli("--lock", "--store", str(isolated / "s.sqlite"), "journal", "list").code == 0


def test_bad_format_and_fields_are_usage_errors(cli) -> None:
    r = cli("journal", "list", "-o", "yaml")
    assert r.code == 2 and "valid: table, json, jsonl, csv, tsv" in r.err
    r = cli("journal", "list", "--fields", "run_id,who")
    assert r.code == 2 and "unknown field who; valid: run_id" in r.err


def test_piped_output_is_tsv_and_json_is_valid(cli) -> None:
    r = cli("store", "info")
    assert r.out.splitlines()[0] == "type\trecords"
    assert json.loads(cli("store", "info", "-o", "json").out)[0] == {
        "type": "customers",
        "records": 0,
    }


def test_as_of_pins_the_clock_for_the_journal(cli, isolated: Path) -> None:
    f = isolated / "c.jsonl"
    f.write_text('{"id": "1", "name": "A"}\n')
    r = cli("--as-of", "2026-01-14T09:00:00+09:00", "store", "import", str(f), "-t", "customers")
    assert r.code == 0
    runs = json.loads(cli("journal", "list", "-o", "json").out)
    assert runs[0]["started_at"] == "2026-01-14T00:00:00Z"


class _Tty:
    def __init__(self, answer: str) -> None:
        import io

        self._buf = io.StringIO(answer)

    def isatty(self) -> bool:
        return True

    def readline(self, *a):  # type: ignore[no-untyped-def]
        return self._buf.readline()

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("answer,applied", [("y\n", True), ("n\n", False)])
def test_bulk_plan_asks_on_a_terminal(isolated: Path, monkeypatch, answer, applied) -> None:
    from deskops.adapters.errors import OpsError
    from deskops.cli.context import Ops
    from deskops.commands.plan import CREATE, Change, Plan

    tty = _Tty(answer)
    monkeypatch.setattr(sys, "stdin", tty)
    ops = Ops(flags={"store.url": str(isolated / "s.sqlite")}, stdin=tty, stderr=tty)
    plan = Plan("test")
    for i in range(2):
        plan.add(Change(f"customers:{i}", "*", CREATE, None, {"id": str(i), "name": "x"}))
    try:
        if applied:
            assert ops.run_plan(plan, what="t", show=False).counts == {"applied": 2}
        else:
            with pytest.raises(OpsError, match="nothing was changed"):
                ops.run_plan(plan, what="t", show=False)
        assert ops.store().scalar("SELECT COUNT(*) FROM customers") == (2 if applied else 0)
    finally:
        ops.close()
    # --no-input never prompts: bulk needs --yes
    ops = Ops(flags={"store.url": str(isolated / "t.sqlite")}, stdin=tty, stderr=tty, no_input=True)
    with pytest.raises(OpsError, match="--yes"):
        ops.run_plan(plan, what="t", show=False)
    ops.close()
