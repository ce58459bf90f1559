"""Maps a backend URL to the adapter class that speaks it.

Built-in adapters are listed here as import strings so that nothing is
imported until a URL of that scheme is used. Third-party packages add
adapters through the entry-point group ``deskops.adapters.v1``: the entry
point's name is ``<port>:<scheme>`` (for example ``orders:woocommerce+https``)
and its value ``package.module:Class``. Built-ins and plugins resolve the same way.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import UsageError

ENTRY_POINT_GROUP = "deskops.adapters.v1"

# port → scheme → "module:attribute"
BUILTIN: dict[str, dict[str, str]] = {
    "store": {
        "sqlite": "deskops.adapters.store:SQLiteStore",
        "postgresql": "deskops.adapters.store:PostgresStore",
        "postgres": "deskops.adapters.store:PostgresStore",
    },
    "smtp": {
        "smtp": "deskops.adapters.smtp:SmtpSender",
        "smtps": "deskops.adapters.smtp:SmtpSender",
    },
    "orders": {
        "retailcrm+https": "deskops.adapters.retailcrm:RetailCrmOrders",
        "retailcrm+http": "deskops.adapters.retailcrm:RetailCrmOrders",
        "magento+https": "deskops.adapters.magento:MagentoOrders",
        "magento+http": "deskops.adapters.magento:MagentoOrders",
    },
    "cases": {
        "kintone+https": "deskops.adapters.kintone:KintoneCases",
        "kintone+http": "deskops.adapters.kintone:KintoneCases",
    },
    "customers": {
        "kintone+https": "deskops.adapters.kintone:KintoneCustomers",
        "kintone+http": "deskops.adapters.kintone:KintoneCustomers",
    },
    "calls": {
        "sipuni+https": "deskops.adapters.callapis:SipuniCalls",
        "sipuni+http": "deskops.adapters.callapis:SipuniCalls",
        "twilio+https": "deskops.adapters.callapis:TwilioCalls",
        "twilio+http": "deskops.adapters.callapis:TwilioCalls",
    },
    "mail": {
        "maildir": "deskops.adapters.mailbox:MaildirMailbox",
        "imap": "deskops.adapters.imap:ImapMailbox",
        "imaps": "deskops.adapters.imap:ImapMailbox",
        "gmail": "deskops.adapters.gmail:GmailMailbox",
    },
    "notify": {
        "slack+https": "deskops.adapters.notify:SlackNotifier",
        "slack+http": "deskops.adapters.notify:SlackNotifier",
        "telegram+https": "deskops.adapters.notify:TelegramNotifier",
        "telegram+http": "deskops.adapters.notify:TelegramNotifier",
        "line+https": "deskops.adapters.notify:LineNotifier",
        "line+http": "deskops.adapters.notify:LineNotifier",
        "smtp": "deskops.adapters.notify:MailNotifier",
        "smtps": "deskops.adapters.notify:MailNotifier",
    },
    "sms": {
        "twilio+https": "deskops.adapters.sms:TwilioSms",
        "twilio+http": "deskops.adapters.sms:TwilioSms",
    },
}

_plugins: dict[str, dict[str, str]] | None = None


def _load_plugins() -> dict[str, dict[str, str]]:
    global _plugins
    if _plugins is None:
        from importlib.metadata import entry_points

        found: dict[str, dict[str, str]] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            port, _, scheme = ep.name.partition(":")
            if scheme:
                found.setdefault(port, {})[scheme] = ep.value
        _plugins = found
    return _plugins


def scheme_of(url: str) -> str:
    head, sep, _ = url.partition(":")
    if not sep or "/" in head or len(head) == 1:  # a bare path, or a Windows drive letter
        return ""
    return head.lower()


def schemes(port: str) -> list[str]:
    return sorted({*BUILTIN.get(port, {}), *_load_plugins().get(port, {})})


def resolve(port: str, url: str) -> Any:
    """The adapter class for ``url`` on ``port``; a clear error lists the known schemes."""
    scheme = scheme_of(url)
    target = BUILTIN.get(port, {}).get(scheme) or _load_plugins().get(port, {}).get(scheme)
    if target is None:
        raise UsageError(
            f"no {port} adapter for {url.split('://')[0]!r}; known schemes: "
            + ", ".join(schemes(port))
        )
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
