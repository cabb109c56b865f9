#!/usr/bin/env python
"""CLaRa engine speed on a GPU with random weights of the real CLaRa-7B shapes. Prints a table last;
``--out DIR`` also writes clara_perf.json there.

Issue 5 (the default): each fast path step by step, beside a plain-transformers baseline
(MistralForCausalLM + generate(), LoRA via peft or a per-layer wrapper) measured in the same run.
Issue 15 (``--formats bf16,int8,fp8``): the engine as the worker runs it, once per weight format in one
process (same random weights): compression, decoding, end to end, peak memory, a profile of the decode
step, and the quantized formats' distance to bf16 (memory embeddings, ranking, logits); bf16 also
without this issue's decode and compression changes, for the ratios.

    python bench/clara_perf.py --out "$OUT"                          # on the GPU machine
    python bench/clara_perf.py --out "$OUT" --formats bf16,int8,fp8  # issue 15
    python bench/clara_perf.py --tiny [--formats bf16,int8]          # a 2-layer model on the CPU: checks the script
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch
from clara_random import MISTRAL_7B, random_clara, words_text

from worker.clara import lora, steps
from worker.clara import model as clara_model
from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER, ENCODER_ADAPTER
from worker.clara.decode import StaticDecoder
from worker.clara.engine import ClaraEngine
from worker.clara.model import ModelConfig, attention_mask, positions_from_valid
from worker.clara.store import LocalMemoryStore
from worker.documents.document import Chunk, Document
from worker.engine.base import Question

TINY = ModelConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=128, vocab_size=32000, head_dim=16)
ROWS: list[dict[str, Any]] = []
DEADLINE = [float("inf")]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> float:
    """Median seconds of ``fn`` (device synchronised)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


PEAK = [0.0]


def peak_gb() -> float:
    if not torch.cuda.is_available():
        return float("nan")
    PEAK[0] = max(PEAK[0], torch.cuda.max_memory_allocated() / 1e9)
    return torch.cuda.max_memory_allocated() / 1e9


def reset_peak() -> None:
    if torch.cuda.is_available():
        peak_gb()
        torch.cuda.reset_peak_memory_stats()


def row(section: str, metric: str, value: float, unit: str, target: str = "", note: str = "") -> None:
    ROWS.append({"section": section, "metric": metric, "value": value, "unit": unit, "target": target,
                 "note": note})
    log(f"{section:10s} {metric:46s} {value:12.3f} {unit} {target} {note}")


def time_left(need: float) -> bool:
    ok = time.monotonic() + need < DEADLINE[0]
    if not ok:
        log(f"skipping: less than {need:.0f} s left")
    return ok


def doc_seqs(clara: ClaraModel, n: int, seed: int) -> list[list[int]]:
    """n encoder inputs of 256 document tokens each (random ids: the speed does not depend on them)."""
    g = torch.Generator().manual_seed(seed)
    tok = clara.tokenizer
    return [tok.encoder_ids("", 256)[:2] + torch.randint(3, 32000, (256,), generator=g).tolist()
            + [2] + tok.mem_ids for _ in range(n)]


def chunks_of(texts: list[str], name: str) -> list[Chunk]:
    document = Document(f"runbook:{name}", name, "\n".join(texts))
    return [Chunk(document, t, i + 1, i + 1, i) for i, t in enumerate(texts)]


# ---- ours ----------------------------------------------------------------------------------------
def bench_compress(clara: ClaraModel, label: str, sizes: tuple[int, ...], micro: int = 64, packed: bool = False,
                   adapter: str = ENCODER_ADAPTER, target: str = ">= 30000", fused: bool = False) -> float:
    rate = float("nan")
    for n in sizes:
        if not time_left(30):
            return rate
        seqs = doc_seqs(clara, n, n)
        t = timed(functools.partial(steps.encode_ids, clara, seqs, adapter, micro, packed, fused), repeat=3)
        rate = n * 256 / t
        row("compress", f"{label} {n} chunks x 256 tok (micro-batch {micro})", rate, "tok/s", target,
            f"{n / t:.1f} chunks/s")
    return rate


def compress_peak(clara: ClaraModel, label: str, micro: int) -> None:
    """GPU memory one compression micro-batch takes above what is already allocated."""
    if clara.device.type != "cuda":
        return
    seqs = doc_seqs(clara, micro, 5)
    steps.encode_ids(clara, seqs, ENCODER_ADAPTER, micro, packed=True)
    sync()
    base = torch.cuda.memory_allocated()
    reset_peak()
    steps.encode_ids(clara, seqs, ENCODER_ADAPTER, micro, packed=True)
    row("compress", f"{label}: peak memory of one {micro}-chunk micro-batch above the model", peak_gb() - base / 1e9,
        "GB")


@contextlib.contextmanager
def hold_nothing(layers: list[lora.LoraLinear | lora.FusedLinear], rows: int, dtype: torch.dtype) -> Iterator[None]:
    yield  # each call dequantises and corrects for itself, as before lora.held_weights


