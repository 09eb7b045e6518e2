"""The action the engine decided for each turn, read from its "turn handled" log record.

The engine logs every turn's decision (ids and the action only); reading it there needs no store
access and changes nothing the engine does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

ENGINE_LOGGER = "rapport.engine"
TURN_HANDLED = "turn handled"


class DecisionWatch(logging.Filter):
    def __init__(self, shown_from: int) -> None:
        super().__init__()
        self._shown_from = shown_from  # the logger's level before the watch
        self.last = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == TURN_HANDLED:
            self.last = str(getattr(record, "action", ""))
        # Records pass on exactly as they would without the watch.
        return record.levelno >= self._shown_from

    def take(self) -> str:
        """The action of the turn handled since the last call ("" if none was)."""
        action, self.last = self.last, ""
        return action


@contextmanager
def watch_decisions() -> Iterator[DecisionWatch]:
    logger = logging.getLogger(ENGINE_LOGGER)
    level = logger.level
    watch = DecisionWatch(shown_from=logger.getEffectiveLevel())
    logger.addFilter(watch)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    try:
        yield watch
    finally:
        logger.removeFilter(watch)
        logger.setLevel(level)
