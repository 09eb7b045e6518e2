"""Process logging: one line per record, as JSON when ``RAPPORT_LOG_FORMAT=json`` (log drains, Heroku), else text.

The JSON lines carry ids only. What Rapport's own code logs is already ids by rule (``log.info("turn %s of
customer %s", ...)``); on top of that this formatter never writes an exception's message (a
``ValueError`` raised on a customer's words may quote them) — only its type and the stack's file, line
and function — and copies only the ``extra=`` fields named in :data:`ID_FIELDS`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["ID_FIELDS", "LOG_FORMAT_ENV", "JsonLogFormatter", "configure_logging"]

LOG_FORMAT_ENV = "RAPPORT_LOG_FORMAT"
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# ``log.info("...", extra={"customer_id": 7})`` puts these in their own JSON fields; other extras are dropped.
# Ids, enum values and numbers only (what the engine, delivery and LLM client pass today, and the ids they may).
ID_FIELDS = frozenset({
    "platform", "customer_id", "conversation", "message_id", "inbox_id", "turn_id", "handoff_id", "delivery_key",
    "ticket_id", "request_id", "action", "arrival", "kind", "status", "seconds", "attempt",
})
_HANDLER_NAME = "rapport"


class JsonLogFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", <id fields>, "error", "stack"}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        line.update({k: v for k, v in record.__dict__.items() if k in ID_FIELDS})
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error"] = type(error).__name__
            line["stack"] = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(error.__traceback__)]
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(
    level: int = logging.WARNING, env: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Install Rapport's one handler on the root logger (replacing an earlier call's); returns it.

    JSON when ``env[RAPPORT_LOG_FORMAT]`` (default: the process environment) is ``json``, else plain text.
    Call once at process start, before anything logs; ``logging.basicConfig`` afterwards is a no-op.
    """
    env = os.environ if env is None else env
    fmt = env.get(LOG_FORMAT_ENV, "text").strip().lower()
    if fmt not in {"json", "text"}:
        # Not an exception: a typo in a logging switch must not keep the bot from starting.
        fmt = "text"
        sys.stderr.write(f"{LOG_FORMAT_ENV}={env.get(LOG_FORMAT_ENV)!r} is not 'json' or 'text'; logging as text\n")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonLogFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
