"""ops config: what ops will use, and where each value came from."""

from __future__ import annotations

import typer

from ..context import get
from ..options import Fields, Format, group

app = group("Show the effective configuration and where each value comes from.")

FIELDS = ["key", "value", "source"]


@app.command("show")
def show(ctx: typer.Context, fmt: Format = None, fields: Fields = None) -> None:
    """Show every setting with its value and source (flag, env, .env, profile, default).

    Secrets are always shown as ***.

    Example: ops --profile toys-ru config show -o json
    """
    ops = get(ctx)
    cfg = ops.config
    ops.renderer(fmt, fields).render(cfg.rows(), FIELDS)


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
