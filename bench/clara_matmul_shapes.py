"""Compression's matmul ceiling at Mistral-7B's shapes, with the projections as the engine runs them (q, k, v, o,
gate, up, down: seven GEMMs a layer) and with q/k/v and gate/up fused into one weight each, held fused (not
concatenated per call): whether fusing the weights would lift the ceiling that `clara_perf.matmul_ceiling` measures
(44.6k document tok/s at 64 chunks, docs/performance.md, round 6).

    python3 bench/clara_matmul_shapes.py --out $OUT     # one GPU, a few seconds; prints and writes JSON rows

Random bf16 weights, cuBLAS through ``torch.nn.functional.linear``; each chunk is 256 document tokens plus 19
template and memory tokens, as in `clara_perf.doc_seqs`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

HIDDEN, INTERMEDIATE, LAYERS, KV = 4096, 14336, 32, 1024  # Mistral-7B
ROWS_PER_CHUNK = 256 + 19  # document tokens, then the template's and the memory tokens


def timed(run: object, repeat: int = 10) -> float:
    """Seconds per call of ``run`` (CUDA events, after two warm-up calls)."""
    assert callable(run)
    for _ in range(2):
        run()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeat):
        run()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / repeat


def ceiling(chunks: int, fused: bool) -> dict[str, float | int | str]:
    rows = ROWS_PER_CHUNK * chunks
    device, dtype = "cuda", torch.bfloat16
    x = torch.randn(rows, HIDDEN, device=device, dtype=dtype)
    h = torch.randn(rows, INTERMEDIATE, device=device, dtype=dtype)
    shapes = ([(HIDDEN + 2 * KV, HIDDEN), (HIDDEN, HIDDEN), (2 * INTERMEDIATE, HIDDEN), (HIDDEN, INTERMEDIATE)] if fused
              else [(HIDDEN, HIDDEN), (KV, HIDDEN), (KV, HIDDEN), (HIDDEN, HIDDEN), (INTERMEDIATE, HIDDEN),
                    (INTERMEDIATE, HIDDEN), (HIDDEN, INTERMEDIATE)])
    weights = [torch.randn(o, i, device=device, dtype=dtype) * 0.02 for o, i in shapes]

    def run() -> None:
        for _ in range(LAYERS):
            for w in weights:
                torch.nn.functional.linear(h if w.shape[1] == INTERMEDIATE else x, w)

    seconds = timed(run)
    flops = 2 * rows * sum(w.numel() for w in weights) * LAYERS
    return {"chunks": chunks, "rows": rows, "weights": "fused q/k/v, gate/up" if fused else "seven projections",
            "doc_tok_per_s": round(chunks * 256 / seconds), "tflops": round(flops / seconds / 1e12, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for clara_matmul_shapes.json")
    args = parser.parse_args()
    rows = [ceiling(chunks, fused) for chunks in (32, 64, 128) for fused in (False, True)]
    for row in rows:
        print(json.dumps(row))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "clara_matmul_shapes.json").write_text(json.dumps({"device": torch.cuda.get_device_name(),
                                                                        "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
