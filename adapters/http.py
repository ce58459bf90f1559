"""What every HTTP adapter (Gmail, RetailCRM, Magento) shares: which failures are worth
another attempt, how long a ``Retry-After`` says to wait, and the backoff between tries.

httpx and tenacity are imported by the adapters that use this, never on the start-up path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from .errors import OpsError

T = TypeVar("T")


class NotFound(OpsError):
    """HTTP 404: the record, message or label is not there (or no longer)."""


class Retryable(Exception):
    """A failure worth another attempt (network, timeout, 429, 5xx, a rate-limit 403)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_wait(state: Any, backoff: float, max_wait: float) -> float:
    """tenacity ``wait``: the server's ``Retry-After`` when it gave one, else doubling."""
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, Retryable) and exc.retry_after is not None:
        return min(exc.retry_after, max_wait)
    return float(min(backoff * 2 ** (state.attempt_number - 1), max_wait))


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int,
    backoff: float,
    max_wait: float,
    sleep: Callable[[float], None],
    on: type[Exception] = Retryable,
) -> T:
    """``call()``, tried again while it raises ``on`` (waits: :func:`backoff_wait`), at
    most ``attempts`` times; the last failure is raised as it is, for the adapter to say
    it gave up in its own words. The one retry loop of the HTTP and SMTP adapters."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=lambda state: backoff_wait(state, backoff, max_wait),
        retry=retry_if_exception_type(on),
        sleep=sleep,
        reraise=True,
    )
    return retrying(call)
