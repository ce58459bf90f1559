"""ops config: what ops will use, and where each value came from."""

from __future__ import annotations

from typing import Annotated

import typer

from deskops.adapters.errors import UsageError

from ..context import get
from ..options import Fields, Format, group

app = group("Show the effective configuration and where each value comes from.")

FIELDS = ["key", "value", "source"]


@app.command("show")
def show(
    ctx: typer.Context,
    key: Annotated[
        str | None,
        typer.Argument(help="Only this key or section, e.g. timezone, flags, mail.rules."),
    ] = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Show every setting with its value and source (flag, env, .env, profile, default).

    The profile's own data (labels, statuses, flags, rules, templates, tables)
    follows as dotted keys. Secrets are always shown as ***.

    Example: ops --profile toys-ru config show flags -o json
    """
    ops = get(ctx)
    rows = ops.config.rows(key)
    if key and not rows:
        raise UsageError(f"no setting or profile key {key!r} (see `ops config show`)")
    ops.renderer(fmt, fields).render(rows, FIELDS)


@app.command("profiles")
def profiles(ctx: typer.Context, fmt: Format = None, fields: Fields = None) -> None:
    """List the built-in profiles (the five demo teams).

    Example: ops config profiles
    """
    from deskops.fixtures import PROFILES_DIR

    from ..config import builtin_profiles, read_toml

    rows = []
    for name in builtin_profiles():
        prof = read_toml(PROFILES_DIR / f"{name}.toml").get("profile", {})
        rows.append(
            {
                "name": name,
                "timezone": prof.get("timezone"),
                "country": prof.get("country"),
                "description": prof.get("description"),
            }
        )
    get(ctx).renderer(fmt, fields).render(rows, ["name", "timezone", "country", "description"])
