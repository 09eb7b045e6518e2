"""Item-item collaborative models learned from a weighted user x item matrix.

Both models answer the same two questions for one customer, given the indices and weights of
the items in their history: the score of every item (``history @ B``), and which history item
contributed most to a given suggestion (for "because you bought X").
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class ItemItemModel:
    """A learned items x items matrix ``B``: ``score(user) = x_user @ B``."""

    name: str = "item-item"

    def __init__(self, matrix: np.ndarray | sp.csr_matrix) -> None:
        self._matrix = matrix
        self._dense = isinstance(matrix, np.ndarray)

    @property
    def n_items(self) -> int:
        return int(self._matrix.shape[0])

    def score(self, history: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Scores of all items for a history (item indices) with per-item weights."""
        if history.size == 0:
            return np.zeros(self.n_items, dtype=np.float64)
        rows = self._matrix[history]
        w = weights.astype(rows.dtype, copy=False)
        if self._dense:
            # einsum's own loop: a threaded BLAS call costs more than it saves at this size
            return np.einsum("i,ij->j", w, rows).astype(np.float64)
        return np.asarray(rows.T @ w, dtype=np.float64).ravel()

    def contributions(self, history: np.ndarray, weights: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``len(history) x len(targets)`` matrix: how much each history item adds to each target."""
        rows = self._matrix[history]
        part = rows[:, targets]
        if not self._dense:
            part = part.toarray()
        return np.asarray(part, dtype=np.float64) * weights[:, None]


class EASE(ItemItemModel):
    """EASE^R (Steck, 2019): ``B = I - P diagMat(1/diag(P))`` with ``P = (X^T X + l2 I)^-1``.

    Closed form, no iterations, and on small-to-medium catalogs among the strongest item-item
    models. It costs an items x items inverse: O(n^3) time, O(n^2) memory.
    """

    name = "ease"

    @classmethod
    def fit(cls, user_items: sp.csr_matrix, l2: float) -> EASE:
        gram = np.asarray((user_items.T @ user_items).toarray(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += l2
        precision = np.linalg.inv(gram)
        matrix = precision / (-np.diag(precision))[None, :]
        matrix[np.diag_indices_from(matrix)] = 0.0
        return cls(matrix.astype(np.float32))


class ItemKNN(ItemItemModel):
    """Cosine item-item neighbours, top-K per item (``implicit``'s ``ItemItemRecommender``).

    Sparse, so it scales to catalogs where EASE^R's dense inverse would not fit.
    """

    name = "itemknn"

    @classmethod
    def fit(cls, user_items: sp.csr_matrix, neighbours: int) -> ItemKNN:
        from implicit.nearest_neighbours import ItemItemRecommender

        # cosine similarity is the dot product of L2-normalised item columns
        norms = np.sqrt(np.asarray(user_items.multiply(user_items).sum(axis=0), dtype=np.float64)).ravel()
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        normalised = sp.csr_matrix(user_items @ sp.diags(scale), dtype=np.float64)
        model = ItemItemRecommender(K=neighbours, num_threads=1)
        model.fit(normalised, show_progress=False)
        matrix = sp.csr_matrix(model.similarity, dtype=np.float32)
        matrix.setdiag(0.0)
        matrix.eliminate_zeros()
        return cls(matrix)