@contextlib.contextmanager
def whole_last_layer(clara: ClaraModel) -> Iterator[None]:
    """Compression as before round 6: the last layer computes every token, then the memory rows are taken."""
    forward = clara.model.forward

    def whole(x: torch.Tensor, positions: torch.Tensor, mask: Any, slots: Any = None, tail: int = 0) -> torch.Tensor:
        hidden = forward(x, positions, mask, slots)
        return hidden[:, mask.tail_rows(tail)] if tail else hidden

    clara.model.forward = whole  # type: ignore[method-assign]
    try:
        yield
    finally:
        del clara.model.forward


def compression_variants(clara: ClaraModel, name: str, n: int, micro: int) -> None:
    """Compression with the last layer computed at every token (before round 6); with the q/k/v and
    gate/up matmuls fused; as before the weight-side corrections (the encoder's low-rank term on the
    output at any row count, each MLP chunk dequantising for itself: lora.corrects_weight,
    lora.held_weights); and with the MLP in one pass instead of ``model.MLP_ROWS``-row chunks. Speed,
    and the memory a micro-batch takes."""
    compress_peak(clara, f"{name} packed", micro)
    with whole_last_layer(clara):
        bench_compress(clara, f"{name} packed, last layer at every token (before round 6)", (n,), micro,
                       packed=True, target="")
    bench_compress(clara, f"{name} packed, fused q/k/v and gate/up", (n,), micro, packed=True, target="", fused=True)
    weight_side, held = lora.corrects_weight, clara_model.held_weights
    lora.corrects_weight = lambda rows, in_features, out_features: False
    clara_model.held_weights = hold_nothing
    rows = clara_model.MLP_ROWS
    clara_model.MLP_ROWS = 4096
    try:
        label = f"{name} packed, low-rank terms on the output, MLP in 4096-row chunks (before)"
        bench_compress(clara, label, (n,), micro, packed=True, target="")
        compress_peak(clara, label, micro)
        lora.corrects_weight = weight_side
        label = f"{name} packed, low-rank terms by row count, MLP in 4096-row chunks, nothing held"
        bench_compress(clara, label, (n,), micro, packed=True, target="")
        compress_peak(clara, label, micro)
    finally:
        lora.corrects_weight, clara_model.held_weights, clara_model.MLP_ROWS = weight_side, held, rows
    clara_model.MLP_ROWS = 1 << 20
    try:
        label = f"{name} packed, MLP in one pass (no {rows}-row chunks)"
        bench_compress(clara, label, (n,), micro, packed=True, target="")
        compress_peak(clara, label, micro)
    finally:
        clara_model.MLP_ROWS = rows


