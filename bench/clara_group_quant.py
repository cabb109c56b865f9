#!/usr/bin/env python
"""Issue 15: how close to bf16 would int8 (or fp8) weights with one scale per group of input columns keep the
memory embeddings, measured before any kernel for it is written.

Simulated on CLaRa-7B's shapes with random weights (``clara_random.py``): each adapted projection's weight as
the quantized engine rounds it (the base weight with the decoder adapter merged in, ``Mistral.quantize``) is
rounded with one scale per ``group`` columns of a row (``group`` 0: one scale per row, what the engine does
today), and the rounding error is added to the bf16 weight in place; compression and question encoding then
run the bf16 path (``clara_perf.quality_outputs``), the numbers a dequantize-then-multiply kernel would give.
Each variant is compared with the unrounded model as ``clara_perf.compare_quality`` does (memory-embedding
cosine per chunk, retrieval top-5, next-token logits). The per-row int8 and fp8 rows check the simulation
against the engine's own figures (docs/performance.md: 0.984 and 0.891).

    python3 bench/clara_group_quant.py --out $OUT            # on a CUDA machine, about 2 minutes
    python3 bench/clara_group_quant.py --tiny                # checks the script on a CPU
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import clara_perf
import torch
from clara_random import MISTRAL_7B, random_clara, words_text

from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER

LARGEST = {"int8": 127.0, "fp8": 448.0}
VARIANTS = (("int8", 0), ("int8", 128), ("int8", 64), ("int8", 32), ("int8", 16), ("fp8", 0), ("fp8", 32))


def rounded(weight: torch.Tensor, fmt: str, group: int) -> torch.Tensor:  # [out, in] float32 -> the same
    """``weight`` rounded to ``fmt`` with a float16 scale per ``group`` columns of a row (0: per row)."""
    out, columns = weight.shape
    size = columns if group == 0 or group >= columns else group
    blocks = weight.reshape(out, columns // size, size)  # [out, groups, size]
    scale = (blocks.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / LARGEST[fmt]).half().float()
    scaled = blocks / scale
    if fmt == "int8":
        values = scaled.round().clamp(-127, 127)
    else:
        values = scaled.clamp(-448, 448).to(torch.float8_e4m3fn).float()
    return (values * scale).reshape(out, columns)


def round_weights(clara: ClaraModel, originals: dict[str, torch.Tensor], fmt: str, group: int) -> None:
    """Each adapted projection: the bf16 weight plus the error of rounding it with the decoder adapter merged."""
    with torch.no_grad():
        for name, layer in clara.model.lora_layers():
            base = originals[name].float()
            merged = base
            if layer.merged != DECODER_ADAPTER:
                merged = base + layer.delta(DECODER_ADAPTER) - (layer.delta(layer.merged) if layer.merged else 0)
            layer.weight.copy_((base + rounded(merged, fmt, group) - merged).to(layer.weight.dtype))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="folder for group_quant.json")
    parser.add_argument("--tiny", action="store_true", help="small shapes on the CPU (checks the script)")
    args = parser.parse_args()
    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    started = time.perf_counter()
    clara, _ = random_clara(device, dtype, "e2e", 16, clara_perf.TINY if args.tiny else MISTRAL_7B)
    docs = [words_text(60 if args.tiny else 250, clara.tokenizer, 9000 + i)
            for i in range(clara_perf.QUALITY_DOCS)]
    questions = [words_text(24, clara.tokenizer, 700 + i) for i in range(clara_perf.QUALITY_QUESTIONS)]
    reference = clara_perf.quality_outputs(clara, docs, questions)
    originals = {name: layer.weight.detach().clone() for name, layer in clara.model.lora_layers()}
    results = {}
    for fmt, group in VARIANTS:
        label = f"{fmt} {'per row' if group == 0 else f'groups of {group}'}"
        round_weights(clara, originals, fmt, group)
        got = clara_perf.quality_outputs(clara, docs, questions, reference["memories"])
        results[label] = clara_perf.compare_quality(f"{label} (simulated)", got, reference)
        with torch.no_grad():
            for name, layer in clara.model.lora_layers():
                layer.weight.copy_(originals[name])
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "group_quant.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
