"""The admin console: a signed-in web page over the stores (issue 14). See :mod:`bot.admin.console`."""

from bot.admin.console import AdminConsole

__all__ = ["AdminConsole"]
