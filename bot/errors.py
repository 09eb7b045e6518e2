"""One error hierarchy. Errors meant for an admin or customer carry what is wrong and how to fix it."""

from __future__ import annotations


class RapportError(Exception):
    """Base of every error Rapport raises on purpose."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class ConfigError(RapportError):
    """config.yaml is missing, unreadable or invalid. ``problems`` lists every finding."""

    def __init__(self, message: str, problems: list[ConfigProblem] | None = None, fix: str = "") -> None:
        super().__init__(message, fix)
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        return "\n".join([self.message, *(f"  - {p}" for p in self.problems)])


class ConfigProblem:
    """One thing wrong in the config: where, what value, and how to fix it."""

    def __init__(self, path: str, value: object, problem: str, fix: str) -> None:
        self.path = path
        self.value = value
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        shown = "(missing)" if self.value is _MISSING else repr(self.value)
        return f"{self.path or '(top level)'}: {self.problem} (got {shown}); fix: {self.fix}"


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
