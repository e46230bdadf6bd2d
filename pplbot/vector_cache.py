"""Sentence vectors of the knowledge base's phrases, kept on disk between starts.

Encoding every phrase is most of a start (about 0.4 s for the bundled 7,700 phrases), and a
phrase's vector depends only on its text and the model. `CachedEmbedder` keeps the vectors of
the last knowledge base in one file in the data folder (`vectors-<model>.npz`, about 8 MB for the
bundled base), encodes only the phrases it has not seen (a moderator's new paraphrase) and writes
the file again when anything changed. The vectors are stored exactly (float32), so an answer
never depends on whether a vector came from the file or from the model. A missing, unreadable or
unwritable file only costs time: it is logged and the phrases are encoded as without a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pplbot.core.semantic import Embedder, Vectors

__all__ = ["CachedEmbedder", "model_stamp"]

logger = logging.getLogger(__name__)
_FORMAT = 1  # bump when the file layout or the encoding changes
_MIN_BATCH = 2  # a single text is a question: never cached, never written


def model_stamp(*files: Path) -> str:
    """A short name for one version of the model files (their sizes and modification times)."""
    digest = hashlib.blake2b(str(_FORMAT).encode(), digest_size=6)
    for path in files:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def _keys(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts),
        dtype=np.uint64,
        count=len(texts),
    )


class CachedEmbedder:
    """An embedder whose batch encodings (the phrases of a knowledge base) are kept in `path`."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = path

    def knows(self, word: str) -> bool:
        return self.inner.knows(word)

    def encode(self, texts: Sequence[str]) -> Vectors:
        if len(texts) < _MIN_BATCH:
            return self.inner.encode(texts)
        keys = _keys(texts)
        stored_keys, stored = self._read()
        rows = {int(k): i for i, k in enumerate(stored_keys.tolist())}
        found = np.fromiter((rows.get(int(k), -1) for k in keys.tolist()), dtype=np.int64, count=len(keys))
        missing = np.flatnonzero(found < 0)
        if len(missing) == 0 and len(stored_keys) == len(keys):
            return stored[found]
        hit = np.flatnonzero(found >= 0)
        if len(missing):
            fresh = self.inner.encode([texts[i] for i in missing.tolist()])
            out = np.empty((len(texts), fresh.shape[1]), dtype=np.float32)
            out[missing] = fresh
        else:  # only removed phrases: the file is written again without them
            out = np.empty((len(texts), stored.shape[1]), dtype=np.float32)
        if len(hit):  # an empty file has no width to broadcast from
            out[hit] = stored[found[hit]]
        self._write(keys, out)
        logger.info("encoded %d of %d phrases (the others from %s)", len(missing), len(texts), self.path)
        return out

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        empty = (np.zeros(0, dtype=np.uint64), np.zeros((0, 0), dtype=np.float32))
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except FileNotFoundError:
            return empty
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("phrase vectors not read from %s (%s); encoding them again", self.path, exc)
            return empty
        if keys.dtype != np.uint64 or vectors.dtype != np.float32 or vectors.ndim != 2 or len(keys) != len(vectors):
            logger.warning("phrase vectors in %s have an unexpected layout; encoding them again", self.path)
            return empty
        return keys, vectors

    def _write(self, keys: np.ndarray, vectors: Vectors) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(f, keys=keys, vectors=vectors)
            os.replace(tmp, self.path)  # whole file or the old one: never half a file
            for old in self.path.parent.glob("vectors-*.npz"):  # other model versions' files
                if old != self.path:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("phrase vectors not saved to %s (%s); the next start encodes them again", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
