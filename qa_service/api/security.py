"""API keys, roles and what each role may do (the contract's permission matrix).

``MEDCITE_API_KEYS="key1:reader,key2:reviewer:Dr A. Smith"``: each entry is
``key:role`` or ``key:role:name``; the name is the key's holder, recorded as the
reviewer of every review made with that key. Without keys the service needs
none, every caller acts as role ``local`` with every permission, and
``server.run`` binds to loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.errors import UsageError


class Role(StrEnum):
    """Roles an API key can have."""

    READER = "reader"
    EDITOR = "editor"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Permission(StrEnum):
    """Groups of endpoints guarded together."""

    READ = "read"  # ask, search, read documents, quizzes
    MANAGE_DOCUMENTS = "manage_documents"  # upload and delete documents
    REVIEW = "review"  # read the audit log and review answers


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.READER: frozenset({Permission.READ}),
    Role.EDITOR: frozenset({Permission.READ, Permission.MANAGE_DOCUMENTS}),
    Role.REVIEWER: frozenset({Permission.READ, Permission.REVIEW}),
    Role.ADMIN: frozenset(Permission),
}

LOCAL_ROLE = "local"  # the role recorded when the service runs without keys
MIN_KEY_LENGTH = 8


MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class ApiKey:
    """One configured key: its role and, optionally, the person who holds it."""

    role: Role
    name: str | None = None


@dataclass(frozen=True)
class Caller:
    """Who is calling: the role recorded in the audit log and checked against permissions.

    ``name`` is the key holder's name (None without keys, or for a key configured as ``key:role``);
    ``key_id`` identifies the key for rate limiting without holding the secret itself.
    """

    role: str
    permissions: frozenset[Permission]
    name: str | None = None
    key_id: str = "local"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


LOCAL_CALLER = Caller(role=LOCAL_ROLE, permissions=frozenset(Permission))


class ApiKeys:
    """The configured keys; ``lookup`` compares in constant time."""

    def __init__(self, keys: dict[str, ApiKey]) -> None:
        self._keys = keys

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def lookup(self, presented: str) -> ApiKey | None:
        """The configured entry of ``presented``, or None when it is not a configured key."""
        found: ApiKey | None = None
        for key, entry in self._keys.items():
            # compare against every key so timing does not reveal which one matched
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = entry
        return found

    def all_named(self, permission: Permission) -> bool:
        """True when every key with ``permission`` names its holder (and keys are configured)."""
        holders = [e for e in self._keys.values() if permission in ROLE_PERMISSIONS[e.role]]
        return self.enabled and all(e.name for e in holders)


def key_id(key: str) -> str:
    """A stable, non-secret identifier of a key (rate-limit counters are keyed by it, never by the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def parse_api_keys(raw: str | None) -> ApiKeys:
    """Parse ``key:role`` / ``key:role:name`` entries, comma-separated.

    A key may itself contain ``:`` (``ab:cd:reader`` is key ``ab:cd``); the entry is read from the
    right: a last part that is a role makes it ``key:role``, otherwise the part before the last must
    be a role and the last part is the holder's name (so a name cannot be a role word). A malformed
    value is a UsageError naming the bad entry (never the key).
    """
    keys: dict[str, ApiKey] = {}
    if raw is None or not raw.strip():
        return ApiKeys(keys)
    role_names = {r.value for r in Role}
    roles = ", ".join(r.value for r in Role)
    for n, entry in enumerate(raw.split(","), 1):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split(":")
        name: str | None = None
        if len(parts) >= 2 and parts[-1].strip().lower() in role_names:
            key, role = ":".join(parts[:-1]).strip(), parts[-1].strip().lower()
        elif len(parts) >= 3 and parts[-2].strip().lower() in role_names:
            key, role = ":".join(parts[:-2]).strip(), parts[-2].strip().lower()
            name = " ".join(parts[-1].split())
            if not name or len(name) > MAX_NAME_CHARS:
                raise UsageError(f"MEDCITE_API_KEYS entry {n}: the holder's name must be 1 to 200 characters")
        elif len(parts) < 2 or not parts[0].strip():
            raise UsageError(f"MEDCITE_API_KEYS entry {n} is not 'key:role' or 'key:role:name'")
        else:
            shown = parts[-1].strip().lower() if len(parts) == 2 else parts[-2].strip().lower()
            raise UsageError(f"MEDCITE_API_KEYS entry {n} has unknown role {shown!r} (roles: {roles})")
        if not key:
            raise UsageError(f"MEDCITE_API_KEYS entry {n} is not 'key:role' or 'key:role:name'")
        if len(key) < MIN_KEY_LENGTH:
            raise UsageError(f"MEDCITE_API_KEYS entry {n}: a key needs at least {MIN_KEY_LENGTH} characters")
        if key in keys:
            raise UsageError(f"MEDCITE_API_KEYS entry {n} repeats a key")
        keys[key] = ApiKey(role=Role(role), name=name)
    return ApiKeys(keys)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The UI's own script and styles only: no inline script, nothing from elsewhere. Even if a
# document's text were ever inserted as HTML by mistake, a <script> in it would not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_DOCS_PATHS = ("/docs", "/redoc")  # Swagger UI / ReDoc pages use inline script of their own


class SecurityHeadersMiddleware:
    """Adds CSP (outside the API docs pages), nosniff, no-referrer and frame denial to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if not scope.get("path", "").startswith(_DOCS_PATHS):
            extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
