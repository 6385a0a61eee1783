"""The project's exception hierarchy (one root, translated at each boundary).

The CLI maps :class:`MedciteError` to a one-line message and exit status 1
(:class:`UsageError` to 2); the HTTP layer maps it to a 4xx answer.
"""

from __future__ import annotations


class MedciteError(Exception):
    """Root of every error medcite reports to a user; ``str(err)`` is the message."""

    exit_code: int = 1
    http_status: int = 400


class UsageError(MedciteError):
    """The request itself is malformed (CLI exit 2, HTTP 422)."""

    exit_code = 2
    http_status = 422


class LoaderError(MedciteError):
    """A file could not be turned into a document; the message says why in plain words."""


class StoreError(MedciteError):
    """The store under the data dir cannot be used as asked."""

    http_status = 409


class StoreLockedError(StoreError):
    """Another medcite process owns the data dir."""


class EmptyStoreError(StoreError):
    """Nothing has been ingested yet."""

    def __init__(self) -> None:
        super().__init__("no documents ingested: run `medcite ingest PATH`")


class NotFoundError(MedciteError):
    """An id that does not exist was asked for."""

    http_status = 404


class ServiceUnavailableError(StoreError):
    """A database or vector server the store needs does not answer (after retries)."""

    http_status = 503
