"""MiniLM under bf16 autocast (``CHATOPS_RETRIEVER_PRECISION``, the default where the CPU multiplies bf16 in
hardware) embeds what float32 does: the same nearest passage for every question of the look-alike set, at a
cosine of 0.999 or more. An index in Redis is kept apart by the precision that made its vectors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from redis import Redis

from worker.engine.default import (
    EmbeddingCache,
    ExtractiveEngine,
    MiniLMRetriever,
    embedding_precision,
    multiplies_bf16,
)
from worker.index.store import RedisIndexStore
from worker.runtime import engine_index

LOOKALIKE = Path(__file__).parents[2] / "bench" / "quality_sets" / "lookalike"


def _paragraphs() -> list[str]:
    texts = []
    for path in sorted((LOOKALIKE / "runbooks").rglob("*.md")):
        texts += [p.strip() for p in re.split(r"\n\s*\n", path.read_text()) if len(p.strip()) > 40]
    return texts


def _questions() -> list[str]:
    return [json.loads(line)["question"] for line in (LOOKALIKE / "questions.jsonl").read_text().splitlines()]


def test_bf16_embeddings_find_the_passages_float32_finds(engine: ExtractiveEngine) -> None:
    model = engine.retriever.cache.model
    paragraphs, questions = _paragraphs(), _questions()
    fp32, bf16 = EmbeddingCache(model, precision="fp32"), EmbeddingCache(model, precision="bf16")
    exact, rounded = fp32.embed(paragraphs + questions), bf16.embed(paragraphs + questions)
    assert exact.dtype == rounded.dtype == np.float32
    assert float(np.min(np.sum(exact * rounded, axis=1))) >= 0.999
    n = len(paragraphs)
    nearest_exact = np.argmax(exact[n:] @ exact[:n].T, axis=1)
    nearest_rounded = np.argmax(rounded[n:] @ rounded[:n].T, axis=1)
    assert len(questions) >= 40 and n >= 100
    assert np.array_equal(nearest_exact, nearest_rounded)


def test_precision_setting() -> None:
    assert embedding_precision("auto", "cpu") == ("bf16" if multiplies_bf16("cpu") else "fp32")
    assert embedding_precision("fp32", "cpu") == "fp32"
    assert embedding_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="'fp16' is not one of auto, fp32, bf16"):
        embedding_precision("fp16", "cpu")


def test_vectors_of_each_precision_have_their_own_index(engine: ExtractiveEngine, redis: Redis) -> None:
    model = engine.retriever.cache.model
    prefixes = set()
    for precision in ("fp32", "bf16"):
        store = engine_index(ExtractiveEngine(MiniLMRetriever(EmbeddingCache(model, precision=precision))),
                             redis).store
        assert isinstance(store, RedisIndexStore)
        prefixes.add(store.prefix)
    assert len(prefixes) == 2
