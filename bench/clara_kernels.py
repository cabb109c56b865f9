#!/usr/bin/env python
"""Issue 15: the decoding matmuls on their own. For the four projection shapes of one Mistral-7B layer
(q/k/v fused, o, gate/up fused, down) and 1 or 8 rows, the time of each way to multiply by bf16, int8
or fp8 weights, as effective weight bandwidth against the device's measured copy bandwidth. Eight
layers' worth of weights rotate (8 x 218 MB in int8: never in the 60 MB L2), captured in a CUDA graph.
Also measures the two ceilings (copy bandwidth, bf16 matmul rate) in the same run.

    python bench/clara_kernels.py --out "$OUT"      # on the GPU machine (~1-2 min)
    python bench/clara_kernels.py --out "$OUT" --sweep   # the batch-1 GEMV's tile configs, one by one
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.clara.quantize import dequantize, quantize_weight  # noqa: E402

SHAPES = {"qkv": (6144, 4096), "o": (4096, 4096), "gate_up": (28672, 4096), "down": (4096, 14336)}  # (N, K)
LAYERS = 8
ROWS: list[dict[str, Any]] = []

Matmul = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def graph_time(fn: Callable[[], Any], replays: int = 10) -> float:
    """Median seconds of one replay of ``fn`` captured in a CUDA graph (after two eager warm-ups)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fn()
        fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    for _ in range(3):
        graph.replay()
    times = []
    for _ in range(replays):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def ceilings() -> tuple[float, float]:
    """Device-to-device copy (bytes read + written per second) and a bf16 8192^3 matmul (FLOP/s)."""
    a = torch.empty(1 << 29, dtype=torch.float32, device="cuda")  # 2 GiB
    b = torch.empty_like(a)
    copy = 2 * 4 * a.numel() / graph_time(lambda: b.copy_(a))
    x, y = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    flops = 2 * 8192**3 / graph_time(lambda: x @ y)
    return copy, flops


