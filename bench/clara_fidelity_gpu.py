#!/usr/bin/env python
"""Issue 14: how far the bf16 fast path (decoder adapter merged into the weights, fused q/k/v and gate/up,
packed compression, static-cache decoding with CUDA graphs, compiled elementwise ops and decode layers)
moves CLaRa-7B's results from the plain bf16 path (adapters unmerged, nothing fused), on random weights of
the real shapes (``clara_random``).

Compared on the same inputs: memory embeddings (20 documents of ~240 tokens), query embeddings, retrieval
scores and top-5, the generator's logits along a 32-token continuation (teacher-forced: the plain path's
greedy ids), and the greedy ids themselves. Prints JSON; ``--out DIR`` also writes clara_fidelity_gpu.json.

    python bench/clara_fidelity_gpu.py --out "$OUT"      # on the GPU machine (results: docs/clara.md)
    python bench/clara_fidelity_gpu.py --tiny            # a 2-layer model in bf16 on the CPU: checks the script
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from clara_perf import TINY
from clara_random import MISTRAL_7B, random_clara, words_text

from worker.clara import steps
from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER
from worker.clara.engine import ClaraEngine
from worker.clara.model import attention_mask, plain_elementwise, positions_from_valid

K = 5


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float32."""
    return float((a.float() - b.float()).norm() / b.float().norm())


def min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """The smallest cosine between matching rows of a and b, flattened per row."""
    return float(torch.nn.functional.cosine_similarity(a.float().flatten(1), b.float().flatten(1), dim=-1).min())


@torch.inference_mode()
def forced_logits(clara: ClaraModel, embeds: torch.Tensor, valid: torch.Tensor, continuation: torch.Tensor
                  ) -> torch.Tensor:
    """The generator's logits at each step of a given continuation: prompt embeds [B, T, D] (left-padded,
    valid [B, T]) + continuation ids [B, L] -> [B, L, V] float32 (the prediction of each next token)."""
    model = clara.model
    model.set_adapter(DECODER_ADAPTER)
    model.use_fused(True)  # no-op before fuse_projections
    x = torch.cat([embeds, model.embed(continuation)], dim=1)  # [B, T + L, D]
    full_valid = torch.cat([valid, torch.ones_like(continuation, dtype=torch.bool)], dim=1)
    slots = torch.arange(x.shape[1], device=x.device)
    hidden = model(x, positions_from_valid(full_valid), attention_mask(full_valid, slots))  # [B, T + L, D]
    t, n = valid.shape[1], continuation.shape[1]
    return model.logits(hidden[:, t - 1: t - 1 + n])  # [B, L, V]


def padded(rows: list[list[int]], length: int, device: torch.device, fill: int = 2) -> torch.Tensor:
    return torch.tensor([(row + [fill] * length)[:length] for row in rows], device=device)


