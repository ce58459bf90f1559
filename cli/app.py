"""The root ``ops`` command: global options, lazily loaded groups, error mapping.

A group's module is imported only when that group runs; ``ops --help`` lists
the groups from the one-line help registered here, and a test checks that each
line equals the first line of the group's own help, so the two never drift.
"""

from __future__ import annotations

import os
import sys
import traceback
from enum import IntEnum
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from deskops import __version__
from deskops.adapters.errors import OpsError


class ExitStatus(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    PARTIAL = 3
    AUTH = 4
    UNREACHABLE = 5
    LOCKED = 75
    INTERRUPTED = 130


# name → (module, one-line help). The module exposes ``app`` (a typer.Typer).
GROUPS: dict[str, tuple[str, str]] = {
    "demo": (
        "deskops.cli.groups.demo",
        "Build or refresh a demo store from a profile's data and show what to try.",
    ),
    "mail": (
        "deskops.cli.groups.mail",
        "Label mail by rules, follow replies, find bounces and unanswered mail.",
    ),
    "orders": (
        "deskops.cli.groups.orders",
        "Work the order confirmation queue, record calls, find duplicates, set flags.",
    ),
    "calls": (
        "deskops.cli.groups.calls",
        "Import call logs, list missed calls to call back, record callbacks, check billing.",
    ),
    "returns": (
        "deskops.cli.groups.returns",
        "Create exchange and return requests, check refund details, list payouts.",
    ),
    "customers": (
        "deskops.cli.groups.customers",
        "Find customer registrations by phone, e-mail or name; list likely duplicates.",
    ),
    "cases": (
        "deskops.cli.groups.cases",
        "Link case records to customers, flag long cases, tag where callers came from.",
    ),
    "escalate": (
        "deskops.cli.groups.escalate",
        "Post a case to the chat channel of its topic, mentioning its people, once.",
    ),
    "reservations": (
        "deskops.cli.groups.reservations",
        "Book, change and cancel store reservations; reminders and satisfaction surveys.",
    ),
    "report": (
        "deskops.cli.groups.report",
        "Daily report per agent, mail, orders, calls, returns, reservations; and ranges.",
    ),
    "store": (
        "deskops.cli.groups.store",
        "Import, export and inspect the records in the store; purge expired personal data.",
    ),
    "journal": (
        "deskops.cli.groups.journal",
        "List and show the journaled runs of changes.",
    ),
    "undo": (
        "deskops.cli.groups.undo",
        "Reverse a journaled run (the undo is journaled too).",
    ),
    "config": (
        "deskops.cli.groups.config",
        "Show the effective configuration and where each value comes from.",
    ),
}


def load_group(name: str) -> Any:
    import importlib

    module = importlib.import_module(GROUPS[name][0])
    return typer.main.get_command(module.app)


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in GROUPS:
            cmd = load_group(cmd_name)
            cmd.name = cmd_name
            return cmd
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, help_) for name, (_mod, help_) in GROUPS.items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    cls=LazyGroup,
    name="ops",
    help=(
        "ops — scriptable procedures for support and order back-offices.\n\n"
        "Every change is planned first (--dry-run shows the plan), journaled when applied, "
        "and can be undone with `ops undo RUN`. Output is a table on a terminal and TSV "
        "when piped; -o json|jsonl|csv|tsv picks a format."
    ),
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"ops {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Profile name (built-in or ~/.config/ops/profiles) "
            "or path to a profile TOML file. Env: OPS_PROFILE.",
        ),
    ] = None,
    env_file: Annotated[
        str | None, typer.Option("--env-file", help="Read settings from this .env file.")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", help="Store URL: SQLite path or postgresql://… Env: OPS_STORE_URL."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Show the plan, change nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Apply bulk plans without asking.")
    ] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt (as in cron); bulk plans need --yes.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Silence messages on stderr.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More messages; tracebacks on errors.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour in output.")] = False,
    lock: Annotated[
        bool,
        typer.Option(
            "--lock",
            help="Run only if no other `ops --lock` run uses this store (exit 75 otherwise).",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Pin the clock (ISO time) for reproducible runs. Env: OPS_NOW."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    from .context import Ops

    if as_of:
        from deskops.commands.clock import parse_datetime, pin, zone

        pin(parse_datetime(as_of, zone(os.environ.get("OPS_TZ")), field="--as-of"))
    ctx.obj = Ops(
        flags={"profile": profile, "store.url": store},
        env_file=env_file,
        dry_run=dry_run,
        yes=yes,
        no_input=no_input,
        quiet=quiet,
        verbose=verbose,
        color=not no_color,
        lock=lock,
    )
    ctx.call_on_close(ctx.obj.close)


def _err(msg: str) -> None:
    sys.stderr.write(f"ops: {msg}\n")
    sys.stderr.flush()


def _verbose(args: list[str]) -> bool:
    return os.environ.get("OPS_DEBUG") == "1" or any(a in ("-v", "--verbose") for a in args)


def _usage_error(exc: Any) -> str:
    """Click's usage errors, with the valid choices spelled out."""
    from typer._click import exceptions as cx

    msg = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, cx.NoSuchOption) and ctx is not None:
        names = sorted(
            {o for p in ctx.command.params for o in getattr(p, "opts", []) if o.startswith("--")}
        )
        msg = f"{msg.rstrip('.')}; valid options: {', '.join(names)}"
    elif "No such command" in msg and ctx is not None and hasattr(ctx.command, "list_commands"):
        msg = f"{msg.rstrip('.')}; valid commands: {', '.join(ctx.command.list_commands(ctx))}"
    where = ctx.command_path if ctx is not None else "ops"
    return f"{where}: {msg} (see `{where} --help`)"


def run(args: list[str]) -> int:
    from typer._click import exceptions as cx

    command = typer.main.get_command(app)
    try:
        rv = command.main(args=args, prog_name="ops", standalone_mode=False)
        return int(rv) if isinstance(rv, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except cx.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.ctx.get_help() + "\n")
        return ExitStatus.OK
    except cx.UsageError as exc:
        sys.stderr.write(_usage_error(exc) + "\n")
        return ExitStatus.USAGE
    except cx.ClickException as exc:
        _err(exc.format_message())
        return exc.exit_code
    except OpsError as exc:
        if _verbose(args):
            traceback.print_exc()
        _err(f"error: {exc}")
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        _err("interrupted")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`ops … | head`): not an error of ours.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return ExitStatus.OK
    except Exception as exc:
        if _verbose(args):
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)")
        return ExitStatus.FAILURE
