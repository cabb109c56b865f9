#!/usr/bin/env python
"""Issue 3 smoke run on a GPU: the real loader on tiny files (on the device), then an engine over a
randomly initialised model of the real CLaRa-7B shapes built through the loader's ``assemble``; it
answers questions over some chunks, then a burst of concurrent questions through the worker's
``AnswerBatcher`` (engine + store + batcher, as ``worker/runtime.py`` wires them), and prints load
time, peak GPU memory and the compress / answer timings.

Issue 15: ``--weights int8`` (or fp8) quantizes the projections at load; ``--memory-cap-gib 15``
simulates a 16 GB card (``torch.cuda.set_per_process_memory_fraction``: the caching allocator may hold
at most that much, which is about what a 16 GB card leaves after the CUDA context).

    python bench/clara_smoke.py                                      # CUDA if available, else a tiny model on the CPU
    python bench/clara_smoke.py --weights int8 --memory-cap-gib 15   # CLaRa-7B on a simulated 16 GB card
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from clara_random import MISTRAL_7B, random_clara, words_text

from worker.batching import AnswerBatcher
from worker.clara import steps
from worker.clara.checkpoint import load_clara
from worker.clara.engine import ClaraEngine
from worker.clara.model import ModelConfig
from worker.clara.store import LocalMemoryStore
from worker.documents.document import Chunk, Document
from worker.engine.base import Question

TINY = ModelConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=128, vocab_size=32000, head_dim=16)


def main() -> int:
    import tiny_checkpoint  # tests/clara, put on sys.path by clara_random

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="bf16", choices=("bf16", "int8", "fp8"))
    parser.add_argument("--memory-cap-gib", type=float, help="cap the process's GPU memory (a smaller card)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    rows: list[tuple[str, str]] = [("device", torch.cuda.get_device_name() if cuda else "cpu (tiny model)"),
                                   ("weights", args.weights)]
    if cuda and args.memory_cap_gib:
        card = torch.cuda.get_device_properties(device).total_memory
        torch.cuda.set_per_process_memory_fraction(args.memory_cap_gib * (1 << 30) / card, torch.cuda.current_device())
        rows.append(("GPU memory cap", f"{args.memory_cap_gib:.1f} GiB of {card / (1 << 30):.1f} GiB"))

    with tempfile.TemporaryDirectory() as tmp:
        base = tiny_checkpoint.make_base(Path(tmp) / "base")
        checkpoint = tiny_checkpoint.make_checkpoint(Path(tmp) / "e2e-16", base, "e2e", 16)
        start = time.perf_counter()
        tiny = load_clara(checkpoint, base, device, weights=args.weights)
        rows.append(("loader on tiny files (real layout)", f"{time.perf_counter() - start:.2f} s, {tiny.dtype}"))
        rows.append(("tiny compress shape", str(tuple(steps.compress(tiny, ["hello"]).shape))))
        del tiny

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    clara, build = random_clara(device, torch.bfloat16 if cuda else torch.float32, "e2e", 16,
                                MISTRAL_7B if cuda else TINY, weight_format=args.weights)
    rows.append(("build CLaRa-7B shapes (random)", f"{build:.2f} s"))
    if cuda:
        rows.append(("GPU memory after build (peak)", f"{torch.cuda.memory_allocated() / 1e9:.2f} GB "
                     f"({torch.cuda.max_memory_allocated() / 1e9:.2f} GB)"))
    engine = ClaraEngine(clara, LocalMemoryStore(), max_new_tokens=64)  # fast paths on CUDA
    start = time.perf_counter()
    engine.warm_up()
    print("--- warm-up done", file=sys.stderr, flush=True)
    rows.append(("engine warm-up (compile, decode graphs)", f"{time.perf_counter() - start:.2f} s, "
                 f"fast={engine.fast} compile_ops={engine.compile_ops}"))
    texts = [words_text(240, clara.tokenizer, i) for i in range(20)]
    document = Document("runbook:ops.md", "Ops", "\n".join(texts))
    chunks = [Chunk(document, t, i + 1, i + 1, i) for i, t in enumerate(texts)]
    for label in ("first answer (compresses 20 chunks)", "second answer (all 20 stored)"):
        start = time.perf_counter()
        answer = engine.answer("How do I fail over the primary database?", chunks)
        if cuda:
            torch.cuda.synchronize()
        total = time.perf_counter() - start
        parts = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in engine.timings.items())
        rows.append((label, f"{total:.2f} s ({parts})"))
    citations = ", ".join(f"{c.chunk.chunk_id}={c.score:.3f}" for c in answer.citations)
    # shapes the warm-up did not see: other chunk counts and question lengths (recompiles would show)
    for n, question in ((7, "Why is checkout slow?"),
                        (33, "The payments API p99 latency doubled after the deploy at 14:05; what do I check "
                             "first, and when do I roll back?")):
        more = [Chunk(document, words_text(200 + 5 * i, clara.tokenizer, 100 + n + i), i, i, i) for i in range(n)]
        start = time.perf_counter()
        engine.answer(question, more)
        if cuda:
            torch.cuda.synchronize()
        parts = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in engine.timings.items())
        rows.append((f"answer over {n} new chunks", f"{time.perf_counter() - start:.2f} s ({parts})"))
    # the worker's path: concurrent job threads -> AnswerBatcher -> one engine call per batch
    batcher = AnswerBatcher(engine, max_batch=8)
    burst = [Question(f"{question} ({i})", [Chunk(document, words_text(230, clara.tokenizer, 300 + 20 * i + j), j,
                                                   j, j) for j in range(12)])
             for i, question in enumerate(["How do I fail over the primary database?", "Why is checkout slow?"] * 4)]
    start = time.perf_counter()
    with ThreadPoolExecutor(len(burst)) as pool:
        answers = list(pool.map(lambda q: batcher.answer(q, timeout=300), burst))
    rows.append((f"{len(burst)} concurrent questions via AnswerBatcher",
                 f"{time.perf_counter() - start:.2f} s, batches {batcher.batch_sizes}, "
                 f"{sum(bool(a.text) for a in answers)} answered"))
    rows.append(("citations (second answer)", citations))
    rows.append(("answer (random weights: gibberish)", repr(answer.text[:60])))
    rows.append(("chunks compressed", str(engine.compressed)))
    if cuda:
        rows.append(("peak GPU memory (allocated / reserved)", f"{torch.cuda.max_memory_allocated() / 1e9:.2f} GB / "
                     f"{torch.cuda.max_memory_reserved() / 1e9:.2f} GB"))
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