def run(clara: ClaraModel, docs: list[str], questions: list[str], new_tokens: int, compile_ops: bool
        ) -> dict[str, Any]:
    device = clara.device
    # ---- plain path: adapters unmerged, nothing fused, eager decoding ----------------------------
    plain_memory = steps.compress(clara, docs)  # [N, M, D]
    plain_query = steps.encode_questions(clara, questions)  # [B, M, D]
    plain_scores = torch.stack([steps.score(q, plain_memory) for q in plain_query])  # [B, N]
    plain_top = [steps.top_k(row, K)[0] for row in plain_scores]
    ids, valid = steps.build_prompts(clara, questions, [K] * len(questions))
    embeds = steps.insert_memory(clara, ids, [plain_memory[rows] for rows in plain_top])  # [B, T, D]
    plain_greedy = steps.generate(clara, embeds, valid, new_tokens)
    continuation = padded(plain_greedy, new_tokens, device)  # [B, L]
    plain_logits = forced_logits(clara, embeds, valid, continuation)  # [B, L, V]

    # ---- fast path: what the worker runs on CUDA -------------------------------------------------
    started = time.perf_counter()
    engine = ClaraEngine(clara, fast=True, compile_ops=compile_ops)
    assert engine.decoder is not None
    fast_memory = steps.compress(clara, docs, engine.compress_batch_size, packed=True)  # as the engine does
    fast_query = steps.encode_questions(clara, questions, packed=True)
    fast_scores = torch.stack([steps.score(q, fast_memory) for q in fast_query])
    fast_top = [steps.top_k(row, K)[0] for row in fast_scores]
    fast_logits = forced_logits(clara, embeds, valid, continuation)  # same inputs as the plain path
    fast_greedy = engine.decoder.generate(embeds, valid, new_tokens)  # same inputs; CUDA graphs on CUDA
    fast_embeds = steps.insert_memory(clara, ids, [fast_memory[rows] for rows in fast_top])
    end_to_end = engine.decoder.generate(fast_embeds, valid, new_tokens)  # its own memories and top-5
    fast_s = time.perf_counter() - started

    top5 = plain_logits.topk(5, dim=-1).indices.sort(dim=-1).values
    fast5 = fast_logits.topk(5, dim=-1).indices.sort(dim=-1).values

    def prefix(a: list[int], b: list[int]) -> int:
        return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))

    return {
        "memory": {"relative_error": relative(fast_memory, plain_memory),
                   "max_abs": float((fast_memory.float() - plain_memory.float()).abs().max()),
                   "min_cosine": min_cosine(fast_memory, plain_memory)},
        "query": {"relative_error": relative(fast_query, plain_query),
                  "min_cosine": min_cosine(fast_query, plain_query)},
        "retrieval": {"scores_max_abs": float((fast_scores - plain_scores).abs().max()),
                      "top5_identical": sum(a == b for a, b in zip(fast_top, plain_top, strict=True)) / len(questions),
                      "top5_overlap": sum(len(set(a) & set(b)) for a, b in zip(fast_top, plain_top, strict=True))
                      / (K * len(questions))},
        "logits": {"positions": int(plain_logits.shape[0] * plain_logits.shape[1]),
                   "relative_error": relative(fast_logits, plain_logits),
                   "max_abs": float((fast_logits - plain_logits).abs().max()),
                   "top1_agreement": float((fast_logits.argmax(-1) == plain_logits.argmax(-1)).float().mean()),
                   "top5_set_agreement": float((fast5 == top5).all(-1).float().mean())},
        "greedy": {"rows": len(questions), "new_tokens": new_tokens,
                   "identical_rows": sum(a == b for a, b in zip(fast_greedy, plain_greedy, strict=True)),
                   "mean_common_prefix": sum(prefix(a, b) for a, b in zip(fast_greedy, plain_greedy, strict=True))
                   / len(questions),
                   "end_to_end_identical_rows": sum(a == b for a, b in zip(end_to_end, plain_greedy, strict=True))},
        "fast_path_s": fast_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model in bf16 on the CPU (checks the script)")
    parser.add_argument("--no-compile", action="store_true", help="leave the elementwise ops uncompiled")
    parser.add_argument("--out", type=Path, help="folder for clara_fidelity_gpu.json")
    args = parser.parse_args()
    started = time.perf_counter()
    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    clara, build_s = random_clara(device, torch.bfloat16, "e2e", 16, TINY if args.tiny else MISTRAL_7B)
    tokens = 60 if args.tiny else 240
    docs = [words_text(tokens, clara.tokenizer, seed) for seed in range(20)]
    questions = [f"{words_text(12, clara.tokenizer, 1000 + i)}?" for i in range(8)]
    compile_ops = device.type == "cuda" and not args.no_compile
    try:
        result = run(clara, docs, questions, new_tokens=32, compile_ops=compile_ops)
    finally:
        plain_elementwise()
    result.update({"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                   "model": "tiny (2 layers)" if args.tiny else "CLaRa-7B shapes, random weights (E2E, c16)",
                   "dtype": "bfloat16", "compiled_ops": compile_ops, "build_s": build_s,
                   "total_s": time.perf_counter() - started})
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "clara_fidelity_gpu.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
