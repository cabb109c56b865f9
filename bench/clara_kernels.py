#!/usr/bin/env python
"""Issue 15: the decoding matmuls on their own. For the four projection shapes of one Mistral-7B layer
(q/k/v fused, o, gate/up fused, down) and 1 or 8 rows, the time of each way to multiply by bf16, int8
or fp8 weights, as effective weight bandwidth against the device's measured copy bandwidth. Eight
layers' worth of weights rotate (8 x 218 MB in int8: never in the 60 MB L2), captured in a CUDA graph.
Also measures the two ceilings (copy bandwidth, bf16 matmul rate) in the same run.

    python bench/clara_kernels.py --out "$OUT"      # on the GPU machine (~1-2 min)
"""

from __future__ import annotations

import argparse
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
    return {
        "bf16 cuBLAS (F.linear)": ("bf16", lambda x, w, s: F.linear(x, w), (1, 8)),
        "bf16 Triton kernel (kernels.py)": ("bf16", kernels.launch, (1, 8)),
        "int8 Triton kernel (kernels.py)": ("int8", kernels.launch, (1, 8)),
        "fp8 Triton kernel (kernels.py)": ("fp8", kernels.launch, (1, 8)),
        "int8 dequantise + cuBLAS (eager)": ("int8", lambda x, w, s: F.linear(x, dequantize(w, s, x.dtype)), (1, 8)),
        "fp8 torch._scaled_mm rowwise, fp8 activations": ("fp8", scaled_mm, (1, 8)),
        "int8 torch._weight_int8pack_mm": ("int8", lambda x, w, s: torch._weight_int8pack_mm(x, w, s), (1,)),
        "int8 torch.compile, coordinate descent (gpt-fast)": ("int8", tuned, (1,)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--budget", type=float, default=150, help="seconds; later variants are skipped")
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
        print(f"| {r['variant']} | {r['rows']} | {r['value']:.1f} | {r['bandwidth_tb_s']:.2f} | "
              f"{100 * r['of_copy_bandwidth']:.0f} | {r['relative_error']:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
