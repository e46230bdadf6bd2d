"""The semantic signal: sentence vectors from an injected embedder, compared by cosine.

The core only sees the `Embedder` protocol; `pplbot/embedding.py` loads the static model shipped
with pplbot (distilled once from all-MiniLM-L6-v2 by `scripts/build_static_model.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Vectors", "unit_rows"]

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into one vector each (rows of a 2-D float32 array)."""

    def encode(self, texts: Sequence[str]) -> Vectors: ...

    def knows(self, word: str) -> bool:
        """True for a whole word of the model's vocabulary: a real word, so never taken for a typo."""
        ...


def unit_rows(vectors: Vectors) -> Vectors:
    """Rows scaled to length 1 (zero rows stay zero), so a dot product is the cosine."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    scaled: Vectors = (vectors / norms).astype(np.float32)
    return scaled
