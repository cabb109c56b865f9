"""On-call synonyms (worker/engine/synonyms.py): "revert" finds "roll back", as extra lexical terms."""

from __future__ import annotations

import numpy as np

from worker.engine.default import ExtractiveEngine, MiniLMRetriever
from worker.engine.synonyms import expansion


def test_a_question_word_brings_the_other_words_of_its_group() -> None:
    assert set(expansion("how do I revert the release?").split()) == {
        "rollback", "roll", "undo", "downgrade", "deploy", "deployment", "rollout"}
    assert set(expansion("is the node running out of disks?").split()) == {"storage", "filesystem", "volume"}
    assert expansion("why did checkout fail?") == ""


def test_synonyms_count_in_bm25(engine: ExtractiveEngine) -> None:
    texts = ["Roll back first: kubectl rollout undo deploy/api", "Switch the processor flag: flagctl set x",
             "Scale out: kubectl scale deploy/api --replicas=10", "Page the secondary on call"]
    lexical_only = MiniLMRetriever(engine.retriever.cache, bm25_weight=1.0, boost=None)
    scores = lexical_only.scores("how do I revert?", texts)
    assert scores[0] > 0 and np.all(scores[1:] == 0)
    assert np.all(lexical_only.scores("why did it fail?", texts) == 0)
