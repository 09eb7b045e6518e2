"""The catalog in memory, keyed by SKU: names, categories, prices and stock for replies and insights."""

from __future__ import annotations

from bot.knowledge.catalog import Product
from bot.store.vectors import VectorCollection


class CatalogIndex:
    """Loaded from the catalog collection at start-up and after each ingest; never per turn."""

    def __init__(self, products: dict[str, Product] | None = None) -> None:
        self.products = products or {}

    @classmethod
    async def load(cls, collection: VectorCollection) -> CatalogIndex:
        products = {}
        # The description is the vector's document (product questions quote it); the rest is metadata.
        for _, description, meta in await collection.documents({"kind": "product"}):
            sku = str(meta.get("sku", ""))
            if sku:
                products[sku] = Product(
                    sku=sku,
                    name=str(meta.get("name", sku)),
                    category=str(meta.get("category", "")),
                    price=float(meta.get("price", 0.0)),
                    stock=int(meta.get("stock", 0)),
                    description=description,
                    tags=tuple(t for t in str(meta.get("tags", "")).split(";") if t),
                )
        return cls(products)

    def name(self, sku: str) -> str:
        product = self.products.get(sku)
        return product.name if product else sku

    def category(self, sku: str) -> str:
        product = self.products.get(sku)
        return product.category if product else ""
