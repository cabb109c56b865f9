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
    # one question at a time: batch-1 steps through the GEMV layers (model.Mistral.use_gemv)
    assert [fast.answer(q.text, q.chunks).text for q in questions] == expected


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
    assert [fast.answer(q.text, q.chunks).text for q in questions] == expected  # batch 1: GEMV layers


def _gemv_reference(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor | None,
                    swiglu: bool, residual: torch.Tensor | None) -> torch.Tensor:
    """``kernels.gemv_launch`` in float64, step by step."""
    from worker.clara.quantize import dequantize

    h = x.double()
    if norm is not None:
        h = h * torch.rsqrt(h.pow(2).mean() + 1e-5) * norm.double()
    y = (w.double() if scale is None else dequantize(w, scale, torch.float64)) @ h
    if swiglu:
        gate, up = y.chunk(2)
        y = torch.nn.functional.silu(gate) * up
    return y if residual is None else y + residual.double()


@pytest.mark.parametrize("weights", ["fp32", "bf16", "int8", "fp8"])
@pytest.mark.parametrize("steps_", ["plain", "norm", "norm+swiglu", "residual"])
def test_gemv_kernel_matches_torch(weights: str, steps_: str) -> None:
    from worker.clara.kernels import gemv
    from worker.clara.quantize import quantize_weight

    if weights == "fp8" and torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("fp8 needs compute capability 8.9")
    dtype = torch.float32 if weights == "fp32" else torch.bfloat16
    for n, k in ((200, 1000), (384, 4096), (48, 64)):  # N, K not block multiples; K under every block
        swiglu = "swiglu" in steps_
        w = torch.randn(2 * n if swiglu else n, k, device="cuda") * 0.02
        q, scale = quantize_weight(w, weights) if weights in ("int8", "fp8") else (w.to(dtype), None)
        x = torch.randn(k, device="cuda", dtype=dtype)
        norm = torch.rand(k, device="cuda", dtype=dtype) + 0.5 if "norm" in steps_ else None
        residual = torch.randn(n, device="cuda", dtype=dtype) if steps_ == "residual" else None
        got = gemv(x, q, scale, norm, 1e-5, swiglu, residual)
        expected = _gemv_reference(x, q, scale, norm, swiglu, residual)
        assert got.shape == (n,) and got.dtype == dtype
        error = float((got.double() - expected).norm() / expected.norm())
        assert error < (1e-5 if dtype == torch.float32 else 1e-2), (n, k, error)


@pytest.mark.parametrize("weights", ["bf16", "int8"])
def test_gemv_decode_layers_match_the_plain_layers(weights: str) -> None:
    from worker.clara.model import Mistral, ModelConfig, attention_mask

    torch.manual_seed(0)
    config = ModelConfig(hidden_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=512, vocab_size=100, head_dim=64)
    model = Mistral(config)
    for name, param in model.named_parameters():
        param.data = (1 + 0.1 * torch.randn_like(param)) if "norm" in name else 0.05 * torch.randn_like(param)
    model.to(torch.bfloat16)
    if weights == "bf16":
        model.to("cuda")
    else:
        model.quantize(weights, torch.device("cuda"), None)
    model.reset_rope()
    model.fuse_projections()
    model.setup_cache(1, 16)
    for attn in model.attentions():  # a history of 3 tokens in the cache
        assert attn.cache is not None
        attn.cache.k.normal_()
        attn.cache.v.normal_()
    x = torch.randn(1, 1, 256, device="cuda", dtype=torch.bfloat16)
    slots, positions = torch.tensor([3], device="cuda"), torch.tensor([[3]], device="cuda")
    key_valid = torch.zeros(1, 16, dtype=torch.bool, device="cuda")
    key_valid[:, :4] = True
    with torch.inference_mode():
        expected = model(x, positions, attention_mask(key_valid, slots), slots).float()
        model.use_gemv(True)
        got = model(x, positions, attention_mask(key_valid, slots), slots).float()
    assert float((got - expected).norm() / expected.norm()) < 2e-2


