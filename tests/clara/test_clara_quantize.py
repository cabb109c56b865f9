"""Weight-only int8 / fp8 (issue 15) on the tiny real-format checkpoints, on the CPU: what the quantized
model computes stays close to bf16 (memory embeddings, ranking, logits), the decoder adapter is merged
before rounding, the fast path answers like the plain path in the same precision, and bad settings
fail clearly. The GPU kernel is checked in test_clara_gpu.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from test_clara_engine import TEXTS, chunks
from test_clara_fast import QUESTIONS

from worker.clara import steps
from worker.clara.checkpoint import ClaraModel, load_clara
from worker.clara.config import DECODER_ADAPTER, ENCODER_ADAPTER
from worker.clara.engine import ClaraEngine, store_fingerprint
from worker.clara.errors import CheckpointError
from worker.clara.model import attention_mask, positions_from_valid
from worker.clara.quantize import check_format, dequantize, quantize_weight
from worker.engine.base import Question

DOCS = [f"restart the service {i}, then check the logs for database failover and disk alerts ({i})" * 3
        for i in range(24)]
ASKS = ["how do I fail over the database?", "which service restarts after a disk alert?", "where are the logs?"]


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # [N, M, D] each -> [N]
    return torch.nn.functional.cosine_similarity(a.float().flatten(1), b.float().flatten(1), dim=-1)


@pytest.mark.parametrize("weights, largest_error", [("int8", 0.012), ("fp8", 0.04)])
def test_quantize_weight_per_channel(weights: str, largest_error: float) -> None:
    w = torch.randn(96, 512) * torch.logspace(-3, 1, 96)[:, None]  # rows of very different scales
    w[3, 7] = 50.0  # an outlier only moves its own row's scale
    q, scale = quantize_weight(w, weights)
    assert q.shape == w.shape and scale.shape == (96,) and scale.dtype == torch.float32
    assert q.dtype == (torch.int8 if weights == "int8" else torch.float8_e4m3fn)
    back = dequantize(q, scale, torch.float32)
    assert torch.isfinite(back).all()
    relative = (back - w).norm(dim=1) / w.norm(dim=1)  # per row
    assert float(relative[torch.arange(96) != 3].max()) < largest_error
    assert float(back[3, 7]) == pytest.approx(50.0, rel=1e-6)  # the largest value is exact
    if weights == "int8":
        assert int(q.abs().max()) == 127


@pytest.mark.parametrize("weights", ["int8", "fp8"])
def test_quantized_model_stays_close_to_bf16(tiny_paths: dict[str, Path], weights: str) -> None:
    checkpoint, base = tiny_paths["e2e-16"], tiny_paths["base_model"]
    reference = load_clara(checkpoint, base, "cpu", dtype=torch.bfloat16)
    quantized = load_clara(checkpoint, base, "cpu", dtype=torch.bfloat16, weights=weights)
    assert quantized.weights == weights
    down = dict(quantized.model.lora_layers())["model.layers.0.mlp.down_proj"]
    assert down.weight.dtype == (torch.int8 if weights == "int8" else torch.float8_e4m3fn)
    assert quantized.model.lm_head.weight.dtype == torch.bfloat16  # embeddings and lm_head stay bf16

    # memory embeddings: cosine to bf16 per chunk; the ranking of a few questions
    memories, memories_q = steps.compress(reference, DOCS), steps.compress(quantized, DOCS)
    assert float(_cosines(memories_q, memories).min()) >= 0.995
    for ask in ASKS:
        top = steps.top_k(steps.score(steps.encode_questions(reference, [ask])[0], memories), 5)[0]
        top_q = steps.top_k(steps.score(steps.encode_questions(quantized, [ask])[0], memories_q), 5)[0]
        assert len(set(top) & set(top_q)) >= 4

    # the generator's logits on the same prompt (the same memory embeddings inserted)
    ids, valid = steps.build_prompts(reference, ["how do I fail over?"], [3])
    embeds = steps.insert_memory(reference, ids, [memories[:3]])
    mask = attention_mask(valid, torch.arange(ids.shape[1]))
    logits = []
    for clara in (reference, quantized):
        clara.model.set_adapter(DECODER_ADAPTER)
        with torch.inference_mode():
            logits.append(clara.model.logits(clara.model(embeds, positions_from_valid(valid), mask)[:, -1]))
    relative = float((logits[1] - logits[0]).norm() / logits[0].norm())
    assert relative < (0.03 if weights == "int8" else 0.08)
    assert int(logits[1].argmax()) == int(logits[0].argmax())


def test_decoder_adapter_is_merged_before_rounding(tiny_paths: dict[str, Path]) -> None:
    checkpoint, base = tiny_paths["e2e-16"], tiny_paths["base_model"]
    plain = load_clara(checkpoint, base, "cpu")
    quantized = load_clara(checkpoint, base, "cpu", weights="int8")
    name = "model.layers.1.self_attn.k_proj"
    layer, layer_q = dict(plain.model.lora_layers())[name], dict(quantized.model.lora_layers())[name]
    assert layer_q.merged == DECODER_ADAPTER
    expected = quantize_weight(layer.weight + layer.delta(DECODER_ADAPTER), "int8")
    assert torch.equal(layer_q.weight, expected[0])
    assert layer_q.weight_scale is not None and torch.allclose(layer_q.weight_scale, expected[1])
    with pytest.raises(ValueError, match="merged before quantizing"):
        quantized.model.merge_adapter(ENCODER_ADAPTER)


def test_merging_first_costs_the_other_roles_no_precision(tiny_paths: dict[str, Path]) -> None:
    """The encoder runs on quantized W + ΔD with a bf16 correction (−ΔD + ΔE); quantizing W alone and
    adding ΔE instead is no closer to bf16."""
    checkpoint, base = tiny_paths["e2e-16"], tiny_paths["base_model"]
    reference = steps.compress(load_clara(checkpoint, base, "cpu", dtype=torch.bfloat16), DOCS)
    merged = steps.compress(load_clara(checkpoint, base, "cpu", dtype=torch.bfloat16, weights="int8"), DOCS)
    unmerged_model = load_clara(checkpoint, base, "cpu", dtype=torch.bfloat16)
    for _, layer in unmerged_model.model.lora_layers():
        layer.quantize("int8")
    unmerged = steps.compress(unmerged_model, DOCS)
    assert float(_cosines(merged, reference).mean()) >= float(_cosines(unmerged, reference).mean()) - 2e-4


@pytest.mark.parametrize("weights", ["int8", "fp8"])
def test_quantized_fast_path_answers_like_the_plain_path(load: Callable[[str], ClaraModel], tiny_paths:
                                                          dict[str, Path], weights: str) -> None:
    def quantized() -> ClaraModel:
        return load_clara(tiny_paths["e2e-16"], tiny_paths["base_model"], "cpu", weights=weights)

    plain = ClaraEngine(quantized(), max_new_tokens=12, fast=False)
    fast = ClaraEngine(quantized(), max_new_tokens=12, fast=True)
    fast.clara.model.compile_decode(backend="aot_eager")
    try:
        expected = plain.answer_batch(QUESTIONS)
        got = fast.answer_batch(QUESTIONS)
        assert [a.text for a in got] == [a.text for a in expected]
        assert [[c.chunk for c in a.citations] for a in got] == [[c.chunk for c in a.citations] for a in expected]
        one = Question("kafka lag?", chunks(TEXTS))
        assert fast.answer_batch([one])[0].text == plain.answer_batch([one])[0].text
    finally:
        fast.clara.model.compile_decode(None)
        torch._dynamo.reset()


def test_quantized_embeddings_have_their_own_store_key(tiny_paths: dict[str, Path]) -> None:
    checkpoint, base = tiny_paths["e2e-16"], tiny_paths["base_model"]
    keys = {w: store_fingerprint(load_clara(checkpoint, base, "cpu", weights=w), fast=False)
            for w in ("bf16", "int8", "fp8")}
    assert len(set(keys.values())) == 3
    # quantized weights always hold the merged decoder adapter, also in an engine without fast paths
    assert keys["bf16"].endswith("-plain") and keys["int8"].endswith("-merged") and keys["fp8"].endswith("-merged")


def test_bad_weight_formats_fail_clearly(tiny_paths: dict[str, Path]) -> None:
    with pytest.raises(CheckpointError, match="use one of bf16, int8, fp8"):
        load_clara(tiny_paths["e2e-16"], tiny_paths["base_model"], "cpu", weights="int4")
    older = r"compute capability 8\.9 or newer .* this one is 8\.0: use CLARA_WEIGHTS=int8"
    with pytest.raises(CheckpointError, match=older):
        check_format("fp8", torch.device("cuda"), capability=(8, 0))  # A100: int8 only
    check_format("fp8", torch.device("cuda"), capability=(9, 0))  # H100 / H200
    check_format("fp8", torch.device("cuda"), capability=(8, 9))  # Ada
    check_format("int8", torch.device("cuda"), capability=(7, 5))  # T4: int8 runs anywhere
