#!/usr/bin/env python
"""Issue 5: CLaRa engine speed on a GPU with random weights of the real CLaRa-7B shapes, beside a
plain-transformers baseline (MistralForCausalLM + generate(), LoRA via peft or a per-layer wrapper)
measured in the same run. Prints a table last; ``--out DIR`` also writes clara_perf.json there.

    python bench/clara_perf.py --out "$OUT"           # on the GPU machine
    python bench/clara_perf.py --tiny                 # a 2-layer model on the CPU: checks the script
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from clara_random import MISTRAL_7B, random_clara, words_text

from worker.clara import steps
from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER, ENCODER_ADAPTER
from worker.clara.decode import StaticDecoder
from worker.clara.engine import ClaraEngine
from worker.clara.model import ModelConfig, positions_from_valid
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
def bench_compress(clara: ClaraModel, label: str, sizes: tuple[int, ...], micro: int = 64) -> None:
    for n in sizes:
        if not time_left(30):
            return
        seqs = doc_seqs(clara, n, n)
        t = timed(functools.partial(steps.encode_ids, clara, seqs, ENCODER_ADAPTER, micro), repeat=3)
        row("compress", f"{label} {n} chunks x 256 tok (micro-batch {micro})", n * 256 / t, "tok/s",
            ">= 30000", f"{n / t:.1f} chunks/s")


def prompt_batch(clara: ClaraModel, rows: int, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    memories = [torch.randn(k, clara.n_mem, clara.hidden_size, device=clara.device, dtype=clara.dtype)
                for _ in range(rows)]
    questions = [f"question {i}: how do I fail over the primary database without losing writes?"
                 for i in range(rows)]
    ids, valid = steps.build_prompts(clara, questions, [k] * rows)
    return steps.insert_memory(clara, ids, memories), valid


def bench_decode(clara: ClaraModel, label: str, generate: Callable[[torch.Tensor, torch.Tensor, int], list],
                 batches: tuple[int, ...] = (1, 8), new: int = 128, repeat: int = 3) -> None:
    for rows in batches:
        if not time_left(60):
            return
        embeds, valid = prompt_batch(clara, rows)
        produced: list[list[int]] = []

        def full(embeds: torch.Tensor = embeds, valid: torch.Tensor = valid,
                 produced: list[list[int]] = produced) -> None:
            produced[:] = generate(embeds, valid, new)

        t_full = timed(full, repeat=repeat)
        t_prefill = timed(functools.partial(generate, embeds, valid, 1), repeat=repeat)
        steps_run = max(len(r) for r in produced)
        rate = rows * (steps_run - 1) / max(t_full - t_prefill, 1e-9)
        row("decode", f"{label} batch {rows}", rate, "tok/s", ">= 120 (b1)" if rows == 1 else "",
            f"{steps_run} steps, prefill {t_prefill * 1e3:.0f} ms, total {t_full:.2f} s")


def bench_retrieval(clara: ClaraModel) -> None:
    for n in (20, 2000):
        docs = torch.randn(n, clara.n_mem, clara.hidden_size, device=clara.device, dtype=clara.dtype)

        def one(docs: torch.Tensor = docs) -> None:
            query = steps.encode_questions(clara, ["how do I fail over the primary database?"])[0]
            steps.top_k(steps.score(query, docs), 5)

        row("retrieve", f"encode question + top-5 over {n} stored", timed(one, repeat=5) * 1e3, "ms")


def bench_engine(clara: ClaraModel, tiny: bool, label: str = "", compile_ops: bool = False) -> None:
    reset_peak()
    engine = ClaraEngine(clara, LocalMemoryStore(), max_new_tokens=128, fast=True, compile_ops=compile_ops)
    tok = clara.tokenizer
    sets = [[words_text(240 if not tiny else 60, tok, 100 * s + i) for i in range(20)] for s in range(6)]
    question = "how do I fail over the primary database and who restarts the billing workers?"
    engine.answer(question, chunks_of(sets[0], "warmup"))  # captures the decode graph of this shape
    cold, warm, cold_steps = [], [], []
    for s in range(1, 4):
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
    if not time_left(60):
        return
    questions = [Question(f"{question} (variant {i})", chunks_of(sets[1 + i % 3], f"set{1 + i % 3}"))
                 for i in range(8)]
    one = timed(lambda: engine.answer_batch(questions[:1]), repeat=3)
    eight = timed(lambda: engine.answer_batch(questions), repeat=3)
    row("e2e", f"{label}answer_batch of 8 (warm) vs 1: throughput ratio", 8 * one / eight, "x", ">= 5",
        f"1: {one:.2f} s, 8: {eight:.2f} s")
    big = [words_text(250 if not tiny else 60, tok, 9000 + i) for i in range(64)]
    engine.memories(big)  # a full compression micro-batch of 64 new chunks, as a busy worker sees
    row("memory", f"{label}peak GPU memory, engine in use (64-chunk compression, batch-8 answers)",
        peak_gb(), "GB", "< 20")


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


# ---- main ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="2-layer model on the CPU (checks the script)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--budget", type=float, default=520.0, help="seconds; later sections are skipped")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--compile", action="store_true", help="also try compile_elementwise()")
    parser.add_argument("--compile-stack", action="store_true", help="also try compile_prefill() (slow)")
    parser.add_argument("--ablation", action="store_true", help="only: each fast path on/off (decode, compress)")
    args = parser.parse_args()
    DEADLINE[0] = time.monotonic() + args.budget
    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    model_config = TINY if args.tiny else MISTRAL_7B
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    if device.type == "cuda":
        log(f"{torch.cuda.get_device_name()} torch {torch.__version__}")
    torch.backends.cuda.matmul.allow_tf32 = True

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
            clara.model.compile_prefill()
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


def write_table(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "clara_perf.json").write_text(json.dumps(ROWS, indent=1))
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
