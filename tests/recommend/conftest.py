from __future__ import annotations

import numpy as np
import pytest

from bot.recommend import Interaction, ItemInfo

# A little outdoor shop: tents go with stakes, lamps with bulbs; mugs sell everywhere.
CATALOG = [
    ItemInfo("tent", "camping"),
    ItemInfo("stakes", "camping"),
    ItemInfo("sleeping-bag", "camping"),
    ItemInfo("lamp", "lighting"),
    ItemInfo("bulb", "lighting"),
    ItemInfo("lantern", "lighting"),
    ItemInfo("mug", "kitchen"),
    ItemInfo("kettle", "kitchen"),
    ItemInfo("old-stove", "kitchen", available=False),
]


def _vectors() -> np.ndarray:
    # 3 category axes plus a little per-item direction, deterministic
    rng = np.random.default_rng(7)
    axis = {"camping": 0, "lighting": 1, "kitchen": 2}
    out = np.zeros((len(CATALOG), 6), dtype=np.float32)
    for i, item in enumerate(CATALOG):
        out[i, axis[item.category or "kitchen"]] = 1.0
        out[i, 3:] = 0.2 * rng.normal(size=3)
    return out


def _interactions() -> list[Interaction]:
    events: list[Interaction] = []
    for u in range(30):  # campers: tent then stakes
        events += [Interaction(f"camper{u}", "tent", "purchase", 1), Interaction(f"camper{u}", "stakes", "purchase", 2)]
        if u % 3 == 0:
            events.append(Interaction(f"camper{u}", "sleeping-bag", "cart", 3))
    for u in range(20):  # readers: lamp then bulb
        events += [Interaction(f"reader{u}", "lamp", "purchase", 1), Interaction(f"reader{u}", "bulb", "purchase", 2)]
    for u in range(45):  # mugs everywhere: the most popular item
        events.append(Interaction(f"drinker{u}", "mug", "purchase", 1))
    for u in range(5):
        events.append(Interaction(f"drinker{u}", "kettle", "view", 2))
    return events


@pytest.fixture
def catalog() -> list[ItemInfo]:
    return list(CATALOG)


@pytest.fixture
def vectors() -> np.ndarray:
    return _vectors()


@pytest.fixture
def interactions() -> list[Interaction]:
    return _interactions()
