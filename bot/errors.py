"""One error hierarchy. Errors meant for an admin or customer carry what is wrong and how to fix it."""

from __future__ import annotations

import re


class RapportError(Exception):
    """Base of every error Rapport raises on purpose."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        # Messages quote URLs from the config; a password in one must never reach a terminal or a log.
        return mask_url_passwords(f"{self.message}\n  fix: {self.fix}" if self.fix else self.message)


class ConfigError(RapportError):
    """config.yaml is missing, unreadable or invalid. ``problems`` lists every finding."""

    def __init__(self, message: str, problems: list[ConfigProblem] | None = None, fix: str = "") -> None:
        super().__init__(message, fix)
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        return mask_url_passwords("\n".join([self.message, *(f"  - {p}" for p in self.problems)]))


class ConfigProblem:
    """One thing wrong in the config: where, what value, and how to fix it."""

    def __init__(self, path: str, value: object, problem: str, fix: str) -> None:
        self.path = path
        self.value = value
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        shown = "(missing)" if self.value is _MISSING else repr(self.value)
        return mask_url_passwords(f"{self.path or '(top level)'}: {self.problem} (got {shown}); fix: {self.fix}")


_MISSING = object()
MISSING = _MISSING


class StoreError(RapportError):
    """A database or vector store cannot be used as configured."""


class EmbedderMismatchError(StoreError):
    """A vector collection was built by another embedder; querying it would return nonsense."""


class KnowledgeError(RapportError):
    """A knowledge file cannot be read; the rest of the knowledge is still ingested."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}", "fix the file and run `rapport ingest` again")
        self.path = path
        self.reason = reason


class ReviewError(RapportError):
    """A review item cannot be decided as asked: unknown id, decided already, or an empty answer."""


class CustomerNotFoundError(RapportError):
    """A customer reference (external id or email) matched nobody."""


class DeliveryFailed(RapportError):
    """A platform did not accept a reply. ``permanent`` (the channel is gone, the bot was removed, the
    payload is refused) means retrying cannot help; otherwise the outbox retries, after
    ``retry_after`` seconds when the platform said how long to wait (HTTP 429 / Retry-After)."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class ServiceUnavailable(StoreError):
    """A database, Redis or Chroma server cannot be reached: an outage, not a mistake in the request.
    The web app answers 503 for it (the platform retries later); the command line prints it and exits 1."""

    def __init__(self, message: str, fix: str = "", service: str = "a network service") -> None:
        super().__init__(message, fix)
        self.service = service


# --- keeping secrets out of messages ---------------------------------------------------------------

REDACTED = "***"
# Config fields that hold credentials, whatever variable (or literal) they were set from.
SECRET_FIELDS = frozenset({"bot_token", "app_token", "signing_secret", "webhook_secret", "api_key"})
_SECRET_NAME = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|PASSWD", re.IGNORECASE)
# scheme://user:password@host — the password is everything between the first ':' of the user part and '@'.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)(?P<password>[^\s/'\"]+)@")


def is_secret_name(name: str) -> bool:
    """True for a variable or key whose name says it holds a credential (SLACK_BOT_TOKEN, api_key, …)."""
    return name.lower() in SECRET_FIELDS or bool(_SECRET_NAME.search(name))


def mask_url_passwords(text: str) -> str:
    """``postgres://user:pass@host/db`` → ``postgres://user:***@host/db``, wherever URLs occur in ``text``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}@", text)


# --- telling an outage from a bug ------------------------------------------------------------------


class Outage:
    """What an exception says is unreachable: ``service`` (the database, Redis, the Chroma server, …),
    the underlying ``detail`` (URL passwords masked) and how to fix it."""

    def __init__(self, service: str, detail: str, fix: str) -> None:
        self.service = service
        self.detail = mask_url_passwords(detail)
        self.fix = fix

    def __str__(self) -> str:
        return f"cannot reach {self.service} ({self.detail})"


_FIXES = {
    "the database": "check DATABASE_URL (or stores.database_url) and that the server is running; leave it empty "
                    "for the embedded SQLite",
    "Redis": "check stores.redis_url (or REDIS_URL) and that Redis is running; leave it empty for in-process locks "
             "(one process only)",
    "the Chroma server": "check stores.chroma_url and that the Chroma server is running; leave it empty for the "
                         "embedded store",
    "a network service": "check the network and the service URLs in config.yaml (stores.*, platforms.*.api_base_url)",
}


def find_outage(error: BaseException) -> Outage | None:
    """The outage behind ``error`` (looking through its causes), or None when nothing says a dependency is
    unreachable — then ``error`` is a bug or a bad input, and retrying the same request cannot help."""
    chain = _chain(error)
    if not any(isinstance(link, _outage_types()) for link in chain):
        return None
    if isinstance(error, ServiceUnavailable):
        return Outage(error.service, error.message, error.fix)
    service = _service_of(chain)
    root = chain[-1]
    detail = f"{type(root).__name__}: {root}" if str(root) else type(root).__name__
    return Outage(service, detail, _FIXES[service])


def _chain(error: BaseException) -> list[BaseException]:
    links: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in links:
        links.append(current)
        current = current.__cause__ or current.__context__
    return links


def _service_of(chain: list[BaseException]) -> str:
    import traceback

    for link in chain:
        module = type(link).__module__
        frames = " ".join(frame.filename for frame in traceback.extract_tb(link.__traceback__))
        if module.startswith("redis") or "/redis/" in frames:
            return "Redis"
        if "/chromadb/" in frames or "Chroma" in str(link):
            return "the Chroma server"
        if module.startswith(("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")) or "/sqlalchemy/" in frames:
            return "the database"
    return "a network service"


_OUTAGE_TYPES: tuple[type[BaseException], ...] = ()


def _outage_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "a dependency is down or too slow", never "this input is bad". Imported on first
    use: this module stays importable without the store libraries loaded. Not every DBAPIError: an
    IntegrityError or DataError comes from the data, and would fail again on every retry."""
    global _OUTAGE_TYPES
    if not _OUTAGE_TYPES:
        import socket

        import httpx
        import redis.exceptions
        import sqlalchemy.exc

        _OUTAGE_TYPES = (
            ServiceUnavailable, ConnectionError, TimeoutError, socket.gaierror,
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError,
            httpx.TransportError,
        )
    return _OUTAGE_TYPES
