"""The fast path merges the decoder adapter into the bf16 weights, so the encoder and the query reasoner
run on ``round_bf16(W + ΔD) − ΔD + ΔE``. That rounding must stay within bf16's own noise and must not
change which documents are chosen."""

from __future__ import annotations

from pathlib import Path

import torch

from worker.clara import steps
from worker.clara.checkpoint import load_clara
from worker.clara.config import DECODER_ADAPTER

TEXTS = [f"restart the service {i}, then check the logs for database failover and disk alerts ({i})" * 3
         for i in range(24)]
QUESTION = ["how do I fail over the database?"]


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_merging_the_decoder_adapter_stays_within_bf16_noise(tiny_paths: dict[str, Path]) -> None:
    checkpoint, base = tiny_paths["e2e-16"], tiny_paths["base_model"]
    reference = steps.compress(load_clara(checkpoint, base, "cpu", dtype=torch.float32), TEXTS)  # [N, M, D]
    clara = load_clara(checkpoint, base, "cpu", dtype=torch.bfloat16)
    plain = steps.compress(clara, TEXTS).float()
    query_plain = steps.encode_questions(clara, QUESTION).float()
    clara.model.merge_adapter(DECODER_ADAPTER)
    merged = steps.compress(clara, TEXTS).float()
    query_merged = steps.encode_questions(clara, QUESTION).float()

    bf16_noise = _relative(plain, reference)
    assert 1e-4 < bf16_noise < 3e-2, "bf16 differs from fp32 as bf16 does"
    assert _relative(merged, reference) < 1.5 * bf16_noise
    cosine = torch.nn.functional.cosine_similarity(plain.flatten(1), merged.flatten(1), dim=-1)
    assert float(cosine.min()) > 0.9995
    top_plain = steps.top_k(steps.score(query_plain[0], plain), 5)[0]
    top_merged = steps.top_k(steps.score(query_merged[0], merged), 5)[0]
    assert top_plain == top_merged
