"""The handlers, in the order the decide stage asks them: the first that applies decides the turn.

Adding a behaviour is one file in this package and one line here.
"""

from __future__ import annotations

from bot.handlers.answer import Answer
from bot.handlers.base import Handler, Registry, Services
from bot.handlers.clarify import Clarify
from bot.handlers.csat import Csat
from bot.handlers.email_given import EmailGiven
from bot.handlers.export import Export
from bot.handlers.facts import FactRecall
from bot.handlers.forget import Forget
from bot.handlers.greet import Greet
from bot.handlers.handoff import HandOff
from bot.handlers.help import Help
from bot.handlers.item_not_ordered import ItemNotOrdered
from bot.handlers.helpful import Helpful
from bot.handlers.language import OtherLanguage
from bot.handlers.link import Link
from bot.handlers.noted import Noted
from bot.handlers.order_not_found import OrderNotFound
from bot.handlers.order_problem import OrderProblem
from bot.handlers.order_status import OrderStatus
from bot.handlers.others_order import OthersOrder
from bot.handlers.product_info import ProductInfo
from bot.handlers.products import Products
from bot.handlers.purchases import Purchases
from bot.handlers.safety import Safety
from bot.handlers.settled import Settled
from bot.handlers.silent import Silent
from bot.handlers.thank import Thank
from bot.handlers.unknown import Unknown
from bot.handlers.unknown_command import UnknownCommand
from bot.handlers.unhelpful import Unhelpful
from bot.handlers.upset import Upset

HANDLERS: tuple[type[Handler], ...] = (
    Silent,  # a person owns the conversation
    Link, Export, Forget, Csat, Help, UnknownCommand,  # commands
    Helpful, Unhelpful,  # a verdict on the last answer (/helpful, 👎, "that didn't help"): before Thank
    Safety,  # before any rule: a safety report gets the guidance and a person
    HandOff,  # escalation rules from config.yaml
    OtherLanguage,
    Greet,  # also /start without a code
    Thank,
    Settled,  # "nvm it just arrived": glad with them
    FactRecall,
    OthersOrder,  # before anything reads an order: another person's order is never looked up
    EmailGiven,  # an address typed by someone with no orders opens no account
    OrderNotFound,  # before anything reads an order: a number not on this account is said to be so
    ItemNotOrdered,  # before anything reads an order: "my jacket" that no order holds is not their newest order
    OrderProblem,
    Purchases,
    OrderStatus,
    Noted,
    ProductInfo,
    Products,
    Answer,
    Upset,
    Clarify,
    Unknown,  # always applies
)


def build(services: Services, handlers: tuple[type[Handler], ...] | None = None) -> Registry:
    """One instance of each handler class, in order (``HANDLERS`` unless another list is given)."""
    return Registry(tuple(cls(services) for cls in (handlers if handlers is not None else HANDLERS)))
