"""The product catalog CSV: one product per row, validated row by row."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from bot.errors import KnowledgeError

COLUMNS = ("sku", "name", "category", "price", "stock", "description", "tags")


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    category: str
    price: float
    stock: int
    description: str
    tags: tuple[str, ...]

    @property
    def embedding_text(self) -> str:
        return f"{self.name}. {self.category}. {self.description} {' '.join(self.tags)}"

    @property
    def consumable(self) -> bool:
        return "consumable" in self.tags

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def base_name(self) -> str:
        """The name without its variant: "Cozy Den Orthopedic Dog Bed" for "…, Medium"."""
        return self.name.rsplit(", ", 1)[0] if ", " in self.name else self.name

    @property
    def variant(self) -> str:
        """What follows the last ", " in the name (a size, fit or pack: "Medium", "Men's", "12 oz"), or ""."""
        return self.name.rsplit(", ", 1)[1] if ", " in self.name else ""


def read_catalog(path: Path, source: str) -> tuple[list[Product], list[KnowledgeError]]:
    """Good rows, and one error per bad row (with its line) so the good ones still load."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(source, "not UTF-8 text; export the CSV as UTF-8") from exc
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise KnowledgeError(source, f"missing column(s) {missing}; the header must be {','.join(COLUMNS)}")
    products: list[Product] = []
    problems: list[KnowledgeError] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        try:
            product = _product(row)
            if product.sku in seen:
                raise ValueError(f"duplicate sku {product.sku}")
            seen.add(product.sku)
            products.append(product)
        except ValueError as exc:
            problems.append(KnowledgeError(f"{source}:{line}", str(exc)))
    return products, problems


def _product(row: dict[str, str | None]) -> Product:
    def field(name: str) -> str:
        return (row.get(name) or "").strip()

    if not field("sku"):
        raise ValueError("sku is empty")
    if not field("name"):
        raise ValueError("name is empty")
    try:
        price = float(field("price"))
    except ValueError:
        raise ValueError(f"price {field('price')!r} is not a number") from None
    if price < 0:
        raise ValueError(f"price {price} is negative")
    try:
        stock = int(field("stock"))
    except ValueError:
        raise ValueError(f"stock {field('stock')!r} is not a whole number") from None
    tags = tuple(t.strip().lower() for t in field("tags").split(";") if t.strip())
    return Product(field("sku"), field("name"), field("category").lower(), price, stock, field("description"), tags)
