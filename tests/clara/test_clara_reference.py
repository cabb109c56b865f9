"""Our Mistral against transformers' MistralForCausalLM on the same tiny weights (transformers is a dev
dependency: the worker never imports it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tiny_checkpoint
import torch

from worker.clara import steps
from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER, ENCODER_ADAPTER
from worker.clara.model import Mistral, ModelConfig, attention_mask, positions_from_valid

transformers = pytest.importorskip("transformers")


def hf_model(state: dict[str, torch.Tensor], vocab: int) -> Any:
    config = transformers.MistralConfig(**{**tiny_checkpoint.TINY_MISTRAL, "vocab_size": vocab})
    model = transformers.MistralForCausalLM(config).eval()
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model


def merged_state(clara: ClaraModel, adapter: str | None) -> dict[str, torch.Tensor]:
    """Our weights with ``adapter`` folded in: what a plain HF model needs to compute the same."""
    state = {k: v.detach().clone() for k, v in clara.model.state_dict().items()}
    if adapter is not None:
        for name, layer in clara.model.lora_layers():
            state[f"{name}.weight"] += layer.delta(adapter)
    return state


def left_padded_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(3, 32000, (n,), generator=g).tolist() for n in (23, 9, 17)]
    return steps.left_pad(seqs, torch.device("cpu"))


def test_forward_matches_transformers(tiny_paths: dict[str, Path]) -> None:
    state = tiny_checkpoint.base_state_dict(tiny_checkpoint.TINY_MISTRAL)
    ref = hf_model(state, 32000)
    with torch.device("meta"):
        ours = Mistral(ModelConfig.from_dict(tiny_checkpoint.TINY_MISTRAL))
    ours.load_state_dict({k: v.float() for k, v in state.items()}, assign=True, strict=True)
    ours.reset_rope()
    ours.eval()
    ids, valid = left_padded_batch()
    positions = positions_from_valid(valid)
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=valid.long(), position_ids=positions).logits
        mask = attention_mask(valid, torch.arange(ids.shape[1]))
        got = ours.logits(ours(ours.embed(ids), positions, mask))
    diff = (got - expected)[valid].abs().max().item()
    assert diff < 1e-4, diff
    assert expected[valid].abs().max().item() > 0.1


@pytest.mark.parametrize("adapter", [ENCODER_ADAPTER, DECODER_ADAPTER])
def test_lora_matches_merged_transformers(e2e16: ClaraModel, adapter: str) -> None:
    ref = hf_model(merged_state(e2e16, adapter), e2e16.tokenizer.vocab_size)
    ids, valid = left_padded_batch(1)
    positions = positions_from_valid(valid)
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=valid.long(), position_ids=positions,
                       output_hidden_states=True).hidden_states[-1]
        e2e16.model.set_adapter(adapter)
        got = e2e16.model(e2e16.model.embed(ids), positions, attention_mask(valid, torch.arange(ids.shape[1])))
    assert (got - expected)[valid].abs().max().item() < 1e-4


def test_generation_matches_transformers_generate(e2e16: ClaraModel) -> None:
    """The whole decoder path: memory slots overwritten, left padding, greedy decoding with a cache."""
    ref = hf_model(merged_state(e2e16, DECODER_ADAPTER), e2e16.tokenizer.vocab_size)
    documents = steps.compress(e2e16, ["the failover runbook", "disk alerts on web-3", "kafka lag"])
    questions = ["how do I fail over?", "what should I do when kafka consumer lag is high on billing?"]
    ids, valid = steps.build_prompts(e2e16, questions, [3, 1])
    embeds = steps.insert_memory(e2e16, ids, [documents, documents[2:]])
    ours = steps.generate(e2e16, embeds, valid, 16)
    with torch.no_grad():
        out = ref.generate(inputs_embeds=embeds, attention_mask=valid.long(), do_sample=False,
                           max_new_tokens=16, pad_token_id=1, eos_token_id=2)
    expected = [row[: row.index(2)] if 2 in row else row for row in out.tolist()]
    assert ours == expected
    assert all(len(row) > 0 for row in ours)
