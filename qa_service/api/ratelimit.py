"""Per-key request rate limits (the ``limits`` library), answered as 429 with ``Retry-After``.

``MEDCITE_RATE_LIMIT`` uses the library's notation (``120/minute``, ``10/second;1000/hour``; ``none``
turns limiting off). Counters are kept per API key (by a hash of it, never the key) in
``MEDCITE_RATE_LIMIT_STORAGE``: ``memory://`` counts per server process; a shared store such as
``redis://host`` makes several workers count together. Without API keys (loopback-only mode) there
is one local user and nothing is limited.

A moving window: a burst at the end of one minute and another at the start of the next cannot add
up to twice the rate, as fixed windows allow.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many, storage, strategies
from limits.errors import ConfigurationError

from ingest.errors import MedciteError, UsageError

UNLIMITED = {"", "none", "off", "0", "unlimited"}


class RateLimitedError(MedciteError):
    """A key made more requests than its rate allows; ``retry_after`` is in whole seconds."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter:
    """Counts requests per key against the configured limits."""

    def __init__(self, rule: str | None, storage_uri: str = "memory://") -> None:
        self.rule = (rule or "").strip()
        self.items: list[RateLimitItem] = []
        if self.rule.lower() in UNLIMITED:
            self._limiter = None
            return
        try:
            self.items = parse_many(self.rule)
        except ValueError:
            raise UsageError(
                f"MEDCITE_RATE_LIMIT={self.rule!r} is not a rate such as '120/minute' or "
                "'10/second;1000/hour' (or 'none')"
            ) from None
        try:
            backend = storage.storage_from_string(storage_uri)
        except ConfigurationError as exc:
            raise UsageError(f"MEDCITE_RATE_LIMIT_STORAGE={storage_uri!r} cannot be used: {exc}") from None
        self._limiter = strategies.MovingWindowRateLimiter(backend)

    @property
    def enabled(self) -> bool:
        return self._limiter is not None

    def hit(self, key: str) -> None:
        """Count one request of ``key``; raises RateLimitedError when a limit is exceeded."""
        if self._limiter is None:
            return
        for item in self.items:
            if not self._limiter.hit(item, key):
                reset = self._limiter.get_window_stats(item, key).reset_time
                retry_after = max(1, math.ceil(reset - time.time()))
                raise RateLimitedError(
                    f"too many requests: this API key may make {item} requests; try again in {retry_after} s",
                    retry_after,
                )
