"""The per-invocation context: settings, streams, the store, and the plan runner.

Commands get it from ``ctx.obj``. Everything a command needs from the outside
(configuration, the opened store, output streams, whether a person is at the
terminal) comes from here, so tests can drive the CLI without patching.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import typer

from deskops.adapters.errors import LockHeld, OpsError, PartialFailure, UsageError

from .config import Config, load_config, user_data_dir
from .output import Renderer


@dataclass
class Ops:
    flags: dict[str, Any] = field(default_factory=dict)
    env_file: str | None = None
    dry_run: bool = False
    yes: bool = False
    no_input: bool = False
    quiet: bool = False
    verbose: bool = False
    color: bool = True
    lock: bool = False
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    _config: Config | None = None
    _store: Any = None
    _lock_fd: Any = None

    def for_profile(self, profile: str) -> Ops:
        """The same invocation, for another profile (its own config and store)."""
        from dataclasses import replace

        return replace(
            self, flags={**self.flags, "profile": profile}, _config=None, _store=None, _lock_fd=None
        )

    # -- configuration -----------------------------------------------------
    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(flags=self.flags, env_file=self.env_file)
        return self._config

    @property
    def tz(self) -> Any:
        from deskops.commands.clock import zone

        return zone(self.config.timezone)

    @property
    def region(self) -> str:
        """The profile's country (ISO code): phone numbers are read as this country's."""
        prof = self.config.profile.get("profile")
        return str(prof.get("country") or "") if isinstance(prof, dict) else ""

    # -- the store -----------------------------------------------------------
    @property
    def store_url(self) -> str:
        return str(self.config.get("store.url"))

    def store(self) -> Any:
        if self._store is None:
            from deskops.adapters.store import Store

            if self.lock:
                self._take_lock()
            self._store = Store.open(self.store_url)
        return self._store

    def backend(self, name: str) -> Any:
        """Reopen the backend a journaled change went to (``<port>:<url>``)."""
        from deskops.adapters.registry import resolve

        port, sep, url = name.partition(":")
        if not sep or not url:
            raise UsageError(f"cannot reopen backend {name!r} of the journal")
        cls = resolve(port, url)
        if hasattr(cls, "from_config"):
            from deskops.adapters.registry import scheme_of

            from .config import secret

            # The secret for this backend: a scheme's own (OPS_GMAIL_TOKEN, OPS_SMTP_PASSWORD)
            # first, then the port's (OPS_MAIL_PASSWORD); env, .env or *_FILE.
            names = {
                "gmail": ["OPS_GMAIL_TOKEN"],
                "smtp": ["OPS_SMTP_PASSWORD"],
                "smtps": ["OPS_SMTP_PASSWORD"],
                "retailcrm+https": ["OPS_RETAILCRM_KEY"],
                "retailcrm+http": ["OPS_RETAILCRM_KEY"],
                "magento+https": ["OPS_MAGENTO_TOKEN"],
                "magento+http": ["OPS_MAGENTO_TOKEN"],
                "sipuni+https": ["OPS_SIPUNI_SECRET", "OPS_CALLS_SECRET"],
                "sipuni+http": ["OPS_SIPUNI_SECRET", "OPS_CALLS_SECRET"],
                "twilio+https": ["OPS_TWILIO_TOKEN", "OPS_CALLS_SECRET"],
                "twilio+http": ["OPS_TWILIO_TOKEN", "OPS_CALLS_SECRET"],
                "slack+https": ["OPS_NOTIFY_TOKEN"],
                "slack+http": ["OPS_NOTIFY_TOKEN"],
                "telegram+https": ["OPS_TELEGRAM_TOKEN", "OPS_NOTIFY_TOKEN"],
                "telegram+http": ["OPS_TELEGRAM_TOKEN", "OPS_NOTIFY_TOKEN"],
                "line+https": ["OPS_LINE_TOKEN", "OPS_NOTIFY_TOKEN"],
                "line+http": ["OPS_LINE_TOKEN", "OPS_NOTIFY_TOKEN"],
                "kintone+https": ["OPS_KINTONE_TOKEN"],
                "kintone+http": ["OPS_KINTONE_TOKEN"],
            }.get(scheme_of(url), [])
            password = None
            for env_name in [*names, f"OPS_{port.upper()}_PASSWORD"]:
                password = secret(self.config, env_name)
                if password:
                    break
            return cls.from_config(url, self.config.profile, password)
        return cls(url)

    def notifier(self, url: str) -> Any:
        """The notification adapter for ``url``, as a send target: a post already in the
        journal reads as done, so it is not posted again."""
        notifier = self.backend(f"notify:{url}")
        notifier.store = self.store()
        return notifier

    def post(self, plan: Any, urls: list[str], *, what: str, dry_run: bool = False) -> Any:
        """Post the ``send`` changes of ``plan`` (``outbox:<key>``, after = {"text",
        "title"}) to each notification URL: once per key and channel — a post already in
        the journal is not posted again."""
        import hashlib
        from dataclasses import replace

        from deskops.commands.plan import Plan

        targets: dict[str, Any] = {}
        posts = Plan(command=plan.command)
        try:
            for url in urls:
                notifier = self.notifier(url)
                targets[notifier.backend] = notifier
                digest = hashlib.sha1(notifier.backend.encode()).hexdigest()[:10]
                for c in plan.changes:
                    posts.add(replace(c, target=f"{c.target}-{digest}", backend=notifier.backend))
            return self.run_plan(posts, what=what, yes=True, targets=targets, show=dry_run,
                                 dry_run=dry_run)  # fmt: skip
        finally:
            for notifier in targets.values():
                notifier.close()

    def customer_index(self, source: Any = None) -> Any:
        """The one customer lookup, over the registrations of ``source`` (default:
        :meth:`records` of customers) and the store's orders and reservations."""
        from deskops.commands.lookup import CustomerIndex

        source = source or self.records("customers")
        return CustomerIndex(self.store(), self.region, customers=source.records())

    def records(self, kind: str, url: str | None = None) -> Any:
        """Customer registrations or case records (``kind``): ``url`` (``--cases`` /
        ``--customers``), else ``OPS_<KIND>_URL``, else the store."""
        from deskops.adapters.registry import scheme_of
        from deskops.commands.records import BackendRecords, StoreRecords

        url = url or self.config.get(f"{kind}.url")
        if url and scheme_of(str(url)) not in ("", "sqlite", "postgresql", "postgres"):
            return BackendRecords(self.backend(f"{kind}:{url}"), kind)
        return StoreRecords(self.store(), kind, self.config.profile)

    def smtp(self, url: str | None, mailbox: str | None = None) -> tuple[Any, str]:
        """(the SMTP sender or None, the From address) for mail a command sends: ``--smtp``,
        else ``OPS_SMTP_URL``, else ``[smtp] url``; From is ``[smtp] from``, else the
        address of ``[mailboxes.<mailbox>]``, else the first mailbox's."""
        url = url or os.environ.get("OPS_SMTP_URL") or self.config.section("smtp").get("url")
        sender = None
        if url:
            sender = self.backend(f"smtp:{url}")
            sender.store = self.store()
        boxes = self.config.section("mailboxes")
        own = boxes.get(mailbox) if mailbox else None
        first = next(
            (b.get("address") for b in boxes.values() if isinstance(b, dict) and b.get("address")),
            None,
        )
        address = str(
            self.config.section("smtp").get("from")
            or (own.get("address") if isinstance(own, dict) else None)
            or first
            or "ops@localhost"
        )
        return sender, address

    def _take_lock(self) -> None:
        import fcntl

        lock_dir = user_data_dir() / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha1(self.store_url.encode()).hexdigest()[:16]
        fd = open(lock_dir / f"{name}.lock", "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fd.close()
            raise LockHeld(
                "another `ops --lock` run is using this store", hint="try again later"
            ) from None
        self._lock_fd = fd

    def close(self) -> None:
        from deskops.commands.clock import pin

        pin(None)
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._lock_fd is not None:
            self._lock_fd.close()
            self._lock_fd = None

    # -- messages --------------------------------------------------------------
    def info(self, msg: str) -> None:
        if not self.quiet:
            self.stderr.write(msg + "\n")
            self.stderr.flush()

    def debug(self, msg: str) -> None:
        if self.verbose and not self.quiet:
            self.stderr.write(msg + "\n")

    def warn(self, msg: str) -> None:
        self.stderr.write(f"ops: warning: {msg}\n")

    # -- output ------------------------------------------------------------------
    def renderer(self, fmt: str | None, fields: str | None) -> Renderer:
        fmt = fmt or self.config.get("output.format")
        return Renderer(fmt=fmt, fields=fields, out=self.stdout, color=self.color)

    # -- plans -------------------------------------------------------------------
    @property
    def interactive(self) -> bool:
        if self.no_input:
            return False
        try:
            return self.stdin.isatty() and self.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def run_plan(
        self,
        plan: Any,
        *,
        what: str,
        fmt: str | None = None,
        fields: str | None = None,
        dry_run: bool = False,
        yes: bool = False,
        atomic: bool = True,
        targets: dict[str, Any] | None = None,
        show: bool = True,
    ) -> Any:
        """Preview, confirm, apply and journal a plan; render per-change outcomes.

        Returns the run result, or ``None`` when nothing was applied.
        """
        from deskops.commands import plan as planmod

        store = self.store()
        renderer = self.renderer(fmt, fields)
        if not plan.changes:
            return self._nothing_to_do(plan, what)
        self._problems(plan)
        if dry_run or self.dry_run:
            planmod.check_plan(plan, store, targets)
            if show:
                renderer.render(plan.rows(), planmod.PLAN_FIELDS)
            self.info(
                f"dry run: {len(plan.changes)} change(s) to {len(plan.targets)} record(s) "
                "planned; nothing was changed"
            )
            if plan.problems:
                raise PartialFailure(f"{what}: {len(plan.problems)} rejected")
            return None
        if plan.is_bulk() and not (yes or self.yes):
            self._confirm(plan, what)
        with self.progress(len(plan.changes), what) as advance:
            result = planmod.execute(plan, store, targets, atomic=atomic, progress=advance)
        if show:
            renderer.render(
                plan.rows(),
                planmod.PLAN_FIELDS,
                default=["seq", "target", "field", "op", "outcome", "error"],
            )
        self.info(f"{what}: {planmod.summary_line(result)}")
        planmod.raise_for(result, what)
        return result

    def ran_plan(self, result: Any, plan: Any, *, what: str) -> Any:
        """Report a run applied while it was planned (:class:`RunningPlan`) as
        :meth:`run_plan` reports its own: the problems, then nothing to do or the
        summary line; the exit-code error of a partial or failed run."""
        from deskops.commands import plan as planmod

        if result is None:
            return self._nothing_to_do(plan, what)
        self._problems(plan)
        self.info(f"{what}: {planmod.summary_line(result)}")
        planmod.raise_for(result, what)
        return result

    def _problems(self, plan: Any) -> None:
        for problem in plan.problems:
            self.stderr.write(f"ops: {problem}\n")

    def _nothing_to_do(self, plan: Any, what: str) -> None:
        """No change to make: the problems, what was already in place; exit 3 when
        something was rejected."""
        self._problems(plan)
        self.info(
            f"{what}: nothing to do"
            + (f" ({plan.unchanged} already up to date)" if plan.unchanged else "")
        )
        if plan.problems:
            raise PartialFailure(f"{what}: {len(plan.problems)} rejected")

    @contextmanager
    def progress(self, total: int, what: str) -> Iterator[Callable[[int], None] | None]:
        """A progress bar on stderr for long work, only on a terminal."""
        if self.quiet or total < 200 or not self.stderr.isatty():
            yield None
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(file=self.stderr), transient=True) as bar:
            task = bar.add_task(what, total=total)
            yield lambda n: bar.advance(task, n)

    def _confirm(self, plan: Any, what: str) -> None:
        n, m = len(plan.changes), len(plan.targets)
        if not self.interactive:
            raise UsageError(
                f"{what} would make {n} change(s) to {m} record(s); rerun with --yes to apply "
                "or --dry-run to review"
            )
        if not typer.confirm(f"{what}: apply {n} change(s) to {m} record(s)?", err=True):
            raise OpsError("nothing was changed")


def get(ctx: typer.Context) -> Ops:
    root = ctx.find_root()
    if not isinstance(root.obj, Ops):  # a group invoked on its own (tests)
        root.obj = Ops()
    return root.obj