@pytest.mark.parametrize("weights", ["fp32", "bf16", "int8"])
def test_gemv_qkv_rotates_and_fills_the_caches(weights: str) -> None:
    from worker.clara.kernels import gemv_qkv
    from worker.clara.model import apply_rope, rope_cos_sin
    from worker.clara.quantize import dequantize, quantize_weight

    dtype = torch.float32 if weights == "fp32" else torch.bfloat16
    for heads, kv, e, d in ((4, 2, 16, 64), (32, 8, 128, 4096)):  # tiny test model; Mistral-7B
        w = torch.randn((heads + 2 * kv) * e, d, device="cuda") * 0.02
        q, scale = quantize_weight(w, weights) if weights == "int8" else (w.to(dtype), None)
        full = q.double() if scale is None else dequantize(q, scale, torch.float64)
        x = torch.randn(d, device="cuda", dtype=dtype)
        norm = torch.rand(d, device="cuda", dtype=dtype) + 0.5
        k_cache = torch.full((1, kv, 8, e), float("nan"), device="cuda", dtype=dtype)
        v_cache = k_cache.clone()
        inv_freq = 1.0 / (1e6 ** (torch.arange(0, e, 2, device="cuda").float() / e))
        cos, sin = rope_cos_sin(torch.tensor([[7]], device="cuda"), inv_freq, dtype)  # [1, 1, 1, E]
        got = gemv_qkv(x, q, scale, norm, 1e-5, cos.view(-1), sin.view(-1), k_cache, v_cache,
                       torch.tensor([5], device="cuda"), heads)
        h = x.double() * torch.rsqrt(x.double().pow(2).mean() + 1e-5) * norm.double()
        y = (full @ h).view(1, 1, heads + 2 * kv, e)
        rotated = apply_rope(y[:, :, : heads + kv], cos.double(), sin.double())
        expected = torch.cat([rotated, y[:, :, heads + kv:]], 2).view(heads + 2 * kv, e)
        tolerance = 1e-5 if dtype == torch.float32 else 1e-2
        for part, want in ((got.view(heads + 2 * kv, e), expected), (k_cache[0, :, 5], expected[heads: heads + kv]),
                           (v_cache[0, :, 5], expected[heads + kv:])):
            assert float((part.double() - want).norm() / want.norm()) < tolerance
        assert torch.isnan(k_cache[0, :, [0, 1, 2, 3, 4, 6, 7]]).all()  # no other slot written
        assert torch.isnan(v_cache[0, :, [0, 1, 2, 3, 4, 6, 7]]).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("case", ["causal", "left padding", "sliding window", "first slot", "splits", "gqa 2"])
def test_decode_attention_matches_sdpa(dtype: torch.dtype, case: str) -> None:
    """``kernels.decode_attention`` against SDPA with the folded mask (what the step ran before), over
    caches whose slots past the query hold garbage (NaN would leak into any read of them)."""
    from worker.clara.kernels import decode_attention
    from worker.clara.model import attention_mask, fold_mask, grouped_attention

    heads, kv, e, slots, slot, pad, window = {
        "causal": (32, 8, 128, 384, 259, 0, None), "left padding": (32, 8, 128, 384, 100, 9, None),
        "sliding window": (32, 8, 128, 384, 300, 0, 64), "first slot": (32, 8, 128, 128, 0, 0, None),
        "splits": (32, 8, 128, 4096, 2999, 40, 2000), "gqa 2": (4, 2, 16, 16, 5, 1, None)}[case]
    torch.manual_seed(0)
    k, v = (torch.randn(1, kv, slots, e, device="cuda", dtype=dtype) for _ in range(2))
    k[:, :, slot + 1:], v[:, :, slot + 1:] = float("nan"), float("nan")  # never read
    q = torch.randn(heads * e, device="cuda", dtype=dtype)
    key_valid = torch.zeros(1, slots, dtype=torch.bool, device="cuda")
    key_valid[:, pad:] = True
    position = torch.tensor([slot], device="cuda")
    folded = fold_mask(attention_mask(key_valid, position, window), heads // kv, dtype)  # [1, 1, G, S]
    done = torch.zeros(kv, dtype=torch.int32, device="cuda")
    clean = [torch.nan_to_num(t) for t in (k, v)]
    expected = grouped_attention(q.view(1, heads, 1, e).double(), clean[0].double(), clean[1].double(),
                                 folded.double()).reshape(-1)
    sdpa = grouped_attention(q.view(1, heads, 1, e), clean[0], clean[1], folded).reshape(-1)
    for _ in range(2):  # the split counters are back at zero after each call
        got = decode_attention(q, k, v, folded[0, 0, 0], position, done)
        assert got.shape == q.shape and got.dtype == dtype and bool((done == 0).all())
        error = float((got.double() - expected).norm() / expected.norm())
        sdpa_error = float((sdpa.double() - expected).norm() / expected.norm())
        assert error < (1e-5 if dtype == torch.float32 else max(1e-2, 2 * sdpa_error)), (error, sdpa_error)


def test_decode_attention_in_a_cuda_graph() -> None:
    """Captured once, replayed as the decode graph does: the length comes from the slot tensor."""
    from worker.clara.kernels import decode_attention
    from worker.clara.model import attention_mask, fold_mask, grouped_attention

    heads, kv, e, slots = 32, 8, 128, 2048  # several programs per kv head
    k, v = (torch.randn(1, kv, slots, e, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    q = torch.randn(heads * e, device="cuda", dtype=torch.bfloat16)
    key_valid = torch.ones(1, slots, dtype=torch.bool, device="cuda")
    slot = torch.tensor([10], device="cuda")
    mask = torch.zeros(1, 1, 4, slots, dtype=torch.bfloat16, device="cuda")
    done = torch.zeros(kv, dtype=torch.int32, device="cuda")

    def step() -> torch.Tensor:
        mask.copy_(fold_mask(attention_mask(key_valid, slot), heads // kv, torch.bfloat16))
        return decode_attention(q, k, v, mask[0, 0, 0], slot, done)

    step()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = step()
    for position in (10, 700, 2047):
        slot.fill_(position)
        graph.replay()
        expected = grouped_attention(q.view(1, heads, 1, e), k, v, mask).reshape(-1)
        assert float((out.float() - expected.float()).norm() / expected.float().norm()) < 1e-2, position
