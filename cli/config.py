"""Configuration: flags > environment (OPS_*) > .env > profile file > defaults.

A *profile* is a TOML file holding one team's configuration as data (labels,
statuses, flags, rules, templates, tables, time zone, country). The five demo
profiles ship in ``deskops.fixtures``; a team's own file is ``./ops.toml`` or
``~/.config/ops/ops.toml`` (or ``--profile PATH``) and may ``extends`` a
built-in one. Secrets are read only from the environment, ``.env`` or a file
named by ``<NAME>_FILE``; a secret in a profile file or in a URL there is
refused, and every secret is shown as ``***``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.store import mask_url

SECRET_SUFFIXES = ("_PASSWORD", "_TOKEN", "_SECRET", "_KEY", "_API_KEY", "_PASS")

# key, environment variable, help; values default to None unless DEFAULTS says otherwise
SETTINGS: list[tuple[str, str, str]] = [
    ("profile", "OPS_PROFILE", "profile name or path to a profile TOML file"),
    ("store.url", "OPS_STORE_URL", "the store: a SQLite path/URL or postgresql://…"),
    ("timezone", "OPS_TZ", "IANA time zone for dates and reports"),
    ("agent", "OPS_AGENT", "who runs ops (journal actor, claims)"),
    ("output.format", "OPS_FORMAT", "default output format"),
    ("mail.url", "OPS_MAIL_URL", "mail backend"),
    ("orders.url", "OPS_ORDERS_URL", "orders backend"),
    ("calls.url", "OPS_CALLS_URL", "call log backend"),
    ("customers.url", "OPS_CUSTOMERS_URL", "customer registrations backend"),
    ("cases.url", "OPS_CASES_URL", "case records backend"),
    ("notify.url", "OPS_NOTIFY_URL", "notification channel"),
    ("sms.url", "OPS_SMS_URL", "SMS sender"),
    ("mail.password", "OPS_MAIL_PASSWORD", "secret"),
    ("orders.token", "OPS_ORDERS_TOKEN", "secret"),
    ("calls.secret", "OPS_CALLS_SECRET", "secret"),
    ("notify.token", "OPS_NOTIFY_TOKEN", "secret"),
]
ENV_OF = {k: e for k, e, _ in SETTINGS}
KEY_OF_ENV = {e: k for k, e, _ in SETTINGS}
PROFILE_KEYS = {"name", "description", "timezone", "country", "language", "currency", "extends"}


def is_secret_name(name: str) -> bool:
    up = name.upper().replace(".", "_")
    return up.endswith(SECRET_SUFFIXES)


@dataclass
class Value:
    key: str
    value: Any
    source: str
    secret: bool = False

    @property
    def shown(self) -> Any:
        if self.value is None:
            return None
        if self.secret:
            return "***"
        if isinstance(self.value, str) and "://" in self.value:
            return mask_url(self.value)
        return self.value


@dataclass
class Config:
    values: dict[str, Value] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    profile_path: Path | None = None
    dotenv: dict[str, str] = field(default_factory=dict)  # for secrets adapters ask by name

    def get(self, key: str, default: Any = None) -> Any:
        v = self.values.get(key)
        return default if v is None or v.value is None else v.value

    @property
    def profile_name(self) -> str | None:
        return self.profile.get("profile", {}).get("name")

    @property
    def timezone(self) -> str:
        return str(self.get("timezone") or "UTC")

    def section(self, name: str) -> dict[str, Any]:
        """A profile section (``[orders]``, ``[mail]`` …) for the commands that use it."""
        sec = self.profile.get(name, {})
        return sec if isinstance(sec, dict) else {}

    def rows(self, prefix: str | None = None) -> list[dict[str, Any]]:
        """Settings, then the profile's own data flattened to dotted keys."""
        out = [
            {"key": v.key, "value": v.shown, "source": v.source}
            for v in sorted(self.values.values(), key=lambda v: v.key)
        ]
        source = f"profile {self.profile_path}"
        for key, value in flatten({k: v for k, v in self.profile.items() if k not in ("store",)}):
            if key not in self.values:
                out.append({"key": key, "value": value, "source": source})
        if prefix:
            out = [
                r
                for r in out
                if r["key"] == prefix
                or r["key"].startswith(prefix + ".")
                or r["key"].startswith(prefix + "[")
            ]
        return out


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}, "r": [{"x": 2}]}`` → ``[("a.b", 1), ("r[0].x", 2)]``."""
    if isinstance(data, dict):
        items: list[tuple[str, Any]] = []
        for k, v in data.items():
            items.extend(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return items
    if isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        items = []
        for i, v in enumerate(data):
            items.extend(flatten(v, f"{prefix}[{i}]"))
        return items
    return [(prefix, data)]


def builtin_profiles() -> list[str]:
    from deskops.fixtures import PROFILES_DIR

    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def user_config_dir() -> Path:
    from platformdirs import user_config_dir as ucd

    return Path(ucd("ops", appauthor=False))


def user_data_dir() -> Path:
    from platformdirs import user_data_dir as udd

    return Path(udd("deskops", appauthor=False))


def find_profile(spec: str) -> Path:
    """A profile by path, by name in ~/.config/ops/profiles, or a built-in one."""
    from deskops.fixtures import PROFILES_DIR

    p = Path(spec).expanduser()
    if spec.endswith(".toml") or os.sep in spec or p.is_file():
        if not p.is_file():
            raise UsageError(f"profile file {spec} not found")
        return p
    for cand in (user_config_dir() / "profiles" / f"{spec}.toml", PROFILES_DIR / f"{spec}.toml"):
        if cand.is_file():
            return cand
    raise UsageError(
        f"unknown profile {spec!r}; built-in profiles: {', '.join(builtin_profiles())} "
        "(or give a path to a .toml file)"
    )


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read profile ({exc.strerror})") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: profile files must be UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        where = f"{path}:{m.group(1)}" if m else str(path)
        raise UsageError(f"{where}: invalid TOML: {_TOML_POS.sub('', msg).strip()}") from None


def _line_of(path: Path, needle: str) -> int:
    try:
        for i, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if needle in line:
                return i
    except OSError:
        pass
    return 0


def _check_no_secrets(path: Path, data: Any, prefix: str = "") -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}{k}"
            if is_secret_name(k) and v not in (None, ""):
                raise UsageError(
                    f"{path}:{_line_of(path, k)}: {key} looks like a secret; secrets are read "
                    f"only from the environment, .env or a *_FILE path, never from a profile"
                )
            if isinstance(v, str) and "://" in v and mask_url(v) != v:
                raise UsageError(
                    f"{path}:{_line_of(path, k)}: {key} contains a password; put the URL in "
                    "the environment or .env instead"
                )
            _check_no_secrets(path, v, key + ".")
    elif isinstance(data, list):
        for item in data:
            _check_no_secrets(path, item, prefix)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_profile(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    data = read_toml(path)
    _check_no_secrets(path, data)
    prof = data.get("profile", {})
    if not isinstance(prof, dict):
        raise UsageError(f"{path}:{_line_of(path, 'profile')}: [profile] must be a table")
    unknown = sorted(set(prof) - PROFILE_KEYS)
    if unknown:
        raise UsageError(
            f"{path}:{_line_of(path, unknown[0])}: unknown key profile.{unknown[0]}; "
            f"valid: {', '.join(sorted(PROFILE_KEYS))}"
        )
    base_name = prof.get("extends")
    if base_name:
        base_path = find_profile(str(base_name))
        if base_path.resolve() in _seen:
            raise UsageError(f"{path}: profiles extend each other in a loop")
        base = load_profile(base_path, (*_seen, path.resolve()))
        data = _merge(base, data)
        if "name" not in prof:
            data["profile"]["name"] = base["profile"].get("name")
    data.setdefault("profile", {}).setdefault("name", path.stem)
    return data


def read_secret_file(name: str, path: str) -> str:
    try:
        return Path(path).expanduser().read_text("utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read secret file {path} ({exc.strerror})") from None


def load_config(
    *,
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    env_file: str | None = None,
    cwd: Path | None = None,
) -> Config:
    """Build the effective configuration and remember where each value came from."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = dict(os.environ if env is None else env)
    cwd = cwd or Path.cwd()
    cfg = Config()

    dotenv: dict[str, str] = {}
    dotenv_path = Path(env_file).expanduser() if env_file else cwd / ".env"
    if env_file and not dotenv_path.is_file():
        raise UsageError(f"--env-file {env_file}: file not found")
    if dotenv_path.is_file():
        from dotenv import dotenv_values

        dotenv = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    cfg.dotenv = dotenv

    def layered(envname: str) -> tuple[Any, str] | None:
        if envname in env:
            return env[envname], "env"
        if envname in dotenv:
            return dotenv[envname], f".env ({dotenv_path.name})"
        fname = envname + "_FILE"
        if is_secret_name(envname):
            if fname in env:
                return read_secret_file(fname, env[fname]), f"env {fname}"
            if fname in dotenv:
                return read_secret_file(fname, dotenv[fname]), f".env {fname}"
        return None

    # 1. which profile
    prof_spec: tuple[Any, str] | None = None
    if flags.get("profile"):
        prof_spec = (flags["profile"], "flag")
    else:
        prof_spec = layered("OPS_PROFILE")
    path: Path | None = None
    if prof_spec:
        path = find_profile(str(prof_spec[0]))
    else:
        for cand in (cwd / "ops.toml", user_config_dir() / "ops.toml"):
            if cand.is_file():
                path, prof_spec = cand, (str(cand), "default file")
                break
    if path is not None:
        cfg.profile = load_profile(path)
        cfg.profile_path = path
    prof_source = f"profile {path}" if path else "default"
    profile_values = {
        "timezone": cfg.profile.get("profile", {}).get("timezone"),
        "store.url": cfg.profile.get("store", {}).get("url"),
        "agent": cfg.profile.get("agents", {}).get("default")
        if isinstance(cfg.profile.get("agents"), dict)
        else None,
        "output.format": cfg.profile.get("output", {}).get("format"),
    }
    for port in ("mail", "orders", "calls", "customers", "cases", "notify", "sms"):
        sec = cfg.profile.get(port, {})
        if isinstance(sec, dict):
            profile_values[f"{port}.url"] = sec.get("url")

    name = cfg.profile_name
    defaults: dict[str, Any] = {
        "timezone": "UTC",
        "store.url": str(user_data_dir() / f"{name or 'ops'}.sqlite"),
        "output.format": None,
    }

    for key, envname, _help in SETTINGS:
        secret = is_secret_name(envname)
        if key in flags:
            cfg.values[key] = Value(key, flags[key], "flag", secret)
            continue
        got = layered(envname)
        if got is not None:
            cfg.values[key] = Value(key, got[0], got[1], secret)
        elif profile_values.get(key) is not None:
            cfg.values[key] = Value(key, profile_values[key], prof_source, secret)
        elif defaults.get(key) is not None:
            cfg.values[key] = Value(key, defaults[key], "default", secret)
        else:
            cfg.values[key] = Value(key, None, "unset", secret)
    if prof_spec:
        cfg.values["profile"] = Value("profile", str(path), prof_spec[1])

    # Other OPS_* secrets (adapters read them by name) are shown masked too.
    for src_name, src in (("env", env), (".env", dotenv)):
        for k, v in src.items():
            if k.startswith("OPS_") and k not in KEY_OF_ENV and is_secret_name(k):
                key = k[4:].lower()
                cfg.values.setdefault(key, Value(key, v, src_name, True))
    return cfg


def secret(cfg: Config, env_name: str, env: dict[str, str] | None = None) -> str | None:
    """A secret by its variable name: environment, then ``<NAME>_FILE``."""
    key = KEY_OF_ENV.get(env_name)
    if key and cfg.get(key) is not None:
        return str(cfg.get(key))
    env = os.environ if env is None else env
    for source in (env, cfg.dotenv):  # the environment wins over .env
        if env_name in source:
            return source[env_name]
        if env_name + "_FILE" in source:
            return read_secret_file(env_name + "_FILE", source[env_name + "_FILE"])
    return None
