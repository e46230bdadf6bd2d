"""Load the static sentence-embedding model shipped in `pplbot/data/minilm-static/`.

The model is a lookup table: one vector per word piece of MiniLM's tokenizer, mean-pooled. It
was distilled once from all-MiniLM-L6-v2 with model2vec (`scripts/build_static_model.py`); at
run time it needs only the `tokenizers` and `safetensors` libraries and NumPy: no PyTorch, no
model hub, nothing downloaded.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from pplbot.core.semantic import Embedder, Vectors, unit_rows
from pplbot.vector_cache import CachedEmbedder, model_stamp

__all__ = ["MODEL_DIR", "StaticEmbedder", "load_embedder"]

logger = logging.getLogger(__name__)
MODEL_DIR = Path(__file__).resolve().parent / "data" / "minilm-static"
_MAX_TOKENS = 256
_BATCH = 512
_FIRST_ROW = np.zeros(1, dtype=np.int64)


class StaticEmbedder:
    """Mean of the word-piece vectors of a text, scaled to unit length."""

    def __init__(self, table: Vectors, tokenizer: Tokenizer) -> None:
        self._table = table
        self._tokenizer = tokenizer
        self.dim = int(table.shape[1])
        # the same ids without character offsets (tokenizers >= 0.21), which nothing here reads
        self._encode_batch = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)

    def knows(self, word: str) -> bool:
        """A word piece that is a whole word (BERT marks the others with "##"), looked up in the
        tokenizer's own table (no copy of the vocabulary in Python memory)."""
        return word.isascii() and self._tokenizer.token_to_id(word) is not None

    def encode(self, texts: Sequence[str]) -> Vectors:
        if len(texts) == 1:
            return self._encode_one(texts[0])
        if len(texts) > _BATCH:  # in slices, so the gathered word-piece vectors stay small
            return np.concatenate([self.encode(texts[i : i + _BATCH]) for i in range(0, len(texts), _BATCH)])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ids = [e.ids[:_MAX_TOKENS] for e in self._encode_batch(list(texts), add_special_tokens=False)]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        rows = np.flatnonzero(lengths)
        if len(rows):
            flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
            starts = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
            # summed in float32, row after row (the float16 rows are widened exactly on the way)
            sums = np.add.reduceat(self._table[flat], starts, axis=0, dtype=np.float32)
            out[rows] = sums / lengths[rows, None]
        return unit_rows(out)

    def _encode_one(self, text: str) -> Vectors:
        """`encode([text])` with fewer steps (a question): the same sums, division and scaling."""
        out = np.zeros((1, self.dim), dtype=np.float32)
        ids = self._encode_batch([text], add_special_tokens=False)[0].ids[:_MAX_TOKENS]
        if ids:
            sums = np.add.reduceat(self._table[ids], _FIRST_ROW, axis=0, dtype=np.float32)
            out[:] = sums / np.array([[len(ids)]], dtype=np.int64)
        return unit_rows(out)


def load_embedder(directory: Path = MODEL_DIR, cache_dir: Path | None = None) -> Embedder | None:
    """The shipped model, or None (with a warning) when its files are missing or unreadable. With
    `cache_dir`, the phrases' vectors are kept there between starts (`pplbot.vector_cache`)."""
    files = (directory / "model.safetensors", directory / "tokenizer.json")
    try:
        table = load_file(str(files[0]))["embeddings"]
        tokenizer = Tokenizer.from_file(str(files[1]))
        stamp = model_stamp(*files) if cache_dir is not None else ""
    except Exception as exc:  # safetensors and tokenizers raise their own error types
        logger.warning("semantic model not loaded from %s (%s); matching without it", directory, exc)
        return None
    embedder = StaticEmbedder(table, tokenizer)
    if cache_dir is None:
        return embedder
    return CachedEmbedder(embedder, cache_dir / f"vectors-{stamp}.npz")