def stored(fmt: str, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if fmt == "bf16":
        return w, torch.ones(w.shape[0], device=w.device)
    return quantize_weight(w, fmt)


def scaled_mm(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """fp8 activations (per row) x fp8 weights (per channel) on the fp8 tensor cores."""
    xs = x.abs().amax(dim=1, keepdim=True).float().clamp_min(1e-12) / 448.0  # [M, 1]
    xq = (x.float() / xs).clamp(-448, 448).to(torch.float8_e4m3fn)
    return torch._scaled_mm(xq, w.t(), scale_a=xs, scale_b=s[None, :], out_dtype=x.dtype)


def variants() -> dict[str, tuple[str, Matmul, tuple[int, ...]]]:
    """name -> (weight format, matmul, row counts)."""
    from worker.clara import kernels

    def gpt_fast(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return F.linear(x, w.to(x.dtype)) * s.to(x.dtype)

    tuned = torch.compile(gpt_fast, dynamic=False, options={"coordinate_descent_tuning": True})

    def round2(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return kernels.gemv_launch(x[0], w, s)

    import round1_gemv

    return {  # round 1's 1-byte GEMV beside round 2's fused one first (one session settles which is faster)
        "int8 round-1 GEMV, autotuned (round1_gemv.py)": ("int8", round1_gemv.launch, (1,)),
        "int8 round-2 GEMV, fixed tile (decode layers)": ("int8", round2, (1,)),
        "fp8 round-1 GEMV, autotuned (round1_gemv.py)": ("fp8", round1_gemv.launch, (1,)),
        "fp8 round-2 GEMV, fixed tile (decode layers)": ("fp8", round2, (1,)),
        "bf16 cuBLAS (F.linear)": ("bf16", lambda x, w, s: F.linear(x, w), (1, 8)),
        "bf16 Triton kernel (kernels.py)": ("bf16", kernels.launch, (1, 8)),
        "bf16 Triton GEMV, no scale (decode layers)": ("bf16", lambda x, w, s: kernels.gemv_launch(x[0], w, None),
                                                        (1,)),
        "int8 Triton kernel (kernels.py)": ("int8", kernels.launch, (1, 8)),
        "fp8 Triton kernel (kernels.py)": ("fp8", kernels.launch, (1, 8)),
        "int8 dequantise + cuBLAS (eager)": ("int8", lambda x, w, s: F.linear(x, dequantize(w, s, x.dtype)), (1, 8)),
        "fp8 torch._scaled_mm rowwise, fp8 activations": ("fp8", scaled_mm, (1, 8)),
        "int8 torch._weight_int8pack_mm": ("int8", lambda x, w, s: torch._weight_int8pack_mm(x, w, s), (1,)),
        "int8 torch.compile, coordinate descent (gpt-fast)": ("int8", tuned, (1,)),
    }


SWEEP = [(2, 512, 1, 4), (2, 1024, 2, 3), (4, 256, 1, 6), (4, 1024, 4, 3), (4, 1024, 4, 4), (2, 2048, 4, 3),
         (4, 2048, 8, 3), (8, 1024, 4, 2), (8, 512, 4, 3), (8, 2048, 8, 2), (4, 4096, 8, 1), (1, 1024, 1, 4),
         (1, 512, 1, 4), (2, 256, 1, 6)]  # BLOCK_N, BLOCK_K, warps, stages
SWEEP_KINDS = [("bf16", False), ("bf16", True), ("int8", False), ("int8", True), ("fp8", True)]  # format, PDL


def sweep_step(jit: Any, layers: list[dict[str, tuple[torch.Tensor, torch.Tensor]]], shape: str, x: torch.Tensor,
               y: torch.Tensor, config: tuple[int, int, int, int], scaled: bool, pdl: bool) -> None:
    """One shape's GEMV over every layer with one fixed tile config."""
    import triton

    block_n, block_k, warps, stages = config
    n, k = SHAPES[shape]
    for layer in layers:
        w, s = layer[shape]
        jit[(triton.cdiv(n, block_n),)](x, w, s, y, y, y, n, k, w.stride(0), 0.0, y, y, y, y, y, 1, 0, 0, 0,
                                        INT8=w.dtype == torch.int8, SCALE=scaled, NORM=False, SWIGLU=False,
                                        RESIDUAL=False, ROPE=False, EVEN_K=k % block_k == 0, BLOCK_N=block_n,
                                        BLOCK_K=block_k, USE_PDL=pdl, num_warps=warps, num_stages=stages,
                                        launch_pdl=pdl)


def sweep(weights: dict[str, list[dict[str, tuple[torch.Tensor, torch.Tensor]]]], copy: float) -> None:
    """Each GEMV tile config on its own (no autotuning), per weight format and projection shape, with
    and without programmatic dependent launch (the graph chains 8 layers' GEMVs of one shape)."""
    from worker.clara import kernels

    jit = kernels._gemv_kernel
    xs = {k: torch.randn(k, device="cuda", dtype=torch.bfloat16) for k in {k for _, k in SHAPES.values()}}
    for fmt, pdl in SWEEP_KINDS:
        kind = f"{fmt}{' PDL' if pdl else ''}"
        layers = weights[fmt]
        best: dict[str, tuple[float, tuple[int, ...]]] = {}
        for config in SWEEP:
            for shape, (n, k) in SHAPES.items():
                if k % config[1]:
                    continue
                y = torch.empty(n, device="cuda", dtype=torch.bfloat16)
                step = functools.partial(sweep_step, jit, layers, shape, xs[k], y, config, fmt != "bf16", pdl)
                try:
                    seconds = graph_time(step) / LAYERS
                except Exception as exc:
                    log(f"sweep {kind} {config} {shape}: {type(exc).__name__}: {str(exc)[:300]}")
                    continue
                w = layers[0][shape][0]
                tb_s = w.numel() * w.element_size() / seconds / 1e12
                ROWS.append({"variant": f"sweep {kind} {shape} {config}", "rows": 1, "value": seconds * 1e6,
                             "unit": "us per matrix", "bandwidth_tb_s": tb_s, "of_copy_bandwidth": tb_s * 1e12 / copy,
                             "relative_error": float("nan")})
                if shape not in best or seconds < best[shape][0]:
                    best[shape] = (seconds, config)
        total = sum(t for t, _ in best.values())
        log(f"sweep {kind}: best per shape " + ", ".join(f"{s} {t * 1e6:.1f} us {c}" for s, (t, c) in best.items())
            + f"; layer {total * 1e6:.1f} us")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--budget", type=float, default=150, help="seconds; later variants are skipped")
    parser.add_argument("--sweep", action="store_true", help="also each GEMV tile config (batch 1)")
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget
    torch._dynamo.config.recompile_limit = 64
    log(f"{torch.cuda.get_device_name()} torch {torch.__version__}")
    copy, flops = ceilings()
    ROWS.append({"variant": "ceiling: device copy", "rows": 0, "value": copy / 1e12, "unit": "TB/s"})
    ROWS.append({"variant": "ceiling: bf16 matmul 8192^3", "rows": 0, "value": flops / 1e12, "unit": "TFLOP/s"})
    log(f"copy {copy / 1e12:.2f} TB/s, bf16 matmul {flops / 1e12:.0f} TFLOP/s")
    torch.manual_seed(0)
    base = [{name: torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02 for name, (n, k) in SHAPES.items()}
            for _ in range(LAYERS)]
    weights = {fmt: [{name: stored(fmt, w) for name, w in layer.items()} for layer in base]
               for fmt in ("bf16", "int8", "fp8")}
    if args.sweep:
        sweep(weights, copy)
    for name, (fmt, matmul, row_counts) in variants().items():
        for rows in row_counts:
            if time.monotonic() > deadline:
                log(f"budget spent: {name} skipped")
                continue
            xs = {k: torch.randn(rows, k, device="cuda", dtype=torch.bfloat16) for k in {k for _, k in SHAPES.values()}}
            layers = weights[fmt]
            bytes_per_layer = sum(w.numel() * w.element_size() for w, _ in layers[0].values())

            def step(layers: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = layers,
                     xs: dict[int, torch.Tensor] = xs, matmul: Matmul = matmul) -> None:
                for layer in layers:
                    for shape, (w, s) in layer.items():
                        matmul(xs[SHAPES[shape][1]], w, s)

            try:
                started = time.perf_counter()
                w, s = layers[0]["down"]
                got = matmul(xs[SHAPES["down"][1]], w, s).float()
                torch.cuda.synchronize()
                first = time.perf_counter() - started
                expected = xs[SHAPES["down"][1]].float() @ (w.float() * s[:, None]).t()
                error = float((got - expected).norm() / expected.norm())
                seconds = graph_time(step) / LAYERS
            except Exception as exc:  # one variant failing must not hide the others
                log(f"{name} rows {rows}: {type(exc).__name__}: {str(exc)[:300]}")
                continue
            row: dict[str, Any] = {"variant": name, "rows": rows, "value": seconds * 1e6, "unit": "us per layer",
                   "bandwidth_tb_s": bytes_per_layer / seconds / 1e12,
                   "of_copy_bandwidth": bytes_per_layer / seconds / copy, "relative_error": error,
                   "first_call_s": first}
            ROWS.append(row)
            log(f"{name:52s} rows {rows}: {seconds * 1e6:8.1f} us/layer, {bytes_per_layer / seconds / 1e12:.2f} TB/s "
                f"({100 * bytes_per_layer / seconds / copy:.0f}% of copy), rel. error {error:.1e}, "
                f"first call {first:.1f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "clara_kernels.json").write_text(json.dumps(ROWS, indent=1))
    print("\n| variant | rows | us per layer | TB/s | % of copy | rel. error |\n|---|---|---|---|---|---|")
    for r in ROWS[2:]:
        if r["variant"].startswith("sweep"):
            continue
        print(f"| {r['variant']} | {r['rows']} | {r['value']:.1f} | {r['bandwidth_tb_s']:.2f} | "
              f"{100 * r['of_copy_bandwidth']:.0f} | {r['relative_error']:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
