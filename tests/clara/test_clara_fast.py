"""Issue 5's fast paths compute what the plain path computes: greedy outputs are identical on the tiny
CPU checkpoints (merged decoder adapter with low-rank corrections for the other roles; static-cache
decoder, which replays the same step under CUDA graphs on a GPU)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from test_clara_engine import TEXTS, WordOverlap, chunks

from worker.clara import steps
from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER, ENCODER_ADAPTER
from worker.clara.decode import StaticDecoder
from worker.clara.engine import ClaraEngine
from worker.engine.base import Question

QUESTIONS = [Question("database failover?", chunks(TEXTS)), Question("none", []),
             Question("disk alerts on web-3?", chunks(TEXTS[1:3])), Question("kafka?", chunks(TEXTS[3:4])),
             Question("what renews the TLS certificates and where do VPN logs go?", chunks(TEXTS[2:]))]


@pytest.mark.parametrize("name", ["e2e-16", "instruct-128", "base-16"])
def test_fast_engine_answers_like_the_plain_one(load: Callable[[str], ClaraModel], name: str) -> None:
    plain = ClaraEngine(load(name), retriever=WordOverlap(), max_new_tokens=12, fast=False)
    fast = ClaraEngine(load(name), retriever=WordOverlap(), max_new_tokens=12, fast=True)
    assert fast.decoder is not None and not fast.decoder.use_graphs  # CPU: the same step, eagerly
    assert all(layer.merged == DECODER_ADAPTER for _, layer in fast.clara.model.lora_layers())
    expected = plain.answer_batch(QUESTIONS)
    got = fast.answer_batch(QUESTIONS)
    assert [a.text for a in got] == [a.text for a in expected]
    assert [[c.chunk for c in a.citations] for a in got] == [[c.chunk for c in a.citations] for a in expected]
    for a, b in zip(got, expected, strict=True):
        assert [c.score for c in a.citations] == pytest.approx([c.score for c in b.citations], abs=1e-5)
    assert [a.text for a in fast.answer_batch(QUESTIONS[::-1])] == [a.text for a in expected[::-1]]


def test_merged_adapter_keeps_every_role(load: Callable[[str], ClaraModel]) -> None:
    clara = load("e2e-16")
    texts = TEXTS[:4]
    before = (steps.compress(clara, texts), steps.encode_questions(clara, texts))
    clara.model.merge_adapter(DECODER_ADAPTER)
    after = (steps.compress(clara, texts), steps.encode_questions(clara, texts))
    for x, y in zip(before, after, strict=True):
        assert (x - y).abs().max().item() < 1e-4
    clara.model.merge_adapter(ENCODER_ADAPTER)  # another merge: W changes, the function does not
    assert (steps.compress(clara, texts) - before[0]).abs().max().item() < 1e-4


def test_static_decoder_equals_plain_generate(e2e16: ClaraModel) -> None:
    memories = [steps.compress(e2e16, TEXTS[:3]), steps.compress(e2e16, TEXTS[3:4]),
                steps.compress(e2e16, TEXTS[4:6])]
    questions = ["how to fail over?", "who restarts the billing workers when lag is high?", "tls?"]
    ids, valid = steps.build_prompts(e2e16, questions, [3, 1, 2])
    embeds = steps.insert_memory(e2e16, ids, memories)
    decoder = StaticDecoder(e2e16, use_graphs=False, max_buckets=2, check_every=3)
    for n in (1, 2, 17):
        assert decoder.generate(embeds, valid, n) == steps.generate(e2e16, embeds, valid, n)
    # a batch of 3 runs in the bucket of 4; a single row in the bucket of 1
    assert decoder.generate(embeds[1:2], valid[1:2], 9) == steps.generate(e2e16, embeds[1:2], valid[1:2], 9)
    assert len(decoder._buckets) == 2
    assert decoder.generate(embeds[:0], valid[:0], 5) == []


def test_fused_projections_share_memory_and_compute_the_same(load: Callable[[str], ClaraModel]) -> None:
    clara = load("e2e-128")
    texts = TEXTS[:3]
    before = steps.compress(clara, texts)
    clara.model.fuse_projections()
    attn = clara.model.attentions()[0]
    assert attn.qkv is not None
    qkv = attn.qkv.weight
    assert attn.q_proj.weight.untyped_storage().data_ptr() == qkv.untyped_storage().data_ptr()
    assert attn.v_proj.weight.data_ptr() == qkv[-attn.v_proj.out_features:].data_ptr()
    assert (steps.compress(clara, texts) - before).abs().max().item() < 1e-5
    clara.model.merge_adapter(DECODER_ADAPTER)  # merging into the parts updates the fused weight
    assert (steps.compress(clara, texts) - before).abs().max().item() < 1e-4
    names = {name for name, _ in clara.model.named_parameters()}
    assert "model.layers.0.self_attn.qkv.weight" in names


def test_compiled_decode_layers_compute_the_same(load: Callable[[str], ClaraModel]) -> None:
    from torch._dynamo.utils import counters

    clara = load("e2e-16")
    engine = ClaraEngine(clara, max_new_tokens=8, fast=True)
    expected = [a.text for a in engine.answer_batch(QUESTIONS)]
    single = engine.answer_batch(QUESTIONS[:1])[0].text
    torch._dynamo.reset()
    counters.clear()
    clara.model.compile_decode(backend="aot_eager")  # dynamo's capture and AOT functionalization
    try:
        assert [a.text for a in engine.answer_batch(QUESTIONS)] == expected
        assert engine.answer_batch(QUESTIONS[:1])[0].text == single
        # every layer shares the compiled code: one graph for batch 1, one for larger batches
        assert counters["stats"]["unique_graphs"] == 2
    finally:
        clara.model.compile_decode(None)
        torch._dynamo.reset()


def test_compiled_elementwise_ops_compute_the_same(load: Callable[[str], ClaraModel]) -> None:
    from worker.clara.model import compile_elementwise, plain_elementwise

    clara = load("e2e-16")
    engine = ClaraEngine(clara, max_new_tokens=8, fast=True)
    before = steps.compress(clara, TEXTS[:3])
    expected = [a.text for a in engine.answer_batch(QUESTIONS[:3])]
    compile_elementwise(backend="eager")  # dynamo's capture; inductor is measured on the GPU
    try:
        assert (steps.compress(clara, TEXTS[:3]) - before).abs().max().item() < 1e-6
        assert [a.text for a in engine.answer_batch(QUESTIONS[:3])] == expected
    finally:
        plain_elementwise()
