"""``worker/clara`` against Apple's own code: ``tests/clara/fixtures/clara_reference.safetensors`` holds what
Apple's ``modeling_clara.py`` (apple/ml-clara at a pinned commit, with its pinned transformers and peft,
fp32 on CPU) computed on the tiny checkpoints of ``tiny_checkpoint.make_reference_set``: E2E c16 and c128,
Instruct and Base, each over a legacy and a non-legacy ``tokenizer.json``. Regenerate it with
``bench/clara_reference.py`` (docs/clara.md says how). Ids must be equal, floats within 1e-4."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tiny_checkpoint
import torch
from safetensors import safe_open

from worker.clara import steps
from worker.clara.checkpoint import load_clara

FIXTURE = Path(__file__).parent / "fixtures" / "clara_reference.safetensors"
CASES = [f"{variant}/{kind}-{rate}" for variant in tiny_checkpoint.TOKENIZER_VARIANTS
         for kind, rate in tiny_checkpoint.REFERENCE_CHECKPOINTS]
ATOL = 1e-4


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    with safe_open(str(FIXTURE), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        return json.loads(handle.metadata()["reference"]), tensors


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    return tiny_checkpoint.make_reference_set(tmp_path_factory.mktemp("clara-reference"))


def test_fixture_covers_every_case(reference: tuple[dict[str, Any], dict[str, torch.Tensor]]) -> None:
    meta, _ = reference
    assert sorted(meta["cases"]) == sorted(CASES)
    assert meta["versions"]["transformers"] == "4.56.2" and meta["versions"]["peft"] == "0.17.1"
    assert meta["source"]["commit"].startswith("857c3cf")


@pytest.mark.parametrize("case", CASES)
def test_checkpoints_are_the_recorded_ones(reference: tuple[dict[str, Any], dict[str, torch.Tensor]],
                                           folders: dict[str, tuple[Path, Path]], case: str) -> None:
    """The builder is seeded: the tests build exactly the tensors the fixture was recorded on."""
    checkpoint, base = folders[case]
    assert tiny_checkpoint.tensors_digest(checkpoint, base) == reference[0]["cases"][case]["checkpoint_digest"], \
        "tiny_checkpoint.py no longer builds what the fixture was recorded on: regenerate it (docs/clara.md)"


def _close(ours: torch.Tensor, apple: torch.Tensor) -> None:
    assert ours.shape == apple.shape
    assert (ours.float() - apple).abs().max().item() < ATOL
    assert apple.abs().max().item() > 0.1  # not trivially small


@pytest.mark.parametrize("case", CASES)
def test_same_results_as_apple(reference: tuple[dict[str, Any], dict[str, torch.Tensor]],
                               folders: dict[str, tuple[Path, Path]], case: str) -> None:
    meta, tensors = reference
    recorded = meta["cases"][case]
    kind = case.split("/")[1].split("-")[0]
    checkpoint, base = folders[case]
    clara = load_clara(checkpoint, base, "cpu")  # fp32 on the CPU
    tok, docs, questions = clara.tokenizer, meta["documents"], meta["questions"]
    last_adapter = tiny_checkpoint.ADAPTERS[kind][-1]  # the last adapter loaded wins, in Apple's code and ours
    assert recorded["embed_source"] == recorded["head_source"] == f"adapters.pth ({last_adapter})"
    copies = torch.load(checkpoint / "adapters.pth", weights_only=True)[last_adapter]
    assert torch.equal(clara.model.model.embed_tokens.weight, copies["model.embed_tokens.weight"].float())
    assert torch.equal(clara.model.lm_head.weight, copies["lm_head.weight"].float())

    assert [tok.encoder_ids(d, clara.config.doc_max_length) for d in docs] == recorded["encoder_ids"]
    memory = steps.compress(clara, docs)  # [N, M, D]
    _close(memory, tensors[f"{case}/memory"])
    if kind == "e2e":
        assert [tok.encoder_ids(q, clara.config.doc_max_length) for q in questions] == recorded["query_ids"]
        queries = steps.encode_questions(clara, questions)  # [B, M, D]
        _close(queries, tensors[f"{case}/query"])
        scores = torch.stack([steps.score(query, memory) for query in queries])  # [B, N]
        _close(scores, tensors[f"{case}/scores"])
        chosen = [steps.top_k(row, clara.config.generation_top_k)[0] for row in scores]
        assert chosen == recorded["topk"]
    else:
        chosen = meta["selection"][kind]
    assert [tok.prompt_ids(q, len(rows)) for q, rows in zip(questions, chosen, strict=True)] == recorded["prompt_ids"]
    ids, valid = steps.build_prompts(clara, questions, [len(rows) for rows in chosen])  # left-padded batch
    embeds = steps.insert_memory(clara, ids, [memory[rows] for rows in chosen])
    greedy = steps.generate(clara, embeds, valid, meta["max_new_tokens"])
    assert greedy == recorded["greedy_ids"]
    assert [tok.decode(row) for row in greedy] == recorded["answers"]
