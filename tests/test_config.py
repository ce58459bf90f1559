"""Configuration precedence, profiles, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deskops.adapters.errors import UsageError
from deskops.cli.config import load_config


def write_profile(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_precedence_flag_env_dotenv_profile_default(isolated: Path) -> None:
    prof = write_profile(
        isolated / "ops.toml",
        '[profile]\ntimezone = "Asia/Tokyo"\n'
        '[store]\nurl = "from-profile.sqlite"\n[orders]\nurl = "p-orders"\n'
        '[mail]\nurl = "p-mail"\n',
    )
    (isolated / ".env").write_text(
        "OPS_STORE_URL=from-dotenv.sqlite\nOPS_ORDERS_URL=e-orders\nOPS_MAIL_URL=dotenv-mail\n"
    )
    env = {"OPS_STORE_URL": "from-env.sqlite", "OPS_ORDERS_URL": "env-orders"}
    cfg = load_config(flags={"store.url": "from-flag.sqlite"}, env=env, cwd=isolated)
    assert cfg.values["store.url"].value == "from-flag.sqlite"
    assert cfg.values["store.url"].source == "flag"
    assert cfg.values["orders.url"].value == "env-orders"
    assert cfg.values["mail.url"].value == "dotenv-mail"
    assert cfg.values["mail.url"].source.startswith(".env")
    assert cfg.values["timezone"].value == "Asia/Tokyo"
    assert cfg.values["timezone"].source == f"profile {prof}"
    assert cfg.values["agent"].source == "unset"
    cfg = load_config(env={}, cwd=isolated / "..")
    assert cfg.values["timezone"].value == "UTC" and cfg.values["timezone"].source == "default"


def test_real_env_wins_over_dotenv(isolated: Path) -> None:
    (isolated / ".env").write_text("OPS_TZ=Europe/Kyiv\n")
    assert load_config(env={"OPS_TZ": "Europe/Moscow"}, cwd=isolated).timezone == "Europe/Moscow"
    assert load_config(env={}, cwd=isolated).timezone == "Europe/Kyiv"


def test_secrets_from_env_and_file_are_masked(cli, isolated: Path, monkeypatch) -> None:
    secret_file = isolated / "token.txt"
    secret_file.write_text("s3cr3t-token\n")
    monkeypatch.setenv("OPS_ORDERS_TOKEN_FILE", str(secret_file))
    monkeypatch.setenv("OPS_MAIL_PASSWORD", "hunter2")
    monkeypatch.setenv("OPS_SIPUNI_SECRET", "abc123")
    monkeypatch.setenv("OPS_CASES_URL", "kintone+https://user:pa55@x.example/k")
    monkeypatch.setenv("OPS_NOTIFY_URL", "slack+https://hooks.slack.com/services/T1/B2/hook99")
    monkeypatch.setenv("OPS_ORDERS_URL", "retailcrm+https://shop.example?apiKey=k3y&site=s")
    cfg = load_config(cwd=isolated)
    assert cfg.get("orders.token") == "s3cr3t-token"
    r = cli("config", "show", "-o", "json")
    assert r.code == 0, r.err
    rows = {row["key"]: row for row in json.loads(r.out)}
    assert rows["orders.token"]["value"] == "***"
    assert rows["orders.token"]["source"] == "env OPS_ORDERS_TOKEN_FILE"
    assert rows["mail.password"]["value"] == "***"
    assert rows["sipuni_secret"]["value"] == "***"
    assert rows["cases.url"]["value"] == "kintone+https://user:***@x.example/k"
    assert rows["notify.url"]["value"] == "slack+https://hooks.slack.com/services/***"
    assert rows["orders.url"]["value"] == "retailcrm+https://shop.example?apiKey=***&site=s"
    for secret in ("hunter2", "s3cr3t-token", "abc123", "pa55", "hook99", "k3y"):
        assert secret not in r.out and secret not in r.err


def test_secret_in_profile_is_refused_with_line(isolated: Path) -> None:
    write_profile(isolated / "ops.toml", '[profile]\nname = "x"\n\n[orders]\napi_token = "abc"\n')
    with pytest.raises(UsageError, match=r"ops.toml:5: orders.api_token looks like a secret"):
        load_config(env={}, cwd=isolated)
    write_profile(isolated / "ops.toml", '[mail]\nurl = "imaps://me:pw@mail.example"\n')
    with pytest.raises(UsageError, match=r"ops.toml:2: mail.url contains a password"):
        load_config(env={}, cwd=isolated)


def test_malformed_profile_names_file_and_line(cli, isolated: Path) -> None:
    write_profile(isolated / "bad.toml", '[profile]\nname = "x"\ntimezone = \n')
    r = cli("--profile", str(isolated / "bad.toml"), "config", "show")
    assert r.code == 2
    assert "bad.toml:3: invalid TOML" in r.err
    assert "Traceback" not in r.err


def test_unknown_profile_and_unknown_profile_key(cli, isolated: Path) -> None:
    r = cli("--profile", "nope", "config", "show")
    assert r.code == 2 and "unknown profile 'nope'" in r.err
    r = cli("--profile", "missing.toml", "config", "show")
    assert r.code == 2 and "missing.toml not found" in r.err
    write_profile(isolated / "p.toml", '[profile]\nname = "x"\ntimzone = "UTC"\n')
    r = cli("--profile", "p.toml", "config", "show")
    assert r.code == 2 and "p.toml:3: unknown key profile.timzone" in r.err
    assert "valid:" in r.err


def test_profile_extends_builtin(isolated: Path) -> None:
    from deskops.cli.config import builtin_profiles

    if not builtin_profiles():
        pytest.skip("no built-in profiles")
    base = builtin_profiles()[0]
    write_profile(isolated / "ops.toml", f'[profile]\nextends = "{base}"\nname = "mine"\n')
    cfg = load_config(env={}, cwd=isolated)
    assert cfg.profile_name == "mine"
    assert cfg.timezone != "UTC"
    assert cfg.get("store.url").endswith("mine.sqlite")


def test_env_file_flag(cli, isolated: Path) -> None:
    (isolated / "custom.env").write_text("OPS_TZ=Asia/Shanghai\n")
    r = cli("--env-file", "custom.env", "config", "show", "--fields", "key,value", "-o", "csv")
    assert "timezone,Asia/Shanghai" in r.out
    r = cli("--env-file", "none.env", "config", "show")
    assert r.code == 2 and "none.env" in r.err


def test_config_show_includes_profile_data_by_prefix(cli) -> None:
    r = cli("-p", "toys-ru", "config", "show", "flags", "-o", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert rows and all(row["key"].startswith("flags.") for row in rows)
    assert "Обмен/Возврат" in [row["value"] for row in rows]
    r = cli("-p", "toys-ru", "config", "show", "timezone", "-o", "csv")
    assert r.out.splitlines()[1].startswith("timezone,Europe/Moscow,profile ")
    assert cli("config", "show", "nope").code == 2
