"""Phrase vectors kept on disk between starts: exact, incremental, and harmless when broken."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.semantic import Embedder, Vectors
from pplbot.embedding import load_embedder
from pplbot.vector_cache import CachedEmbedder
from tests.conftest import EMBEDDER

PHRASES = ["who wrote the ppl", "can a co-op sell ppl works", "what is copyfarleft", "does 4(d) ban companies"]


class Counting:
    """The shipped model, counting the texts it is asked to encode."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded += len(texts)
        return self.inner.encode(texts)

    def knows(self, word: str) -> bool:
        return self.inner.knows(word)


@pytest.fixture
def model() -> Counting:
    assert EMBEDDER is not None
    return Counting(EMBEDDER)


def test_second_start_reads_the_vectors_and_they_are_exact(tmp_path: Path, model: Counting) -> None:
    path = tmp_path / "vectors-x.npz"
    first = CachedEmbedder(model, path).encode(PHRASES)
    assert path.is_file() and model.encoded == len(PHRASES)
    again = CachedEmbedder(model, path).encode(PHRASES)
    assert model.encoded == len(PHRASES)  # nothing encoded on the second start
    assert np.array_equal(first, again) and np.array_equal(first, model.inner.encode(PHRASES))


def test_only_new_phrases_are_encoded_and_removed_ones_leave_the_file(tmp_path: Path, model: Counting) -> None:
    path = tmp_path / "vectors-x.npz"
    CachedEmbedder(model, path).encode(PHRASES)
    changed = [PHRASES[0], "a moderator's new paraphrase about 4(c)", PHRASES[2]]
    vectors = CachedEmbedder(model, path).encode(changed)
    assert model.encoded == len(PHRASES) + 1
    assert np.array_equal(vectors, model.inner.encode(changed))
    with np.load(path) as data:
        assert len(data["keys"]) == len(changed)


def test_a_single_text_is_a_question_and_is_not_kept(tmp_path: Path, model: Counting) -> None:
    path = tmp_path / "vectors-x.npz"
    CachedEmbedder(model, path).encode(["is the ppl irrevocable"])
    assert not path.exists()


def test_a_broken_file_is_encoded_again_and_replaced(
    tmp_path: Path, model: Counting, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "vectors-x.npz"
    path.write_bytes(b"not a numpy file")
    with caplog.at_level(logging.WARNING):
        vectors = CachedEmbedder(model, path).encode(PHRASES)
    assert "encoding them again" in caplog.text
    assert np.array_equal(vectors, model.inner.encode(PHRASES))
    assert CachedEmbedder(model, path).encode(PHRASES).shape == vectors.shape
    assert model.encoded == len(PHRASES)  # the replaced file was read


def test_an_unwritable_folder_costs_time_only(
    tmp_path: Path, model: Counting, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the data folder cannot be made under a file")
    with caplog.at_level(logging.WARNING):
        vectors = CachedEmbedder(model, blocker / "data" / "vectors-x.npz").encode(PHRASES)
    assert "not saved" in caplog.text
    assert np.array_equal(vectors, model.inner.encode(PHRASES))


def test_a_bot_on_a_data_folder_answers_as_without_it(tmp_path: Path, kb: KnowledgeBase, bot: Bot) -> None:
    cached = load_embedder(cache_dir=tmp_path)
    for _ in range(2):  # the first start writes the file, the second reads it
        other = Bot(kb, BotOptions(embedder=load_embedder(cache_dir=tmp_path)))
        for question in ("who wrote the ppl", "can my worker co-op sell t-shirts with a ppl design"):
            mine, theirs = other.matcher.explain(question)[:3], bot.matcher.explain(question)[:3]
            assert [(c.entry.id, c.score) for c in mine] == [(c.entry.id, c.score) for c in theirs]
    assert isinstance(cached, CachedEmbedder) and [p.name for p in tmp_path.iterdir()] == [cached.path.name]
