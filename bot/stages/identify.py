"""2. identify: the platform account behind a message, resolved to a customer."""

from __future__ import annotations

from bot.store.customers import CustomerDirectory
from bot.store.records import CustomerRecord
from bot.types import Inbound


class Identify:
    def __init__(self, directory: CustomerDirectory) -> None:
        self._directory = directory

    async def __call__(self, inbound: Inbound) -> CustomerRecord:
        return await self._directory.identify(inbound)
