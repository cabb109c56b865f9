"""On a CUDA device: the real loader path in bf16 (tiny files) and the fast engine (merged decoder
adapter, CUDA-graph decoding) against the plain one. Skipped cleanly without CUDA.

Self-contained (no conftest fixtures), so it also runs with ``--noconftest`` where Redis is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiny_checkpoint
import torch

from worker.clara import steps
from worker.clara.checkpoint import load_clara
from worker.clara.decode import StaticDecoder
from worker.clara.engine import ClaraEngine
from worker.documents.document import Chunk, Document
from worker.engine.base import Question

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

TEXTS = ["To fail over the primary database, run make failover from the ops host.",
         "Disk alerts on web-3: clean /var/log/nginx and restart the log shipper.",
         "Kafka consumer lag above 10k means the billing workers are stuck: restart them.",
         "TLS certificates renew through cert-manager."]


def _chunks(texts: list[str]) -> list[Chunk]:
    document = Document("runbook:ops.md", "Ops", "\n".join(texts))
    return [Chunk(document, t, i + 1, i + 1, i) for i, t in enumerate(texts)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("clara-gpu")
    base = tiny_checkpoint.make_base(root / "base")
    return tiny_checkpoint.make_checkpoint(root / "e2e", base, "e2e", 16), base


def test_loader_on_gpu_bf16(folders: tuple[Path, Path]) -> None:
    clara = load_clara(folders[0], folders[1], "cuda")
    assert clara.dtype == torch.bfloat16 and clara.model.lm_head.weight.is_cuda
    memories = steps.compress(clara, TEXTS)
    assert memories.shape == (4, 16, 64) and memories.dtype == torch.bfloat16
    assert torch.isfinite(memories.float()).all()
    # left padding in bf16: small differences only
    alone = steps.compress(clara, TEXTS[:1])
    assert (alone.float() - memories[:1].float()).abs().max().item() < 0.1


def test_fast_engine_on_gpu(folders: tuple[Path, Path]) -> None:
    plain = ClaraEngine(load_clara(folders[0], folders[1], "cuda", torch.float32), max_new_tokens=10,
                        fast=False)
    fast = ClaraEngine(load_clara(folders[0], folders[1], "cuda", torch.float32), max_new_tokens=10,
                       fast=True, compile_ops=False)
    assert isinstance(fast.decoder, StaticDecoder) and fast.decoder.use_graphs
    questions = [Question("database failover?", _chunks(TEXTS)), Question("kafka?", _chunks(TEXTS[2:])),
                 Question("none", [])]
    expected = [a.text for a in plain.answer_batch(questions)]
    assert [a.text for a in fast.answer_batch(questions)] == expected
    assert [a.text for a in fast.answer_batch(questions)] == expected  # graph replayed


def test_compiled_engine_on_gpu(folders: tuple[Path, Path]) -> None:
    from worker.clara.model import plain_elementwise

    questions = [Question("database failover?", _chunks(TEXTS)), Question("kafka?", _chunks(TEXTS[2:]))]
    plain = ClaraEngine(load_clara(folders[0], folders[1], "cuda", torch.float32), max_new_tokens=10,
                        fast=False, compile_ops=False)
    expected = [a.text for a in plain.answer_batch(questions)]
    try:
        fast = ClaraEngine(load_clara(folders[0], folders[1], "cuda", torch.float32), max_new_tokens=10)
        assert fast.fast and fast.compile_ops  # the defaults on CUDA
        fast.warm_up()
        assert fast.compile_ops  # compiled without falling back
        assert [a.text for a in fast.answer_batch(questions)] == expected
    finally:
        plain_elementwise()


@pytest.mark.parametrize("weights", ["int8", "fp8"])
def test_decoding_kernel_matches_the_dequantised_matmul(weights: str) -> None:
    from worker.clara.kernels import weight_only_mm
    from worker.clara.quantize import dequantize, quantize_weight

    if weights == "fp8" and torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("fp8 needs compute capability 8.9")
    torch.manual_seed(0)
    q, scale = quantize_weight(torch.randn(200, 1024, device="cuda") * 0.02, weights)  # N not a block multiple
    for rows in (1, 5, 16):
        x = torch.randn(rows, 1024, device="cuda", dtype=torch.bfloat16)
        expected = x.float() @ dequantize(q, scale, torch.float32).t()
        got = weight_only_mm(x, q, scale)
        assert got.shape == (rows, 200) and got.dtype == torch.bfloat16
        assert float((got.float() - expected).norm() / expected.norm()) < 5e-3


def test_packed_compression_on_gpu(folders: tuple[Path, Path]) -> None:
    clara = load_clara(folders[0], folders[1], "cuda")
    texts = [*TEXTS, "short", " ".join(TEXTS) * 4]  # 7 to 259 tokens
    padded, packed = steps.compress(clara, texts), steps.compress(clara, texts, packed=True)  # flash attention
    cosine = torch.nn.functional.cosine_similarity(packed.float().flatten(1), padded.float().flatten(1), dim=-1)
    assert float(cosine.min()) > 0.999


def test_quantized_fast_engine_on_gpu(folders: tuple[Path, Path]) -> None:
    questions = [Question("database failover?", _chunks(TEXTS)), Question("kafka?", _chunks(TEXTS[2:]))]
    plain = ClaraEngine(load_clara(folders[0], folders[1], "cuda", torch.float32, weights="int8"),
                        max_new_tokens=10, fast=False)
    fast = ClaraEngine(load_clara(folders[0], folders[1], "cuda", torch.float32, weights="int8"),
                       max_new_tokens=10, fast=True, compile_ops=False)
    assert fast.clara.model.lm_head.weight.is_cuda
    expected = [a.text for a in plain.answer_batch(questions)]
    assert [a.text for a in fast.answer_batch(questions)] == expected
