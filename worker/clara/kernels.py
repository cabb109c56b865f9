"""Triton kernels for decoding and for quantized weights (CUDA only; imported on first use, so the CPU
never needs Triton): the decoding matmul ``y = (x @ q^T) * s`` for a few rows of x, which reads the
int8 / fp8 (or bf16) weight once and converts it in registers, batch-1 decode attention over the
static KV cache, and the dequantisation of a whole matrix for the long passes.

Decoding reads every weight once per token, so its speed is the weight bytes over memory bandwidth:
dequantising to bf16 first (a write and a read of 2 bytes per weight) is slower than bf16 itself.
PyTorch has no fast kernel for this (``torch._weight_int8pack_mm`` on CUDA is a reference loop, and
``torch._scaled_mm`` needs fp8 activations); ``bench/clara_kernels.py`` measures the alternatives.

- One row (batch-1 decoding): ``_gemv_kernel``, without the tensor cores, for every weight format
  (bf16 too: it beats cuBLAS at one row). bf16 multiply-adds in float32. The 1-byte formats multiply
  in float16 pairs (``_multiply_add``: int8 becomes float16 exactly through the bits of 1024 + 128 + w,
  two weights a byte permute, fp8 by the packed hardware conversion, then ``fma.rn.f16x2``), about
  half the instructions a weight of float32 (int8 through the bits of 2^23 + 128 + w, an integer add
  and a float subtract a weight, itself several times cheaper than a conversion instruction, which
  capped the first kernel at ~60 % of the memory bandwidth): at one row these kernels are bound by
  instructions, not memory (H200, docs/performance.md). The decode layers
  (``model.DecoderLayer._decode_gemv``) fold the RMSNorms, SwiGLU, residual adds, RoPE and the cache
  writes into it: four kernels a layer besides attention, which ``_decode_attention_kernel`` does
  over the cache's slots up to the token's (flash-decoding).
- 2 to 16 rows: ``_weight_only_mm_kernel`` pads the rows to 16 for the tensor cores, which cost
  nothing here since the kernel waits on memory anyway.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import triton
import triton.language as tl

from worker.clara.quantize import dequantize

BLOCK_M = 16  # rows: quantize.SMALL_ROWS at most
_CONFIGS = [triton.Config({"BLOCK_N": n, "BLOCK_K": k}, num_warps=w, num_stages=s)
            for n, k, w, s in ((16, 512, 4, 4), (32, 256, 4, 4), (32, 512, 4, 3), (64, 256, 4, 3),
                               (16, 256, 4, 6), (64, 128, 4, 4), (128, 128, 8, 3))]


def _fitting(configs: list[triton.Config], named_args: dict[str, Any], **_: Any) -> list[triton.Config]:
    k = named_args["K"]
    return [c for c in configs if k % c.kwargs["BLOCK_K"] == 0]


@triton.jit
def _as_float(w, INT8: tl.constexpr):
    """int8 -> float32 via 2^23 + 128 + w (exact: the float's mantissa holds the integer); else a cast."""
    if INT8:
        return (w.to(tl.int32) + 0x4B000080).to(tl.float32, bitcast=True) - 8388736.0
    return w.to(tl.float32)


@triton.autotune(configs=_CONFIGS, key=["N", "K"], prune_configs_by={"early_config_prune": _fitting})
@triton.jit
def _weight_only_mm_kernel(x_ptr, w_ptr, s_ptr, y_ptr, M, N, K, stride_xm, stride_wn, stride_ym, INT8: tl.constexpr,
                           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """x [M, K] (bf16/fp16), w [N, K] (int8/fp8/bf16), s [N] float32 -> y [M, N] in x's dtype."""
    rn = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    rm = tl.arange(0, BLOCK_M)
    rk = tl.arange(0, BLOCK_K)
    x_ptrs = x_ptr + rm[:, None] * stride_xm + rk[None, :]
    w_ptrs = w_ptr + rn[:, None] * stride_wn + rk[None, :]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for _ in range(0, K // BLOCK_K):  # BLOCK_K divides K (``_fitting``; checked by the caller)
        x = tl.load(x_ptrs, mask=rm[:, None] < M, other=0.0)
        w = tl.load(w_ptrs, mask=rn[:, None] < N, other=0.0)
        if INT8:
            acc = tl.dot(x, tl.trans(_as_float(w, INT8).to(x.dtype)), acc)
        else:
            acc = tl.dot(x, tl.trans(w.to(x.dtype)), acc)
        x_ptrs += BLOCK_K
        w_ptrs += BLOCK_K
    scale = tl.load(s_ptr + rn, mask=rn < N, other=0.0)
    acc = acc * scale[None, :]
    y_ptrs = y_ptr + rm[:, None] * stride_ym + rn[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=(rm[:, None] < M) & (rn[None, :] < N))


# Tile configs of the decode GEMVs (BLOCK_N rows, BLOCK_K columns a step, warps, stages) per weight format
# and projection ("qkv": the fused q/k/v kernel with RoPE, "o", "gate_up": the SwiGLU kernel, "down"; "o"
# also serves lm_head and any other N >= K matrix), and whether each format's GEMVs use programmatic
# dependent launch (``_gemv_kernel``'s USE_PDL, Hopper and later). Chosen on an H200 by timing each
# projection's configs in a CUDA graph of eight decode layers, the model's chain of kernels with the
# others fixed (bench/clara_decode_layers.py). Round 3, float32 multiply-adds: int8 91.5 -> 88.8 us a
# layer, fp8 87.8 -> 84.9 (without PDL 93.0 and 88.3). Round 4, float16 pairs (``--packed``): int8
# 75.9 -> 74.2, fp8 89.2 -> 75.3, against 86.9 and 82.6 in float32 with round 3's tiles. bf16 keeps
# the one config that was within 1 % of the best for every shape. Not autotuned: Triton's autotuner
# times each config alone after an L2-flushing memset, which a kernel launched with PDL overlaps by
# reading its first tile early, so it picked configs that read whole rows first and ran slower in the
# model. Benchmarks change these tables.
_TILE = (4, 1024, 4, 3)
GEMV_TILES: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "bf16": {"qkv": _TILE, "o": _TILE, "gate_up": _TILE, "down": _TILE},
    "int8": {"qkv": (8, 1024, 4, 2), "o": (2, 512, 1, 4), "gate_up": (32, 256, 4, 3), "down": _TILE},
    "fp8": {"qkv": (16, 512, 4, 3), "o": (2, 512, 1, 4), "gate_up": (16, 512, 4, 3), "down": _TILE},
}
GEMV_PDL = {"bf16": True, "int8": True, "fp8": True}
# Whether each format's GEMVs multiply in float16 pairs (``_gemv_kernel``'s PACKED; weights of these dtypes
# only); off: float32 multiply-adds, as bf16 (bench/clara_decode_layers.py --packed compares them).
GEMV_PACKED = {"bf16": False, "int8": True, "fp8": True}
_PACKED_DTYPES = (torch.int8, torch.float8_e4m3fn)
PDL_CAPABILITY = (9, 0)


def weight_format(w: torch.Tensor) -> str:
    """The key of ``GEMV_TILES``: "int8", "fp8" (any 1-byte float), else "bf16" (bf16, fp16, fp32)."""
    if w.dtype == torch.int8:
        return "int8"
    return "fp8" if w.element_size() == 1 else "bf16"


def _pdl(x: torch.Tensor) -> bool:
    """Programmatic dependent launch is possible on x's device."""
    return x.is_cuda and torch.cuda.get_device_capability(x.device) >= PDL_CAPABILITY


@triton.jit
def _weights(w_ptrs, n_mask, k_mask, INT8: tl.constexpr, EVEN_K: tl.constexpr, PACKED: tl.constexpr):
    """One [BLOCK_N, BLOCK_K] tile of w as float32 (PACKED: as stored)."""
    if EVEN_K:
        w = tl.load(w_ptrs, mask=n_mask[:, None], other=0.0)
    else:
        w = tl.load(w_ptrs, mask=n_mask[:, None] & k_mask[None, :], other=0.0)
    if not PACKED:
        w = _as_float(w, INT8)
    return w


X_HALF_SCALE: tl.constexpr = tl.constexpr(2.0 ** -8)  # PACKED: x in float16 is x * this (see _multiply_add)


@triton.jit
def _multiply_add(acc, w, x, INT8: tl.constexpr, PACKED: tl.constexpr):
    """acc + w * x[None, :] for a tile w from ``_weights``. Without PACKED in float32 (w, x, acc float32).
    PACKED: w int8 or fp8 e4m3 as stored, x and acc float16, x scaled by X_HALF_SCALE (w * x stays
    finite for |x| up to ~37,000 with e4m3's 448, ~130,000 with int8's 127); four weights an asm block,
    two an instruction: int8 becomes float16 exactly as (0x6400 | (w ^ 0x80)) - 1152 (the bits of
    1024 + 128 + w, then 1152 off), e4m3 by the packed hardware conversion (exact), then fma.rn.f16x2
    with x. An element of acc adds K / BLOCK_K products (4 to 16 with these tiles) before the rows sum in
    float32: relative error to float64 1.7-1.9e-3 against 1.6-1.8e-3 in float32 (the bf16 output's
    rounding dominates both; Mistral-7B shapes, bench/clara_decode_layers.py)."""
    if PACKED and INT8:
        out = tl.inline_asm_elementwise("""{
            .reg .b32 t, a, b, m;
            xor.b32 t, $2, 0x80808080;
            prmt.b32 a, t, 0x64646464, 0x4140;
            prmt.b32 b, t, 0x64646464, 0x4342;
            mov.b32 m, 0x64806480;
            sub.rn.f16x2 a, a, m;
            sub.rn.f16x2 b, b, m;
            fma.rn.f16x2 $0, a, $3, $5;
            fma.rn.f16x2 $1, b, $4, $6;
            }""", "=r,=r,r,r,r,r,r", [w, x[None, :], acc], dtype=tl.float16, is_pure=True, pack=4)
    elif PACKED:
        out = tl.inline_asm_elementwise("""{
            .reg .b16 lo, hi;
            .reg .b32 a, b;
            mov.b32 {lo, hi}, $2;
            cvt.rn.f16x2.e4m3x2 a, lo;
            cvt.rn.f16x2.e4m3x2 b, hi;
            fma.rn.f16x2 $0, a, $3, $5;
            fma.rn.f16x2 $1, b, $4, $6;
            }""", "=r,=r,r,r,r,r,r", [w, x[None, :], acc], dtype=tl.float16, is_pure=True, pack=4)
    else:
        out = acc + w * x[None, :]
    return out


@triton.jit
def _activations(x_ptr, g_ptr, k_offs, k_mask, squares, NORM: tl.constexpr, EVEN_K: tl.constexpr,
                 PACKED: tl.constexpr):
    """x [BLOCK_K] in float32 (times g with NORM; PACKED: float16, times X_HALF_SCALE) and the running
    sum of x^2."""
    if EVEN_K:
        x = tl.load(x_ptr + k_offs).to(tl.float32)
    else:
        x = tl.load(x_ptr + k_offs, mask=k_mask, other=0.0).to(tl.float32)
    if NORM:
        squares += x * x
        x = x * tl.load(g_ptr + k_offs, mask=k_mask, other=0.0).to(tl.float32)
    if PACKED:
        x = (x * X_HALF_SCALE).to(tl.float16)
    return x, squares


@triton.jit
def _gemv_kernel(x_ptr, w_ptr, s_ptr, g_ptr, r_ptr, y_ptr, N, K, stride_wn, eps,
                 cos_ptr, sin_ptr, k_cache_ptr, v_cache_ptr, slot_ptr, HALF, Q_HEADS, KV_HEADS, SLOTS,
                 INT8: tl.constexpr, PACKED: tl.constexpr, SCALE: tl.constexpr, NORM: tl.constexpr,
                 SWIGLU: tl.constexpr, RESIDUAL: tl.constexpr, ROPE: tl.constexpr, EVEN_K: tl.constexpr,
                 BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, USE_PDL: tl.constexpr):
    """y [N] = (w [N, K] * s[:, None]) @ x [K], multiply-adds in float32 (PACKED: in float16 pairs, see
    ``_multiply_add``; each element of the tile adds K / BLOCK_K products, then the rows sum in float32),
    with optional steps around it:
    - NORM: x is RMS-normalised and scaled by g [K] first (each program sums x^2 as it reads x);
    - SWIGLU: w has 2N rows (gate, then up): y = silu(gate rows @ x) * (up rows @ x);
    - RESIDUAL: y += r [N];
    - ROPE (the fused q/k/v projection of one token): w is [(Q_HEADS + 2 KV_HEADS) * 2 HALF, K], N the
      number of row pairs (j, j + HALF) within a head; each program takes BLOCK_N pairs of one head,
      rotates q and k heads by cos, sin [2 HALF] and writes y [2N] whole, and the k and v heads also
      into the caches [KV_HEADS, SLOTS, 2 HALF] at slot_ptr[0].
    x, g, r and y in the activations' dtype; w int8 / fp8 / bf16 / fp32; s [N or 2N] float32 (SCALE).

    USE_PDL (launched with programmatic dependent launch, Hopper and later): a program reads its first
    weight tile before it waits for the previous kernel (which writes x and r), then lets the next
    kernel launch."""
    rn = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)  # [BLOCK_N] output rows (ROPE: pairs)
    n_mask = rn < N
    if ROPE:
        head = tl.program_id(0) * BLOCK_N // HALF
        j = rn % HALF  # [BLOCK_N] position within the half head
        rn = head * 2 * HALF + j  # the first row of each pair
        pair = HALF
    else:
        pair = N  # SWIGLU: the up rows
    rk = tl.arange(0, BLOCK_K)
    w_ptrs = w_ptr + rn[:, None] * stride_wn + rk[None, :]  # [BLOCK_N, BLOCK_K]
    up_ptrs = w_ptrs + pair * stride_wn
    w = _weights(w_ptrs, n_mask, rk < K, INT8, EVEN_K, PACKED)  # the first tile: weights never wait
    if SWIGLU or ROPE:  # noqa: SIM108 (a constexpr branch)
        up = _weights(up_ptrs, n_mask, rk < K, INT8, EVEN_K, PACKED)
    else:
        up = w
    if USE_PDL:
        tl.extra.cuda.gdc_wait()  # the previous kernel is done: x and r are ready
        tl.extra.cuda.gdc_launch_dependents()
    squares = tl.zeros((BLOCK_K,), dtype=tl.float32)  # NORM: partial sums of x^2
    x, squares = _activations(x_ptr, g_ptr, rk, rk < K, squares, NORM, EVEN_K, PACKED)
    if PACKED:
        acc = _multiply_add(tl.zeros((BLOCK_N, BLOCK_K), tl.float16), w, x, INT8, PACKED)
        acc_up = _multiply_add(tl.zeros((BLOCK_N, BLOCK_K), tl.float16), up, x, INT8, PACKED)
    else:
        acc = w * x[None, :]  # [BLOCK_N, BLOCK_K]
        acc_up = up * x[None, :]  # SWIGLU (else unused)
    for k0 in range(BLOCK_K, K, BLOCK_K):
        k_offs = k0 + rk
        k_mask = k_offs < K
        w_ptrs += BLOCK_K
        x, squares = _activations(x_ptr, g_ptr, k_offs, k_mask, squares, NORM, EVEN_K, PACKED)
        acc = _multiply_add(acc, _weights(w_ptrs, n_mask, k_mask, INT8, EVEN_K, PACKED), x, INT8, PACKED)
        if SWIGLU or ROPE:
            up_ptrs += BLOCK_K
            acc_up = _multiply_add(acc_up, _weights(up_ptrs, n_mask, k_mask, INT8, EVEN_K, PACKED), x, INT8,
                                   PACKED)
    y = tl.sum(acc.to(tl.float32), axis=1)  # [BLOCK_N]
    if PACKED:
        y = y / X_HALF_SCALE
    if SCALE:
        y = y * tl.load(s_ptr + rn, mask=n_mask, other=0.0)
    if NORM:
        y = y * tl.rsqrt(tl.sum(squares, axis=0) / K + eps)
    if SWIGLU or ROPE:
        y_up = tl.sum(acc_up.to(tl.float32), axis=1)
        if PACKED:
            y_up = y_up / X_HALF_SCALE
        if SCALE:
            y_up = y_up * tl.load(s_ptr + pair + rn, mask=n_mask, other=0.0)
        if NORM:
            y_up = y_up * tl.rsqrt(tl.sum(squares, axis=0) / K + eps)
    if SWIGLU:
        y = y / (1.0 + tl.exp(-y)) * y_up
    if RESIDUAL:
        y += tl.load(r_ptr + rn, mask=n_mask, other=0.0).to(tl.float32)
    if ROPE:
        _rope_epilogue(y, y_up, y_ptr, rn, j, n_mask, head, cos_ptr, sin_ptr, k_cache_ptr, v_cache_ptr, slot_ptr,
                       HALF, Q_HEADS, KV_HEADS, SLOTS)
    else:
        tl.store(y_ptr + rn, y.to(y_ptr.dtype.element_ty), mask=n_mask)


@triton.jit
def _rope_epilogue(lo, hi, y_ptr, rn, j, n_mask, head, cos_ptr, sin_ptr, k_cache_ptr, v_cache_ptr, slot_ptr,
                   HALF, Q_HEADS, KV_HEADS, SLOTS):
    """Rows (rn, rn + HALF) of head ``head``: rotate q and k heads (``model.apply_rope``), store them
    in y, and k and v heads also in their cache row at the slot."""
    if head < Q_HEADS + KV_HEADS:
        cos = tl.load(cos_ptr + j, mask=n_mask, other=0.0).to(tl.float32)  # cos[j] = cos[j + HALF]
        sin = tl.load(sin_ptr + j, mask=n_mask, other=0.0).to(tl.float32)
        lo, hi = lo * cos - hi * sin, hi * cos + lo * sin
    lo, hi = lo.to(y_ptr.dtype.element_ty), hi.to(y_ptr.dtype.element_ty)
    tl.store(y_ptr + rn, lo, mask=n_mask)
    tl.store(y_ptr + rn + HALF, hi, mask=n_mask)
    if head >= Q_HEADS:
        kv_head = head - Q_HEADS
        cache_ptr = k_cache_ptr
        if kv_head >= KV_HEADS:
            kv_head -= KV_HEADS
            cache_ptr = v_cache_ptr
        row = cache_ptr + (kv_head * SLOTS + tl.load(slot_ptr)) * 2 * HALF + j  # [BLOCK_N]
        tl.store(row, lo, mask=n_mask)
        tl.store(row + HALF, hi, mask=n_mask)


def gemv_launch(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor | None = None,
                eps: float = 0.0, swiglu: bool = False, residual: torch.Tensor | None = None) -> torch.Tensor:
    """x [K] (contiguous), w [N, K] ([2N, K] with ``swiglu``), scale [N or 2N] float32 or None,
    norm [K], residual [N] -> y [N] in x's dtype (``_gemv_kernel``)."""
    n = w.shape[0] // 2 if swiglu else w.shape[0]
    y = torch.empty(n, dtype=x.dtype, device=x.device)
    _launch_gemv(x, w, scale, norm, eps, residual, y, n, SWIGLU=swiglu, ROPE=False)
    return y


def gemv_qkv_launch(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor, eps: float,
                    cos: torch.Tensor, sin: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
                    slot: torch.Tensor, q_heads: int) -> torch.Tensor:
    """One token's fused q/k/v projection with RMSNorm and RoPE (``_gemv_kernel`` with ROPE):
    x [D], w [(H + 2K) * E, D], norm [D], cos and sin [E], caches [1, K, S, E] (written at slot [1])
    -> y [(H + 2K) * E] (q and k rotated)."""
    _, kv_heads, slots, head_dim = k_cache.shape
    y = torch.empty(w.shape[0], dtype=x.dtype, device=x.device)
    _launch_gemv(x, w, scale, norm, eps, None, y, w.shape[0] // 2, SWIGLU=False, ROPE=True, rope=(
        cos, sin, k_cache, v_cache, slot, head_dim // 2, q_heads, kv_heads, slots))
    return y


def _launch_gemv(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor | None,
                 eps: float, residual: torch.Tensor | None, y: torch.Tensor, n: int, SWIGLU: bool, ROPE: bool,
                 rope: tuple[Any, ...] | None = None) -> None:
    """``_gemv_kernel`` over n outputs (row pairs with SWIGLU or ROPE) with the tile of ``GEMV_TILES``."""
    k = x.shape[0]
    kind = "qkv" if ROPE else "gate_up" if SWIGLU else "down" if k > n else "o"
    fmt = weight_format(w)
    block_n, block_k, warps, stages = GEMV_TILES[fmt][kind]
    block_k = min(block_k, triton.next_power_of_2(k))  # small K (tiny test models): one masked tile
    rope_args = rope if rope is not None else (y, y, y, y, y, 1, 0, 0, 0)
    if ROPE:
        block_n = math.gcd(block_n, rope_args[5])  # a program's pairs stay within half a head
    pdl = GEMV_PDL[fmt] and _pdl(x)
    _gemv_kernel[(triton.cdiv(n, block_n),)](
        x, w, y if scale is None else scale, y if norm is None else norm, y if residual is None else residual, y,
        n, k, w.stride(0), eps, *rope_args, INT8=w.dtype == torch.int8,
        PACKED=GEMV_PACKED[fmt] and w.dtype in _PACKED_DTYPES, SCALE=scale is not None,
        NORM=norm is not None, SWIGLU=SWIGLU, RESIDUAL=residual is not None, ROPE=ROPE, EVEN_K=k % block_k == 0,
        BLOCK_N=block_n, BLOCK_K=block_k, USE_PDL=pdl, num_warps=warps, num_stages=stages, launch_pdl=pdl)


# ``_decode_attention_kernel``: slots a step, and the grid: one program per kv head and SPLIT slots of the
# static cache (fixed by the cache size, so a CUDA graph keeps it), at most MAX_SPLITS. H200, Mistral-7B,
# a graph of 32 layers (bench/clara_decode_layers.py): cache 384, length 260: 5.0 us a layer (SDPA with
# the mask 13.6); 1024/900: 7.6 (26.5); 4096/4000: 13.1 (88.5).
DECODE_ATTENTION_BLOCK = 64
DECODE_ATTENTION_SPLIT = 64
DECODE_ATTENTION_MAX_SPLITS = 16
DECODE_ATTENTION_WARPS = 4


@triton.jit
def _decode_attention_kernel(q_ptr, k_ptr, v_ptr, mask_ptr, slot_ptr, part_ptr, stats_ptr, done_ptr, out_ptr,
                             SLOTS, scale, GROUPS: tl.constexpr, GROUPS_PAD: tl.constexpr, HEAD_DIM: tl.constexpr,
                             BLOCK_S: tl.constexpr, SPLITS: tl.constexpr, IEEE: tl.constexpr, USE_PDL: tl.constexpr):
    """One query token over the KV cache (flash-decoding): program (h, i) takes the G = GROUPS query
    heads of kv head h over the i-th of SPLITS equal parts of slots 0..slot_ptr[0] (the query's own
    slot: the mask hides every later one), and the last program of kv head h to finish merges the
    parts (``done_ptr`` [K] counts them, and is back at 0 after).

    q [H * E], caches [K, SLOTS, E], mask [SLOTS] additive (0 / -inf) -> out [H * E] in q's dtype;
    scores scaled by ``scale`` (1/sqrt(E)) as SDPA does, in float32; part [K, SPLITS, G_PAD, E] and
    stats [K, SPLITS, 2, G_PAD] float32 scratch."""
    kv_head = tl.program_id(0)
    split = tl.program_id(1)
    if USE_PDL:
        tl.extra.cuda.gdc_wait()  # q and this slot's k and v come from the previous kernel
        tl.extra.cuda.gdc_launch_dependents()
    length = tl.load(slot_ptr).to(tl.int32) + 1
    per_split = tl.cdiv(tl.cdiv(length, BLOCK_S), SPLITS) * BLOCK_S
    start = split * per_split
    end = tl.minimum(start + per_split, length)
    rg = tl.arange(0, GROUPS_PAD)  # [G_PAD] query heads of this kv head (tl.dot needs 16 rows)
    re = tl.arange(0, HEAD_DIM)  # [E]
    q = tl.load(q_ptr + (kv_head * GROUPS + rg)[:, None] * HEAD_DIM + re[None, :], mask=rg[:, None] < GROUPS,
                other=0.0)  # [G_PAD, E]
    k_ptrs = k_ptr + kv_head * SLOTS * HEAD_DIM + re[None, :]
    v_ptrs = v_ptr + kv_head * SLOTS * HEAD_DIM + re[None, :]
    m = tl.full((GROUPS_PAD,), float("-inf"), tl.float32)  # running max of the scores (log2 units)
    total = tl.zeros((GROUPS_PAD,), tl.float32)  # running sum of exp2(score - m)
    acc = tl.zeros((GROUPS_PAD, HEAD_DIM), tl.float32)
    for s0 in range(start, end, BLOCK_S):
        rs = s0 + tl.arange(0, BLOCK_S)  # [BLOCK_S] slots
        valid = rs < end
        k = tl.load(k_ptrs + rs[:, None] * HEAD_DIM, mask=valid[:, None], other=0.0)  # [BLOCK_S, E]
        v = tl.load(v_ptrs + rs[:, None] * HEAD_DIM, mask=valid[:, None], other=0.0)
        bias = tl.load(mask_ptr + rs, mask=valid, other=float("-inf")).to(tl.float32)  # [BLOCK_S]
        if IEEE:  # noqa: SIM108 (a constexpr branch)
            scores = tl.dot(q, tl.trans(k), input_precision="ieee")
        else:
            scores = tl.dot(q, tl.trans(k))  # [G_PAD, BLOCK_S]
        scores = (scores * scale + bias[None, :]) * 1.4426950408889634  # log2(e)
        m_new = tl.maximum(m, tl.max(scores, axis=1))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # a block of masked slots only: no NaN
        p = tl.exp2(scores - m_safe[:, None])
        alpha = tl.exp2(m - m_safe)
        total = total * alpha + tl.sum(p, axis=1)
        if IEEE:
            acc = acc * alpha[:, None] + tl.dot(p, v.to(tl.float32), input_precision="ieee")
        else:
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m = m_new
    out_ptrs = out_ptr + (kv_head * GROUPS + rg)[:, None] * HEAD_DIM + re[None, :]
    if SPLITS == 1:
        tl.store(out_ptrs, (acc / total[:, None]).to(out_ptr.dtype.element_ty), mask=rg[:, None] < GROUPS)
    else:
        part = (kv_head * SPLITS + split) * GROUPS_PAD
        tl.store(part_ptr + (part + rg)[:, None] * HEAD_DIM + re[None, :], acc)
        tl.store(stats_ptr + 2 * part + rg, m)
        tl.store(stats_ptr + 2 * part + GROUPS_PAD + rg, total)
        tl.debug_barrier()  # every thread's stores before the count (a release at GPU scope)
        if tl.atomic_add(done_ptr + kv_head, 1) == SPLITS - 1:  # the last part: merge them all
            out = _merge_splits(part_ptr, stats_ptr, kv_head, rg, re, GROUPS_PAD, HEAD_DIM, SPLITS)
            tl.store(out_ptrs, out.to(out_ptr.dtype.element_ty), mask=rg[:, None] < GROUPS)
            tl.atomic_xchg(done_ptr + kv_head, 0)


@triton.jit
def _merge_splits(part_ptr, stats_ptr, kv_head, rg, re, GROUPS_PAD: tl.constexpr, HEAD_DIM: tl.constexpr,
                  SPLITS: tl.constexpr):
    """The softmax-weighted sum of the SPLITS parts of kv head ``kv_head``, [G_PAD, E] float32 (read
    past L1: other programs wrote them)."""
    m = tl.full((GROUPS_PAD,), float("-inf"), tl.float32)
    total = tl.zeros((GROUPS_PAD,), tl.float32)
    acc = tl.zeros((GROUPS_PAD, HEAD_DIM), tl.float32)
    for i in range(SPLITS):
        part = (kv_head * SPLITS + i) * GROUPS_PAD
        m_i = tl.load(stats_ptr + 2 * part + rg, cache_modifier=".cg")
        total_i = tl.load(stats_ptr + 2 * part + GROUPS_PAD + rg, cache_modifier=".cg")
        acc_i = tl.load(part_ptr + (part + rg)[:, None] * HEAD_DIM + re[None, :], cache_modifier=".cg")
        m_new = tl.maximum(m, m_i)
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # parts past the length are empty
        alpha, beta = tl.exp2(m - m_safe), tl.exp2(m_i - m_safe)
        total = total * alpha + total_i * beta
        acc = acc * alpha[:, None] + acc_i * beta[:, None]
        m = m_new
    return acc / total[:, None]


def decode_attention_launch(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, mask: torch.Tensor,
                            slot: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
    """One token's attention over a batch-1 cache (``_decode_attention_kernel``): q [H * E] (rotated),
    caches [1, K, S, E], mask [S] additive, slot [1] (the token's own slot), done [K] int32 zeros
    -> [H * E]. The same as SDPA of q over the whole cache with that mask."""
    _, kv_heads, slots, head_dim = k_cache.shape
    groups = q.shape[0] // (kv_heads * head_dim)
    groups_pad = max(16, triton.next_power_of_2(groups))
    splits = max(1, min(DECODE_ATTENTION_MAX_SPLITS, slots // DECODE_ATTENTION_SPLIT))
    out = torch.empty_like(q)
    part = torch.empty(kv_heads * splits * groups_pad * head_dim if splits > 1 else 1, device=q.device)
    stats = torch.empty(kv_heads * splits * 2 * groups_pad if splits > 1 else 1, device=q.device)
    pdl = _pdl(q)
    _decode_attention_kernel[(kv_heads, splits)](
        q, k_cache, v_cache, mask, slot, part, stats, done, out, slots, head_dim ** -0.5, GROUPS=groups,
        GROUPS_PAD=groups_pad, HEAD_DIM=head_dim, BLOCK_S=DECODE_ATTENTION_BLOCK, SPLITS=splits,
        IEEE=q.dtype == torch.float32, USE_PDL=pdl, num_warps=DECODE_ATTENTION_WARPS, launch_pdl=pdl)
    return out


@triton.jit
def _dequantize_kernel(q_ptr, s_ptr, out_ptr, K, INT8: tl.constexpr, BLOCK: tl.constexpr):
    """q [N, K] (int8/fp8), s [N] float32 -> out [N, K]: q * s in float32, rounded once."""
    row = tl.program_id(0)
    col = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    q = tl.load(q_ptr + row * K + col, mask=col < K, other=0.0)
    out = _as_float(q, INT8) * tl.load(s_ptr + row)
    tl.store(out_ptr + row * K + col, out.to(out_ptr.dtype.element_ty), mask=col < K)


def dequantize_cuda(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``quantize.dequantize`` in one pass (1 byte read, 2 written per weight)."""
    q = q.contiguous()
    n, k = q.shape
    out = torch.empty(n, k, dtype=dtype, device=q.device)
    block = 1024
    _dequantize_kernel[(n, triton.cdiv(k, block))](q, scale, out, k, INT8=q.dtype == torch.int8, BLOCK=block)
    return out


def launch(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x [M, K] (M <= 16, contiguous rows), w [N, K], scale [N] float32 -> [M, N]."""
    m, k = x.shape
    if m == 1:
        return gemv_launch(x[0], w, scale)[None]
    n = w.shape[0]
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)

    def grid(meta: dict[str, Any]) -> tuple[int]:
        return (triton.cdiv(n, meta["BLOCK_N"]),)

    _weight_only_mm_kernel[grid](x, w, scale, y, m, n, k, x.stride(0), w.stride(0), y.stride(0),
                                 INT8=w.dtype == torch.int8, BLOCK_M=BLOCK_M)
    return y


_registered = [False]


def register() -> None:
    """``torch.ops.clara.weight_only_mm``, ``.gemv`` and ``.gemv_qkv``: torch.compile sees opaque ops,
    not Triton's launcher. Registered once, before any compiled code calls them (``Mistral.quantize``
    and ``Mistral.use_gemv`` on CUDA)."""
    if _registered[0]:
        return

    @torch.library.custom_op("clara::weight_only_mm", mutates_args=())
    def weight_only_mm_op(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return launch(x, w, scale)

    @weight_only_mm_op.register_fake
    def _(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return x.new_empty(x.shape[0], w.shape[0])

    @torch.library.custom_op("clara::gemv", mutates_args=(), schema=_GEMV_SCHEMA)
    def gemv_op(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor | None,
                eps: float, swiglu: bool, residual: torch.Tensor | None) -> torch.Tensor:
        return gemv_launch(x, w, scale, norm, eps, swiglu, residual)

    @gemv_op.register_fake
    def _(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor | None,
          eps: float, swiglu: bool, residual: torch.Tensor | None) -> torch.Tensor:
        return x.new_empty(w.shape[0] // 2 if swiglu else w.shape[0])

    @torch.library.custom_op("clara::gemv_qkv", mutates_args=("k_cache", "v_cache"), schema=_QKV_SCHEMA)
    def gemv_qkv_op(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor, eps: float,
                    cos: torch.Tensor, sin: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
                    slot: torch.Tensor, q_heads: int) -> torch.Tensor:
        return gemv_qkv_launch(x, w, scale, norm, eps, cos, sin, k_cache, v_cache, slot, q_heads)

    @gemv_qkv_op.register_fake
    def _(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor, eps: float,
          cos: torch.Tensor, sin: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, slot: torch.Tensor,
          q_heads: int) -> torch.Tensor:
        return x.new_empty(w.shape[0])

    @torch.library.custom_op("clara::decode_attention", mutates_args=("done",), schema=_ATTENTION_SCHEMA)
    def decode_attention_op(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, mask: torch.Tensor,
                            slot: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        return decode_attention_launch(q, k_cache, v_cache, mask, slot, done)

    @decode_attention_op.register_fake
    def _(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, mask: torch.Tensor, slot: torch.Tensor,
          done: torch.Tensor) -> torch.Tensor:
        return torch.empty_like(q)

    _registered[0] = True


_GEMV_SCHEMA = "(Tensor x, Tensor w, Tensor? scale, Tensor? norm, float eps, bool swiglu, Tensor? residual) -> Tensor"
_QKV_SCHEMA = ("(Tensor x, Tensor w, Tensor? scale, Tensor norm, float eps, Tensor cos, Tensor sin, "
               "Tensor(a!) k_cache, Tensor(b!) v_cache, Tensor slot, int q_heads) -> Tensor")
_ATTENTION_SCHEMA = ("(Tensor q, Tensor k_cache, Tensor v_cache, Tensor mask, Tensor slot, Tensor(a!) done) "
                     "-> Tensor")


def gemv(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor | None = None,
         eps: float = 0.0, swiglu: bool = False, residual: torch.Tensor | None = None) -> torch.Tensor:
    """One row of a decode step: ``gemv_launch`` as an op torch.compile keeps whole. x [K] -> [N]."""
    register()
    return torch.ops.clara.gemv(x.contiguous(), w, scale, norm, eps, swiglu, residual)


def gemv_qkv(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor | None, norm: torch.Tensor, eps: float,
             cos: torch.Tensor, sin: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, slot: torch.Tensor,
             q_heads: int) -> torch.Tensor:
    """``gemv_qkv_launch`` as an op torch.compile keeps whole (it writes the two caches)."""
    register()
    return torch.ops.clara.gemv_qkv(x.contiguous(), w, scale, norm, eps, cos.contiguous(), sin.contiguous(),
                                    k_cache, v_cache, slot, q_heads)


def decode_attention(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, mask: torch.Tensor,
                     slot: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
    """``decode_attention_launch`` as an op torch.compile keeps whole. q [H * E] -> [H * E]."""
    register()
    return torch.ops.clara.decode_attention(q.contiguous(), k_cache, v_cache, mask.contiguous(), slot, done)


def weight_only_mm(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x [M, K] @ (w * scale[:, None])^T -> [M, N], M <= 16; shapes the kernels cannot tile (K not a
    multiple of 256) are dequantised instead."""
    if x.shape[0] > BLOCK_M or x.shape[1] % 256:
        return torch.nn.functional.linear(x, dequantize(w, scale, x.dtype))
    register()
    return torch.ops.clara.weight_only_mm(x.contiguous(), w, scale)