def matmul_ceiling(clara: ClaraModel, micro: int) -> None:
    """The projections' matmuls alone (bf16, cuBLAS) for one packed micro-batch of 256-token chunks,
    every layer: the compression rate nothing else could beat at these shapes."""
    if not time_left(20):
        return
    rows = len(doc_seqs(clara, 1, 0)[0]) * micro
    d, f = clara.hidden_size, clara.model_config.intermediate_size
    x, h = torch.randn(rows, d, device=clara.device, dtype=clara.dtype), \
        torch.randn(rows, f, device=clara.device, dtype=clara.dtype)
    weights = [torch.randn(o, i, device=clara.device, dtype=clara.dtype) * 0.02
               for o, i in ((d, d), (d // 4, d), (d // 4, d), (d, d), (f, d), (f, d), (d, f))]
    layers = clara.model_config.num_hidden_layers

    def run() -> None:
        for _ in range(layers):
            for w in weights:
                torch.nn.functional.linear(h if w.shape[1] == f else x, w)

    t = timed(run, repeat=5)
    flops = 2 * rows * sum(w.numel() for w in weights) * layers
    row("compress", f"matmuls alone, {micro} chunks ({rows} rows) x {layers} layers (bf16 cuBLAS)",
        micro * 256 / t, "doc tok/s", "", f"{flops / t / 1e12:.0f} TFLOP/s over {rows} processed rows")


def prompt_batch(clara: ClaraModel, rows: int, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    memories = [torch.randn(k, clara.n_mem, clara.hidden_size, device=clara.device, dtype=clara.dtype)
                for _ in range(rows)]
    questions = [f"question {i}: how do I fail over the primary database without losing writes?"
                 for i in range(rows)]
    ids, valid = steps.build_prompts(clara, questions, [k] * rows)
    return steps.insert_memory(clara, ids, memories), valid


def bench_decode(clara: ClaraModel, label: str, generate: Callable[[torch.Tensor, torch.Tensor, int], list],
                 batches: tuple[int, ...] = (1, 8), new: int = 128, repeat: int = 3) -> dict[int, float]:
    rates: dict[int, float] = {}
    for rows in batches:
        if not time_left(15):
            return rates
        embeds, valid = prompt_batch(clara, rows)
        produced: list[list[int]] = []

        def full(embeds: torch.Tensor = embeds, valid: torch.Tensor = valid,
                 produced: list[list[int]] = produced) -> None:
            produced[:] = generate(embeds, valid, new)

        t_full = timed(full, repeat=repeat)
        t_prefill = timed(functools.partial(generate, embeds, valid, 1), repeat=repeat)
        steps_run = max(len(r) for r in produced)
        rate = rows * (steps_run - 1) / max(t_full - t_prefill, 1e-9)
        rates[rows] = rate
        row("decode", f"{label} batch {rows}", rate, "tok/s", ">= 120 (b1)" if rows == 1 else "",
            f"{steps_run} steps, prefill {t_prefill * 1e3:.0f} ms, total {t_full:.2f} s")
    return rates


def bench_retrieval(clara: ClaraModel) -> None:
    for n in (20, 2000):
        docs = torch.randn(n, clara.n_mem, clara.hidden_size, device=clara.device, dtype=clara.dtype)

        def one(docs: torch.Tensor = docs) -> None:
            query = steps.encode_questions(clara, ["how do I fail over the primary database?"])[0]
            steps.top_k(steps.score(query, docs), 5)

        row("retrieve", f"encode question + top-5 over {n} stored", timed(one, repeat=5) * 1e3, "ms")


def bench_engine(clara: ClaraModel, tiny: bool, label: str = "", compile_ops: bool = False,
                 engine: ClaraEngine | None = None, repeat: int = 3) -> float:
    """Cold / warm answers, 8 questions vs 1, and the peak memory of the engine in use -> the peak (GB)."""
    reset_peak()
    if engine is None:
        engine = ClaraEngine(clara, LocalMemoryStore(), max_new_tokens=128, fast=True, compile_ops=compile_ops)
    tok = clara.tokenizer
    sets = [[words_text(240 if not tiny else 60, tok, 100 * s + i) for i in range(20)] for s in range(6)]
    question = "how do I fail over the primary database and who restarts the billing workers?"
    engine.answer(question, chunks_of(sets[0], "warmup"))  # captures the decode graph of this shape
    cold, warm, cold_steps = [], [], []
    for s in range(1, 1 + repeat):
        sync()
        start = time.perf_counter()
        answer = engine.answer(question, chunks_of(sets[s], f"set{s}"))
        sync()
        cold.append(time.perf_counter() - start)
        cold_steps.append(dict(engine.timings))
        before = engine.compressed
        sync()
        start = time.perf_counter()
        engine.answer(question, chunks_of(sets[s], f"set{s}"))
        sync()
        warm.append(time.perf_counter() - start)
        assert engine.compressed == before
    n_tokens = tok.count_tokens(answer.text)
    row("e2e", f"{label}cold: 1 question, 20 new chunks, 128 new tok", statistics.median(cold), "s", "< 2",
        "steps " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in cold_steps[-1].items()) + f"; ~{n_tokens} tok")
    row("e2e", f"{label}warm: 1 question, 20 stored chunks, 128 new tok", statistics.median(warm), "s", "< 1.5")
    if not time_left(20):
        return float("nan")
    questions = [Question(f"{question} (variant {i})", chunks_of(sets[1 + i % 3], f"set{1 + i % 3}"))
                 for i in range(8)]
    one = timed(lambda: engine.answer_batch(questions[:1]), repeat=repeat)
    eight = timed(lambda: engine.answer_batch(questions), repeat=repeat)
    row("e2e", f"{label}answer_batch of 8 (warm) vs 1: throughput ratio", 8 * one / eight, "x", ">= 5",
        f"1: {one:.2f} s, 8: {eight:.2f} s")
    big = [words_text(250 if not tiny else 60, tok, 9000 + i) for i in range(64)]
    engine.memories(big)  # a full compression micro-batch of 64 new chunks, as a busy worker sees
    peak = peak_gb()
    row("memory", f"{label}peak GPU memory, engine in use (64-chunk compression, batch-8 answers)",
        peak, "GB", "< 20 (bf16), < 10 (int8, fp8)")
    return peak


# ---- baseline: transformers ----------------------------------------------------------------------
def hf_baseline(model_config: ModelConfig, vocab: int, device: torch.device, tiny: bool) -> None:
    import transformers

    config = transformers.MistralConfig(
        hidden_size=model_config.hidden_size, intermediate_size=model_config.intermediate_size,
        num_hidden_layers=model_config.num_hidden_layers, num_attention_heads=model_config.num_attention_heads,
        num_key_value_heads=model_config.num_key_value_heads, head_dim=model_config.dim_head,
        vocab_size=vocab, rms_norm_eps=1e-5, sliding_window=None, tie_word_embeddings=False,
        rope_theta=1e6)  # type: ignore[call-arg]  # taken through **kwargs; the typed fields omit it
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    started = time.perf_counter()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = transformers.MistralForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval().requires_grad_(False)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    try:
        import peft

        lora = peft.LoraConfig(r=16, lora_alpha=32, target_modules=targets, lora_dropout=0.0)
        model = peft.get_peft_model(model, lora, adapter_name="encoder_adapter")
        model.add_adapter("decoder_adapter", lora)
        model.add_adapter("query_reasoner_adapter", lora)
        for _, module in model.named_modules():  # peft starts B at zero: make the adapters real
            if hasattr(module, "lora_B") and not isinstance(module, torch.nn.ModuleDict):
                for adapter in module.lora_B:
                    torch.nn.init.normal_(module.lora_B[adapter].weight, std=0.01)
        model.eval()
        set_adapter = model.set_adapter
        lora_kind = f"peft {peft.__version__}"
        inner = model.base_model.model
    except ImportError:
        set_adapter = _wrap_lora(model, targets, device, dtype)
        lora_kind = "per-layer wrapper"
        inner = model
    sync()
    row("baseline", f"build (random init, LoRA: {lora_kind})", time.perf_counter() - started, "s")

    def compress(seqs: list[list[int]]) -> None:
        for start in range(0, len(seqs), 64):
            ids, valid = steps.left_pad(seqs[start:start + 64], device)
            with torch.no_grad():
                inner.model(input_ids=ids, attention_mask=valid.long(),
                            position_ids=positions_from_valid(valid)).last_hidden_state[:, -16:]

    set_adapter("encoder_adapter")
    g = torch.Generator().manual_seed(0)
    mem = list(range(32000, 32016))
    for n in (20, 64, 256):
        if not time_left(40):
            break
        seqs = [[32017, 1, *torch.randint(3, 32000, (256,), generator=g).tolist(), 2, *mem] for _ in range(n)]
        t = timed(functools.partial(compress, seqs), repeat=3)
        row("baseline", f"compress {n} chunks x 256 tok", n * 256 / t, "tok/s", "", f"{n / t:.1f} chunks/s")

    set_adapter("decoder_adapter")
    for rows in (1, 8):
        if not time_left(90):
            break
        embeds = torch.randn(rows, 150, config.hidden_size, device=device, dtype=dtype) * 0.02
        mask = torch.ones(rows, 150, dtype=torch.long, device=device)

        def gen(n: int, embeds: torch.Tensor = embeds, mask: torch.Tensor = mask) -> None:
            with torch.no_grad():
                model.generate(inputs_embeds=embeds, attention_mask=mask, do_sample=False, max_new_tokens=n,
                               min_new_tokens=n, pad_token_id=1, eos_token_id=2)

        t_full = timed(functools.partial(gen, 128), repeat=2)
        t_prefill = timed(functools.partial(gen, 1), repeat=2)
        row("baseline", f"decode generate() batch {rows}", rows * 127 / (t_full - t_prefill), "tok/s", "",
            f"total {t_full:.2f} s")
    if time_left(60):
        seqs = [[32017, 1, *torch.randint(3, 32000, (240,), generator=g).tolist(), 2, *mem] for _ in range(20)]
        embeds = torch.randn(1, 150, config.hidden_size, device=device, dtype=dtype) * 0.02

        def e2e() -> None:
            set_adapter("encoder_adapter")
            compress(seqs)
            set_adapter("query_reasoner_adapter")
            compress(seqs[:1])
            set_adapter("decoder_adapter")
            with torch.no_grad():
                model.generate(inputs_embeds=embeds, attention_mask=torch.ones(1, 150, dtype=torch.long,
                                                                               device=device),
                               do_sample=False, max_new_tokens=128, min_new_tokens=128, pad_token_id=1)

        row("baseline", "cold e2e: compress 20 + encode q + generate 128", timed(e2e, repeat=2), "s")
    row("baseline", "peak GPU memory, baseline (build included)", peak_gb(), "GB")


def _wrap_lora(model: torch.nn.Module, targets: list[str], device: torch.device, dtype: torch.dtype
               ) -> Callable[[str], None]:
    """The simplest LoRA: each target Linear wrapped, y = base(x) + B(A(x)) * 2 for the active adapter."""

    class Wrapped(torch.nn.Module):
        active: ClassVar[list[str]] = ["encoder_adapter"]

        def __init__(self, base: torch.nn.Linear) -> None:
            super().__init__()
            self.base = base
            self.a = torch.nn.ParameterDict({n: torch.nn.Parameter(
                torch.randn(16, base.in_features, device=device, dtype=dtype) * 0.01, requires_grad=False)
                for n in ("encoder_adapter", "decoder_adapter", "query_reasoner_adapter")})
            self.b = torch.nn.ParameterDict({n: torch.nn.Parameter(
                torch.randn(base.out_features, 16, device=device, dtype=dtype) * 0.01, requires_grad=False)
                for n in ("encoder_adapter", "decoder_adapter", "query_reasoner_adapter")})

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            name = self.active[0]
            return self.base(x) + (x @ self.a[name].T) @ self.b[name].T * 2

    for _, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in targets and isinstance(child, torch.nn.Linear):
                setattr(module, child_name, Wrapped(child))

    def set_adapter(name: str) -> None:
        Wrapped.active[0] = name

    return set_adapter


# ---- issue 15: weight formats ---------------------------------------------------------------------
QUALITY_DOCS, QUALITY_QUESTIONS, QUALITY_PROMPTS = 64, 16, 8


def quality_outputs(clara: ClaraModel, docs: list[str], questions: list[str],
                    memories: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """What the formats are compared on (host copies, float32): memory embeddings of ``docs`` and query
    embeddings (the engine's packed path), and the generator's next-token logits for prompts holding
    ``memories`` (the bf16 model's, so the generator alone is compared)."""
    out = {"memories": steps.compress(clara, docs, 64, packed=True).float().cpu(),
           "queries": steps.encode_questions(clara, questions, packed=True).float().cpu()}
    memories = out["memories"] if memories is None else memories
    k = 5
    asks = [f"question {i}: how do I fail over the primary database without losing writes?"
            for i in range(QUALITY_PROMPTS)]
    ids, valid = steps.build_prompts(clara, asks, [k] * QUALITY_PROMPTS)
    embeds = steps.insert_memory(clara, ids, [memories[k * i: k * i + k].to(clara.device) for i in range(len(asks))])
    model = clara.model
    model.set_adapter(DECODER_ADAPTER)
    model.use_fused(True)
    slots = torch.arange(ids.shape[1], device=clara.device)
    with torch.inference_mode():
        hidden = model(embeds, positions_from_valid(valid), attention_mask(valid, slots), None)
        out["logits"] = model.logits(hidden[:, -1]).cpu()
    return out


def compare_quality(label: str, got: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> dict[str, float]:
    cos = torch.nn.functional.cosine_similarity(got["memories"].flatten(1), ref["memories"].flatten(1), dim=-1)
    overlap, exact = [], []
    for q, q_ref in zip(got["queries"], ref["queries"], strict=True):
        top = steps.top_k(steps.score(q, got["memories"]), 5)[0]
        top_ref = steps.top_k(steps.score(q_ref, ref["memories"]), 5)[0]
        overlap.append(len(set(top) & set(top_ref)) / 5)
        exact.append(float(top == top_ref))
    logits, logits_ref = got["logits"], ref["logits"]
    relative = ((logits - logits_ref).norm(dim=-1) / logits_ref.norm(dim=-1)).mean()
    top1 = (logits.argmax(-1) == logits_ref.argmax(-1)).float().mean()
    top5 = statistics.mean(len(set(a.tolist()) & set(b.tolist())) / 5
                           for a, b in zip(logits.topk(5).indices, logits_ref.topk(5).indices, strict=True))
    result = {"cos_min": float(cos.min()), "cos_mean": float(cos.mean()), "top5_overlap": statistics.mean(overlap),
              "top5_exact": statistics.mean(exact), "logits_rel": float(relative), "logits_top1": float(top1),
              "logits_top5": top5}
    row("quality", f"{label}: memory-embedding cosine to bf16, min / mean over {len(cos)} chunks",
        result["cos_min"], "", ">= 0.995", f"mean {result['cos_mean']:.5f}")
    row("quality", f"{label}: retrieval top-5 vs bf16 ({len(overlap)} questions), overlap", result["top5_overlap"],
        "", "", f"same order {result['top5_exact']:.2f} (random weights: near-flat scores, fragile)")
    row("quality", f"{label}: next-token logits vs bf16, relative L2 error", result["logits_rel"], "", "",
        f"top-1 agreement {result['logits_top1']:.2f}, top-5 overlap {result['logits_top5']:.2f}")
    return result


def profile_decode(clara: ClaraModel, label: str, generate: Callable[[torch.Tensor, torch.Tensor, int], list]
                   ) -> None:
    """GPU kernels of one batch-1 decode step (as its CUDA graph replays them): count and time by kind,
    from the difference of two generations of different lengths (the prefill cancels out)."""
    from torch.profiler import ProfilerActivity, profile

    if not torch.cuda.is_available():
        return
    embeds, valid = prompt_batch(clara, 1)
    generate(embeds, valid, 48)
    totals, counts = [], []
    for new in (16, 48):
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            generate(embeds, valid, new)
            sync()
        kinds: dict[str, list[float]] = {"matmul": [0, 0.0], "attention": [0, 0.0], "other": [0, 0.0]}
        names: dict[str, list[float]] = {}
        for event in prof.events():
            if event.device_type != torch.autograd.DeviceType.CUDA:
                continue
            spent = getattr(event, "device_time", 0.0) or getattr(event, "cuda_time", 0.0)
            entry = names.setdefault(event.name[:60], [0, 0.0])
            entry[0] += 1
            entry[1] += spent
            name = event.name.lower()
            kind = ("matmul" if any(k in name for k in ("gemm", "gemv", "cutlass", "nvjet", "xmma", "weight_only"))
                    else "attention" if any(k in name for k in ("fmha", "flash", "attention"))
                    else "other")
            kinds[kind][0] += 1
            kinds[kind][1] += spent
        totals.append(kinds)
        counts.append(names)
    steps_between = 32
    count = sum(totals[1][k][0] - totals[0][k][0] for k in totals[0]) / steps_between
    parts = ", ".join(f"{k} {(totals[1][k][0] - totals[0][k][0]) / steps_between:.0f} kernels "
                      f"{(totals[1][k][1] - totals[0][k][1]) / steps_between:.0f} us" for k in totals[0])
    busy = sum(totals[1][k][1] - totals[0][k][1] for k in totals[0]) / steps_between
    row("profile", f"{label}: GPU kernels per batch-1 decode step", count, "kernels", "",
        f"GPU busy {busy:.0f} us/step; {parts}")
    per_step = {name: ((n - counts[0].get(name, [0, 0.0])[0]) / steps_between,
                       (t - counts[0].get(name, [0, 0.0])[1]) / steps_between) for name, (n, t) in counts[1].items()}
    for name, (n, spent) in sorted(per_step.items(), key=lambda item: -item[1][1])[:14]:
        log(f"    {label} kernel per step: {n:5.1f} x {name}: {spent:7.1f} us")


def formats(names: list[str], device: torch.device, dtype: torch.dtype, model_config: ModelConfig,
            tiny: bool, reference_path: Path) -> None:
    """The engine as the worker runs it, once per weight format (module docstring). bf16 writes its
    outputs and figures to ``reference_path``; the other formats compare with them, so each format may
    run in a process of its own (clean peak-memory figures) within one machine session."""
    torch._dynamo.config.recompile_limit = 32  # the decode layer compiles twice per format
    for name in names:
        if not time_left(30):
            break
        reference = torch.load(reference_path) if name != "bf16" and reference_path.is_file() else None
        try:
            result = one_format(name, device, dtype, model_config, tiny,
                                None if reference is None else reference["outputs"])
        except Exception as error:  # a format that fails must not hide the others
            log(f"{name} failed: {type(error).__name__}: {error}")
            continue
        finally:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        if name == "bf16":
            reference_path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"outputs": result.pop("reference"), "figures": result}, reference_path)
        elif reference is not None:
            base = reference["figures"]
            for key, label in (("decode1", "decode batch 1"), ("decode8", "decode batch 8"),
                               ("compress", "compression 256 chunks"), ("peak", "engine peak memory")):
                if key in result and key in base:
                    row("ratio", f"{name} / bf16: {label}", result[key] / base[key], "x",
                        ">= 1.5" if key == "decode1" else "")


PDL_SAVED: dict[str, bool] = {}  # the GEMVs' PDL per format while "PDL off" runs


def ablation_switch(label: str, clara: ClaraModel, on: bool) -> None:
    """Turn the part of the decode step that ``decode_ablation``'s label names on (as the engine runs) or off."""
    from worker.clara import kernels

    if label == "PDL off":
        if not on:
            PDL_SAVED.update(kernels.GEMV_PDL)
        kernels.GEMV_PDL.update(PDL_SAVED if on else dict.fromkeys(kernels.GEMV_PDL, False))
    elif label.startswith("attention"):
        clara.model.use_gemv(True, attention=on)
    elif label.startswith("RoPE"):
        clara.model.use_gemv(True, rope=on)
    else:
        clara.model.use_gemv(on)


def decode_ablation(names: list[str], device: torch.device, dtype: torch.dtype, model_config: ModelConfig) -> None:
    """Batch-1 decoding per format, in one process: the engine as the worker runs it (GEMV layers with
    RoPE in the q/k/v kernel, the decode attention kernel, programmatic dependent launch), then without
    PDL, with SDPA for attention, without the RoPE fusion, and with the compiled layers the GEMV layers
    replaced."""
    torch._dynamo.config.recompile_limit = 32
    rates: dict[str, float] = {}
    for name in names:
        if not time_left(60):
            break
        clara, _ = random_clara(device, dtype, "e2e", 16, model_config, weight_format=name)
        engine = ClaraEngine(clara, LocalMemoryStore(), max_new_tokens=128, fast=True)
        started = time.perf_counter()
        engine.warm_up()
        row("load", f"{name}: engine warm-up (compiles, autotunes, decode graphs)", time.perf_counter() - started, "s")
        assert engine.decoder is not None
        on = bench_decode(clara, f"{name} GEMV layers", engine.decoder.generate, batches=(1,))
        profile_decode(clara, f"{name} GEMV layers", engine.decoder.generate)
        del engine
        if 1 in on:
            rates[name] = on[1]
        if name != "bf16" and name in rates and "bf16" in rates:
            row("ratio", f"{name} / bf16 batch-1 decode (GEMV layers)", rates[name] / rates["bf16"], "x", ">= 1.5")
        for label in ("PDL off", "attention by SDPA (not the decode kernel)", "RoPE and cache writes unfused",
                      "GEMV layers off (compiled layers)"):
            if not time_left(30):
                break
            ablation_switch(label, clara, False)
            try:
                decoder = StaticDecoder(clara)
                off = bench_decode(clara, f"{name} {label}", decoder.generate, batches=(1,))
                if label.startswith("GEMV layers off"):
                    profile_decode(clara, f"{name} {label}", decoder.generate)
                del decoder
                if 1 in on and 1 in off:
                    row("ratio", f"{name} batch-1 decode: engine / {label}", on[1] / off[1], "x")
            except Exception as error:  # one variant failing must not hide the others
                log(f"{name} {label} failed: {type(error).__name__}: {str(error)[:300]}")
            finally:
                ablation_switch(label, clara, True)
        del clara
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def one_format(name: str, device: torch.device, dtype: torch.dtype, model_config: ModelConfig, tiny: bool,
               reference: dict[str, torch.Tensor] | None) -> dict:
    result: dict = {}
    reset_peak()
    clara, build_s = random_clara(device, dtype, "e2e", 16, model_config, weight_format=name)
    row("load", f"{name}: build random CLaRa-7B-E2E c16 (quantized on the way to the device)", build_s, "s")
    row("load", f"{name}: GPU memory after build (peak during build)", torch.cuda.memory_allocated() / 1e9
        if torch.cuda.is_available() else float("nan"), "GB", "", f"peak {peak_gb():.2f} GB")
    started = time.perf_counter()
    # the worker's defaults on CUDA; the CPU has no CUDA graphs or compile: the same fast path, eagerly
    engine = ClaraEngine(clara, LocalMemoryStore(), max_new_tokens=128, fast=True)
    engine.warm_up()
    row("load", f"{name}: engine warm-up (compiles, decode graphs)", time.perf_counter() - started, "s")
    assert engine.decoder is not None
    sizes = (20,) if tiny else (64, 256) if name == "bf16" else (256,)
    micro = engine.compress_batch_size
    result["compress"] = bench_compress(clara, f"{name} packed", sizes, micro, packed=True, target=">= 45000 (bf16)")
    if name == "int8" or tiny:
        # what the encoder's low-rank correction (rank 2r: -ΔD + ΔE, bf16) costs: the decoder role, merged, has none
        plain = bench_compress(clara, f"{name} packed, decoder role (no correction)", sizes[-1:], micro,
                               packed=True, adapter=DECODER_ADAPTER, target="")
        row("compress", f"{name}: cost of the encoder's rank-2r correction", 100 * (plain / result["compress"] - 1),
            "%", "", "decoder-role rate / encoder-role rate - 1")
    if name in ("bf16", "int8") or tiny:
        compression_variants(clara, name, sizes[-1], micro)
    if name == "bf16" or tiny:
        matmul_ceiling(clara, micro)
    rates = bench_decode(clara, f"{name} engine decoder", engine.decoder.generate)
    result.update({f"decode{k}": v for k, v in rates.items()})
    profile_decode(clara, name, engine.decoder.generate)
    if name == "bf16":  # the same engine without this decode and compression changes
        bench_compress(clara, "bf16 padded (before issue 15)", sizes[-1:], 64, packed=False)
        bench_compress(clara, "bf16 packed, micro-batch 32 (before round 6)", sizes[-1:], 32, packed=True, target="")
        clara.model.compile_decode(None)
        clara.model.use_gemv(False)
        before = StaticDecoder(clara)
        old = bench_decode(clara, "bf16 decoder before issue 15 (eager layers, cuBLAS, in the graph)",
                           before.generate)
        profile_decode(clara, "bf16 before issue 15", before.generate)
        del before
        clara.model.use_gemv(device.type == "cuda")
        if engine.compile_ops:
            clara.model.compile_decode()
        for rows in old:
            if rows in rates:
                row("ratio", f"bf16 decode batch {rows}: this issue / before", rates[rows] / old[rows], "x")
    docs = [words_text(250 if not tiny else 60, clara.tokenizer, 9000 + i) for i in range(QUALITY_DOCS)]
    questions = [words_text(24, clara.tokenizer, 700 + i) for i in range(QUALITY_QUESTIONS)]
    outputs = quality_outputs(clara, docs, questions, None if reference is None else reference["memories"])
    if reference is None:
        result["reference"] = outputs
        padded = steps.compress(clara, docs, engine.compress_batch_size, packed=False).float().cpu()
        cos = torch.nn.functional.cosine_similarity(padded.flatten(1), outputs["memories"].flatten(1), dim=-1)
        row("quality", "bf16 noise floor: padded vs packed compression (same weights), cosine min",
            float(cos.min()), "", "", f"mean {float(cos.mean()):.5f}: what bf16 rounding order alone moves")
    else:
        result.update(compare_quality(name, outputs, reference))
    if time_left(25):
        result["peak"] = bench_engine(clara, tiny, f"{name}: ", engine=engine, repeat=2)
    del engine, clara
    return result


# ---- main ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="2-layer model on the CPU (checks the script)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--budget", type=float, default=520.0, help="seconds; later sections are skipped")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--compile", action="store_true", help="also try compile_elementwise()")
    parser.add_argument("--compile-stack", action="store_true", help="also torch.compile the whole layer stack (slow)")
    parser.add_argument("--ablation", action="store_true", help="only: each fast path on/off (decode, compress)")
    parser.add_argument("--decode-ablation", action="store_true",
                        help="with --formats: only batch-1 decoding with the GEMV layers on and off")
    parser.add_argument("--formats", help="issue 15: e.g. bf16,int8,fp8 (the engine in each weight format)")
    parser.add_argument("--reference", type=Path, default=Path("/tmp/clara_perf_bf16_reference.pt"),
                        help="--formats: where bf16 leaves its outputs for the other formats")
    args = parser.parse_args()
    DEADLINE[0] = time.monotonic() + args.budget
    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    model_config = TINY if args.tiny else MISTRAL_7B
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    if device.type == "cuda":
        log(f"{torch.cuda.get_device_name()} torch {torch.__version__}")
    torch.backends.cuda.matmul.allow_tf32 = True
    if args.formats and args.decode_ablation:
        decode_ablation(args.formats.split(","), device, dtype, model_config)
        write_table(args.out, "clara_decode_ablation.json")
        return 0
    if args.formats:
        formats(args.formats.split(","), device, dtype, model_config, args.tiny, args.reference)
        write_table(args.out, f"clara_perf_{args.formats.replace(',', '_')}.json")
        return 0

    clara, build_s = random_clara(device, dtype, "e2e", 16, model_config)
    row("load", "build random CLaRa-7B-E2E c16 via assemble()", build_s, "s")
    row("load", "GPU memory after build", peak_gb(), "GB")
    if args.ablation:
        ablation(clara, device)
        write_table(args.out)
        return 0
    sizes = (20, 64, 256) if not args.tiny else (20, 64)

    # 1. plain path: unmerged LoRA (rank r) in every layer, separate projections, eager decoding
    bench_compress(clara, "plain LoRA", (256,) if not args.tiny else (20,))
    bench_decode(clara, "plain (unmerged LoRA, eager)",
                 functools.partial(steps.generate, clara), repeat=1)
    # 2. decoder adapter merged into the weights; other roles pay a rank-2r correction
    clara.model.merge_adapter(DECODER_ADAPTER)
    bench_compress(clara, "merged-dec + 2r correction", (256,) if not args.tiny else (20,))
    bench_decode(clara, "merged decoder, static cache, eager", StaticDecoder(clara, use_graphs=False).generate,
                 batches=(1,), repeat=1)
    # 3. + fused q/k/v and gate/up matmuls
    clara.model.fuse_projections()
    if not args.tiny and time_left(60):
        bench_compress(clara, "merged-dec (compression stays unfused)", (256,), micro=128)
    bench_decode(clara, "merged + fused, static cache, eager", StaticDecoder(clara, use_graphs=False).generate,
                 batches=(1,), repeat=1)
    # 4. + CUDA graph of the decode step
    if device.type == "cuda":
        graphs = StaticDecoder(clara, use_graphs=True)
        bench_decode(clara, "merged + fused, static cache, CUDA graph", graphs.generate)
        del graphs
    bench_retrieval(clara)
    if time_left(90):
        bench_engine(clara, args.tiny)
    if device.type == "cuda" and args.compile and time_left(200):
        try:  # inductor-fused RMSNorm, RoPE and SwiGLU (three small graphs shared by every layer)
            from worker.clara.model import compile_elementwise

            start = time.perf_counter()
            compile_elementwise()
            steps.encode_ids(clara, doc_seqs(clara, 64, 7), ENCODER_ADAPTER, 64)
            compiled = StaticDecoder(clara, use_graphs=True)
            embeds, valid = prompt_batch(clara, 1)
            compiled.generate(embeds, valid, 8)
            sync()
            row("compile", "compile_elementwise: first compress + decode (compiles)",
                time.perf_counter() - start, "s")
            bench_compress(clara, "merged + compiled elementwise", sizes)
            bench_decode(clara, "merged + fused + compiled elementwise, CUDA graph", compiled.generate)
            del compiled
            if time_left(90):
                bench_engine(clara, args.tiny, "compiled elementwise: ", compile_ops=True)
        except Exception as error:
            log(f"compile_elementwise failed: {type(error).__name__}: {error}")
    if device.type == "cuda" and args.compile_stack and time_left(240):
        try:  # experimental: inductor-fused elementwise work in the cache-less passes
            start = time.perf_counter()
            compile_stack(clara)
            steps.encode_ids(clara, doc_seqs(clara, 64, 7), ENCODER_ADAPTER, 64)
            sync()
            row("compile", "torch.compile layer stack: first call (compiles)", time.perf_counter() - start, "s")
            bench_compress(clara, "merged + fused + torch.compile", (64, 256))
        except Exception as error:
            log(f"compile failed: {type(error).__name__}: {error}")

    peak_gb()
    row("memory", "peak GPU memory of the whole benchmark (incl. 128-chunk micro-batches)", PEAK[0], "GB")
    vocab = clara.tokenizer.vocab_size
    del clara
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    if not args.no_baseline and time_left(120):
        try:
            hf_baseline(model_config, vocab, device, args.tiny)
        except Exception as error:  # the baseline is informative only
            log(f"baseline failed: {type(error).__name__}: {error}")

    write_table(args.out)
    return 0


def compile_stack(clara: ClaraModel) -> None:
    """Experiment (not kept: 142 s of compile per role for +2 % compression, docs/performance.md):
    torch.compile of every layer forward of the cache-less passes."""
    for layer in clara.model.model.layers:
        layer.forward = torch.compile(layer.forward, dynamic=True)


def write_table(out: Path, name: str = "clara_perf.json") -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(json.dumps(ROWS, indent=1))
    print("\n| section | metric | value | unit | target | note |\n|---|---|---|---|---|---|")
    for r in ROWS:
        print(f"| {r['section']} | {r['metric']} | {r['value']:.3f} | {r['unit']} | {r['target']} | {r['note']} |")


def ablation(clara: ClaraModel, device: torch.device) -> None:
    """Each fast path on and off under CUDA graphs and compiled ops: does it pay on its own?"""
    from worker.clara.model import compile_elementwise

    model = clara.model
    graphs = device.type == "cuda"

    def decode(label: str) -> None:
        bench_decode(clara, label, StaticDecoder(clara, use_graphs=graphs).generate, repeat=3)

    decode("A: unmerged LoRA, unfused, graph")
    model.merge_adapter(DECODER_ADAPTER)
    decode("B: merged, unfused, graph")
    model.fuse_projections()
    decode("C: merged, fused, graph")
    if graphs:
        compile_elementwise()
        steps.encode_ids(clara, doc_seqs(clara, 64, 7), ENCODER_ADAPTER, 64)  # compiles
        bench_compress(clara, "compiled ops, merged (compression never uses the fused matmuls)", (256,))
        decode("E: merged, fused, graph, compiled ops")
        model.merge_adapter(None)
        bench_compress(clara, "compiled ops, unmerged (r correction), unfused", (256,))


if __name__ == "__main__":
    sys.exit(main())
