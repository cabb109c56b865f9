#!/usr/bin/env python
"""Issue 15, round 3: the kernels of a batch-1 decode layer of Mistral-7B on their own, eight layers'
weights rotating in a CUDA graph (never in L2), as ``model.DecoderLayer._decode_gemv`` chains them:
q/k/v GEMV (RMSNorm, RoPE, cache writes), attention, o GEMV (+ residual), gate/up GEMV (RMSNorm,
SwiGLU), down GEMV (+ residual).

1. Attention: ``kernels.decode_attention`` against SDPA with the folded mask (``grouped_attention``,
   what the step ran before): relative error to a float64 reference (left padding, a sliding window,
   cache sizes 384 and 4096) and the time of 32 layers' calls, per split size of the kernel.
2. GEMV tiles (``kernels.GEMV_TILES``) per 1-byte format: each projection's configs in turn, with PDL,
   in the whole layer chain, keeping the best so far (one pass of coordinate descent); then the chosen
   tiles with and without PDL.
3. ``--packed`` (only this): the 1-byte formats' GEMVs multiplying in float16 pairs
   (``kernels.GEMV_PACKED``) against float32: each projection's relative error to float64 (also with
   massive activations in x), the layer chain with the current tiles both ways, then the tiles for
   float16 pairs (one pass of coordinate descent) and the chain again; exit status 1 unless float16
   pairs win for every format.

    python bench/clara_decode_layers.py --out "$OUT"                      # on the GPU machine (~4 min)
    python bench/clara_decode_layers.py --out "$OUT" --packed --budget 45  # (~40 s)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clara_kernels import graph_time, log  # noqa: E402  (bench/ is the script's folder)

from worker.clara import kernels  # noqa: E402
from worker.clara.model import attention_mask, fold_mask, grouped_attention, rope_cos_sin  # noqa: E402
from worker.clara.quantize import quantize_weight  # noqa: E402

D, F, H, KV, E = 4096, 14336, 32, 8, 128
LAYERS = 8
SLOTS, LENGTH = 384, 260  # the decode benchmark's cache: ~130 prompt tokens + 128 new
CONFIGS = [(4, 1024, 4, 3), (2, 2048, 4, 3), (8, 512, 4, 3), (4, 256, 1, 6), (2, 512, 1, 4), (2, 1024, 2, 3),
           (4, 2048, 8, 3), (8, 1024, 4, 2), (16, 512, 8, 3), (4, 2048, 8, 2)]  # BLOCK_N, BLOCK_K, warps, stages
KINDS = ("qkv", "o", "gate_up", "down")
ROWS: list[dict[str, Any]] = []
REPLAYS = 20  # CUDA graph replays a timing (clara_kernels.graph_time takes the median)


def record(section: str, name: str, value: float, unit: str, **extra: Any) -> None:
    ROWS.append({"section": section, "name": name, "value": value, "unit": unit, **extra})
    log(f"{section}: {name}: {value:.2f} {unit} {extra if extra else ''}")


# ---- 1. attention ---------------------------------------------------------------------------------
def masks(slots: int, slot: int, pad: int, window: int | None, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """-> the folded additive mask [1, 1, G, S] and its row [S] for one query at ``slot``, the first
    ``pad`` slots padding (never written keys)."""
    key_valid = torch.zeros(1, slots, dtype=torch.bool, device="cuda")
    key_valid[:, pad: slot + 1] = True
    folded = fold_mask(attention_mask(key_valid, torch.tensor([slot], device="cuda"), window), H // KV, dtype)
    return folded, folded[0, 0, 0]


def attention_check() -> None:
    for dtype in (torch.bfloat16, torch.float32):
        for slots, slot, pad, window in ((SLOTS, LENGTH - 1, 0, None), (SLOTS, 100, 7, None), (SLOTS, 300, 0, 64),
                                         (4096, 3999, 0, None), (4096, 2500, 33, 1000), (128, 0, 0, None)):
            k, v = (torch.randn(1, KV, slots, E, device="cuda", dtype=dtype) for _ in range(2))
            q = torch.randn(H * E, device="cuda", dtype=dtype)
            folded, row = masks(slots, slot, pad, window, dtype)
            done = torch.zeros(KV, dtype=torch.int32, device="cuda")
            got = kernels.decode_attention_launch(q, k, v, row, torch.tensor([slot], device="cuda"), done)
            sdpa = grouped_attention(q.view(1, H, 1, E), k, v, folded).reshape(-1)
            ref = grouped_attention(q.double().view(1, H, 1, E), k.double(), v.double(), folded.double()).reshape(-1)
            err = float((got.double() - ref).norm() / ref.norm())
            err_sdpa = float((sdpa.double() - ref).norm() / ref.norm())
            record("attention check", f"{dtype} S {slots} slot {slot} pad {pad} window {window}", err,
                   "rel. error vs float64", sdpa_error=err_sdpa, counters_zero=bool((done == 0).all()))


def attention_time() -> None:
    chosen = kernels.DECODE_ATTENTION_SPLIT, kernels.DECODE_ATTENTION_BLOCK
    for slots, length in ((SLOTS, LENGTH), (1024, 900), (4096, 4000)):
        caches = [[torch.randn(1, KV, slots, E, device="cuda", dtype=torch.bfloat16) for _ in range(2)]
                  for _ in range(32)]
        q = torch.randn(H * E, device="cuda", dtype=torch.bfloat16)
        slot = torch.tensor([length - 1], device="cuda")
        folded, row = masks(slots, length - 1, 0, None, torch.bfloat16)
        done = torch.zeros(KV, dtype=torch.int32, device="cuda")

        def sdpa(caches: list[list[torch.Tensor]] = caches, q: torch.Tensor = q, folded: torch.Tensor = folded) -> None:
            for k, v in caches:
                grouped_attention(q.view(1, H, 1, E), k, v, folded)

        record("attention time", f"SDPA, S {slots}, length {length}", graph_time(sdpa, REPLAYS) / 32 * 1e6,
               "us per layer")
        for split in (64, 128, 256, 512, 1 << 20):
            for block in (32, 64):
                kernels.DECODE_ATTENTION_SPLIT, kernels.DECODE_ATTENTION_BLOCK = split, block

                def kernel(caches: list[list[torch.Tensor]] = caches, q: torch.Tensor = q, row: torch.Tensor = row,
                           slot: torch.Tensor = slot, done: torch.Tensor = done) -> None:
                    for k, v in caches:
                        kernels.decode_attention_launch(q, k, v, row, slot, done)

                splits = max(1, min(kernels.DECODE_ATTENTION_MAX_SPLITS, slots // split))
                record("attention time", f"kernel, S {slots}, length {length}, split {split} ({splits} programs a "
                       f"kv head), block {block}", graph_time(kernel, REPLAYS) / 32 * 1e6, "us per layer")
        del caches
    kernels.DECODE_ATTENTION_SPLIT, kernels.DECODE_ATTENTION_BLOCK = chosen


# ---- 2. the layer chain -----------------------------------------------------------------------------
@dataclass
class Layer:
    w: dict[str, tuple[torch.Tensor, torch.Tensor | None]]  # projection -> (weight, scale)
    norm1: torch.Tensor
    norm2: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    done: torch.Tensor


SHAPES = {"qkv": ((H + 2 * KV) * E, D), "o": (D, H * E), "gate_up": (2 * F, D), "down": (D, F)}


def make_layers(fmt: str) -> list[Layer]:
    layers = []
    for _ in range(LAYERS):
        w: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        for name, (n, k) in SHAPES.items():
            full = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02
            w[name] = (full, None) if fmt == "bf16" else quantize_weight(full, fmt)
        norms = [torch.rand(D, device="cuda", dtype=torch.bfloat16) + 0.5 for _ in range(2)]
        cache_k, cache_v = (torch.randn(1, KV, SLOTS, E, device="cuda", dtype=torch.bfloat16) for _ in range(2))
        layers.append(Layer(w, norms[0], norms[1], cache_k, cache_v, torch.zeros(KV, dtype=torch.int32, device="cuda")))
    return layers


@dataclass
class Step:
    """The inputs of one decode step besides the weights (made before a graph is captured)."""

    x: torch.Tensor  # [D]
    slot: torch.Tensor  # [1]
    cos: torch.Tensor  # [E]
    sin: torch.Tensor
    folded: torch.Tensor  # [1, 1, G, S]
    row_mask: torch.Tensor  # [S]

    @classmethod
    def make(cls) -> Step:
        slot = torch.tensor([LENGTH - 1], device="cuda")
        inv_freq = 1.0 / (1e6 ** (torch.arange(0, E, 2, device="cuda").float() / E))
        cos, sin = rope_cos_sin(slot[None], inv_freq, torch.bfloat16)
        folded, row_mask = masks(SLOTS, LENGTH - 1, 0, None, torch.bfloat16)
        return cls(torch.randn(D, device="cuda", dtype=torch.bfloat16), slot, cos.view(-1), sin.view(-1), folded,
                   row_mask)


def chain(layers: list[Layer], step: Step, attention: str) -> torch.Tensor:
    """``DecoderLayer._decode_gemv`` over the layers (launch functions, not the ops: no dispatch)."""
    x, slot, folded, row_mask = step.x, step.slot, step.folded, step.row_mask
    for layer in layers:
        qkv = kernels.gemv_qkv_launch(x, *layer.w["qkv"], layer.norm1, 1e-5, step.cos, step.sin, layer.k, layer.v,
                                      slot, H)
        if attention == "kernel":
            out = kernels.decode_attention_launch(qkv[: H * E], layer.k, layer.v, row_mask, slot, layer.done)
        else:
            out = grouped_attention(qkv[: H * E].view(1, H, 1, E), layer.k, layer.v, folded).reshape(-1)
        row = kernels.gemv_launch(out, *layer.w["o"], residual=x)
        hidden = kernels.gemv_launch(row, *layer.w["gate_up"], layer.norm2, 1e-5, swiglu=True)
        x = kernels.gemv_launch(hidden, *layer.w["down"], residual=row)
    return x


def layer_time(layers: list[Layer], attention: str = "kernel") -> float:
    step = Step.make()
    return graph_time(lambda: chain(layers, step, attention), REPLAYS) / LAYERS * 1e6


def tile_sweep(formats: list[str], deadline: float) -> None:
    default = dict(kernels.GEMV_TILES["bf16"])  # the one tile every format had before the sweep
    for fmt in formats:
        layers = make_layers(fmt)
        kernels.GEMV_TILES[fmt] = dict(default)
        kernels.GEMV_PDL[fmt] = True
        record("layer", f"{fmt}: fixed tile {default['o']}, PDL, SDPA attention", layer_time(layers, "sdpa"), "us")
        record("layer", f"{fmt}: fixed tile {default['o']}, PDL, attention kernel", layer_time(layers), "us")
        if fmt == "bf16":
            continue
        tiles = dict(default)
        for kind in KINDS:
            results = []
            for config in CONFIGS:
                if time.monotonic() > deadline:
                    break
                kernels.GEMV_TILES[fmt] = {**tiles, kind: config}
                try:
                    results.append((layer_time(layers), config))
                except Exception as exc:  # one config failing (resources) must not end the sweep
                    log(f"{fmt} {kind} {config}: {type(exc).__name__}: {str(exc)[:200]}")
            ROWS.extend({"section": "sweep", "name": f"{fmt} PDL {kind} {c}", "value": t, "unit": "us"}
                        for t, c in results)
            if results:
                tiles[kind] = min(results)[1]
                log(f"{fmt} {kind}: " + ", ".join(f"{c}: {t:.1f}" for t, c in sorted(results)))
        kernels.GEMV_TILES[fmt] = tiles
        times = {}
        for pdl in (True, False):
            kernels.GEMV_PDL[fmt] = pdl
            times[pdl] = layer_time(layers)
            record("layer", f"{fmt}: swept tiles, PDL {pdl}, attention kernel", times[pdl], "us",
                   tiles={k: list(v) for k, v in tiles.items()})
        kernels.GEMV_PDL[fmt] = min(times, key=lambda p: times[p])
        record("layer", f"{fmt}: chosen (PDL {kernels.GEMV_PDL[fmt]}), SDPA attention", layer_time(layers, "sdpa"),
               "us")
        del layers
        torch.cuda.empty_cache()


# ---- 3. 1-byte weights multiplied in float16 pairs (``kernels.GEMV_PACKED``) -------------------------
PACKED_CONFIGS = [(8, 1024, 4, 2), (16, 512, 4, 3), (16, 1024, 8, 3), (8, 512, 4, 3), (16, 512, 8, 3), (4, 1024, 4, 3),
                  (2, 512, 1, 4), (32, 256, 4, 3)]  # more rows a thread first: float16 x is made once for them


def gemv_errors(layer: Layer, fmt: str) -> None:
    """Each projection's GEMV (q/k/v and gate/up with their RMSNorm, gate/up with SwiGLU; no residual)
    against float64, PACKED off and on; x ~ N(0, 1), then with 8 entries of +-3000 (massive activations)."""
    for case in ("normal", "outliers"):
        for kind, (_, k) in SHAPES.items():
            x = torch.randn(k, device="cuda", dtype=torch.bfloat16)
            if case == "outliers":
                x[torch.randperm(k, device="cuda")[:8]] = torch.tensor([3000.0, -3000.0], device="cuda").repeat(4).to(x)
            w, s = layer.w[kind]
            norm = layer.norm1 if kind in ("qkv", "gate_up") else None
            swiglu = kind == "gate_up"
            h = x.double()
            if norm is not None:
                h = h * torch.rsqrt(h.pow(2).mean() + 1e-5) * norm.double()
            assert s is not None
            ref = (w.double() * s.double()[:, None]) @ h
            if swiglu:
                gate, up = ref.chunk(2)
                ref = torch.nn.functional.silu(gate) * up
            errors = {}
            for packed in (False, True):
                kernels.GEMV_PACKED[fmt] = packed
                got = kernels.gemv_launch(x, w, s, norm, 1e-5, swiglu).double()
                errors[packed] = float((got - ref).norm() / ref.norm())
            record("packed error", f"{fmt} {kind} x {case}", errors[True], "rel. error vs float64 (PACKED)",
                   float32_multiply=errors[False], finite=bool(torch.isfinite(got).all()))


def packed_check(formats: list[str], budget: float, out: Path) -> bool:
    """PACKED off and on in the layer chain with the current tiles, the errors, then PACKED's tiles
    (one pass of coordinate descent over PACKED_CONFIGS from the current ones, ``budget`` seconds a
    format); True if PACKED wins for every format."""
    bf16 = make_layers("bf16")
    record("packed", "bf16 chain", layer_time(bf16), "us")
    del bf16
    torch.cuda.empty_cache()
    wins, chosen = True, {}
    for fmt in formats:
        layers = make_layers(fmt)
        gemv_errors(layers[0], fmt)
        deadline = time.monotonic() + budget
        current = dict(kernels.GEMV_TILES[fmt])
        times: dict[bool, list[float]] = {}
        for packed in (False, True, False, True):
            kernels.GEMV_PACKED[fmt] = packed
            times.setdefault(packed, []).append(layer_time(layers))
        for packed, ts in times.items():
            record("packed", f"{fmt} chain, current tiles, PACKED {packed}", min(ts), "us", all=ts)
        tiles = dict(current)
        for kind in KINDS:
            results = [(min(times[True]), current[kind])]
            for config in PACKED_CONFIGS:
                if time.monotonic() > deadline or config == current[kind]:
                    continue
                kernels.GEMV_TILES[fmt] = {**tiles, kind: config}
                try:
                    results.append((layer_time(layers), config))
                except Exception as exc:  # one config failing (resources) must not end the sweep
                    log(f"{fmt} {kind} {config}: {type(exc).__name__}: {str(exc)[:200]}")
            ROWS.extend({"section": "packed sweep", "name": f"{fmt} {kind} {c}", "value": t, "unit": "us"}
                        for t, c in results)
            tiles[kind] = min(results)[1]
            log(f"{fmt} {kind}: " + ", ".join(f"{c}: {t:.1f}" for t, c in sorted(results)[:5]))
        final: dict[bool, list[float]] = {}
        for packed in (False, True, False, True):
            kernels.GEMV_PACKED[fmt] = packed
            kernels.GEMV_TILES[fmt] = tiles if packed else current
            final.setdefault(packed, []).append(layer_time(layers))
        for packed, ts in final.items():
            record("packed", f"{fmt} chain, PACKED {packed}, tiles {'swept' if packed else 'current'}", min(ts), "us",
                   all=ts, tiles={k: list(v) for k, v in (tiles if packed else current).items()})
        wins = wins and min(final[True]) < min(final[False])
        chosen[fmt] = tiles if min(final[True]) <= min(times[True]) else current
        kernels.GEMV_TILES[fmt] = chosen[fmt]
        del layers
        torch.cuda.empty_cache()
    tables = {f: {k: list(v) for k, v in t.items()} for f, t in chosen.items()}
    (out / "packed_tiles.json").write_text(json.dumps(tables))
    return wins


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--budget", type=float, default=240, help="seconds for the tile sweep")
    parser.add_argument("--formats", default="bf16,int8,fp8")
    parser.add_argument("--packed", action="store_true", help="only: 1-byte weights multiplied in float16 pairs "
                        "(exit status 1 unless it wins)")
    args = parser.parse_args()
    log(f"{torch.cuda.get_device_name()} torch {torch.__version__}")
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.packed:
        try:
            wins = packed_check([f for f in args.formats.split(",") if f != "bf16"], args.budget, args.out)
        finally:
            (args.out / "clara_decode_layers_packed.json").write_text(json.dumps(ROWS, indent=1))
        return 0 if wins else 1
    try:
        attention_check()
        attention_time()
        tile_sweep(args.formats.split(","), time.monotonic() + args.budget)
    finally:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "clara_decode_layers.json").write_text(json.dumps(ROWS, indent=1))
    for fmt in ("int8", "fp8"):
        log(f"{fmt}: tiles {kernels.GEMV_TILES[fmt]}, PDL {kernels.GEMV_PDL[fmt]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
