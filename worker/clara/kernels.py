"""Triton kernels for quantized weights (CUDA only; imported on first use, so the CPU never needs
Triton): the decoding matmul ``y = (x @ q^T) * s`` for a few rows of x, which reads the int8 / fp8
weight once and converts it in registers, and the dequantisation of a whole matrix for the long passes.

Decoding reads every weight once per token, so its speed is the weight bytes over memory bandwidth:
dequantising to bf16 first (a write and a read of 2 bytes per weight) is slower than bf16 itself.
PyTorch has no fast kernel for this (``torch._weight_int8pack_mm`` on CUDA is a reference loop, and
``torch._scaled_mm`` needs fp8 activations); ``bench/clara_kernels.py`` measures the alternatives.

- One row (batch-1 decoding): ``_gemv_kernel``, multiply-adds in float32 without the tensor cores.
  int8 becomes float32 through the bits of 2^23 + 128 + w (an integer add and a float subtract,
  exact), several times cheaper than a conversion instruction, which capped the first kernel at ~60 %
  of the memory bandwidth (H200, docs/performance.md).
- 2 to 16 rows: ``_weight_only_mm_kernel`` pads the rows to 16 for the tensor cores, which cost
  nothing here since the kernel waits on memory anyway.
"""

from __future__ import annotations

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


_GEMV_CONFIGS = [triton.Config({"BLOCK_N": n, "BLOCK_K": k}, num_warps=w, num_stages=s)
                 for n, k, w, s in ((4, 1024, 4, 3), (8, 512, 4, 3), (8, 1024, 4, 2), (16, 512, 8, 3),
                                    (4, 2048, 8, 2), (2, 2048, 4, 3), (16, 256, 4, 4))]


@triton.autotune(configs=_GEMV_CONFIGS, key=["N", "K"], prune_configs_by={"early_config_prune": _fitting})
@triton.jit
def _gemv_kernel(x_ptr, w_ptr, s_ptr, y_ptr, N, K, stride_wn, INT8: tl.constexpr, BLOCK_N: tl.constexpr,
                 BLOCK_K: tl.constexpr):
    """x [K] (bf16/fp16), w [N, K] (int8/fp8/bf16), s [N] float32 -> y [N] in x's dtype."""
    rn = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    w_ptrs = w_ptr + rn[:, None] * stride_wn + rk[None, :]
    x_ptrs = x_ptr + rk
    acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
    for _ in range(0, K // BLOCK_K):
        w = tl.load(w_ptrs, mask=rn[:, None] < N, other=0.0)
        acc += _as_float(w, INT8) * tl.load(x_ptrs).to(tl.float32)[None, :]
        w_ptrs += BLOCK_K
        x_ptrs += BLOCK_K
    y = tl.sum(acc, axis=1) * tl.load(s_ptr + rn, mask=rn < N, other=0.0)
    tl.store(y_ptr + rn, y.to(y_ptr.dtype.element_ty), mask=rn < N)


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
    n = w.shape[0]
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)

    def grid(meta: dict[str, Any]) -> tuple[int]:
        return (triton.cdiv(n, meta["BLOCK_N"]),)

    if m == 1:
        _gemv_kernel[grid](x, w, scale, y, n, k, w.stride(0), INT8=w.dtype == torch.int8)
    else:
        _weight_only_mm_kernel[grid](x, w, scale, y, m, n, k, x.stride(0), w.stride(0), y.stride(0),
                                     INT8=w.dtype == torch.int8, BLOCK_M=BLOCK_M)
    return y


_registered = [False]


def register() -> None:
    """``torch.ops.clara.weight_only_mm``: torch.compile sees one opaque op, not Triton's launcher.
    Registered once, before any compiled code calls it (``Mistral.quantize`` on CUDA)."""
    if _registered[0]:
        return

    @torch.library.custom_op("clara::weight_only_mm", mutates_args=())
    def weight_only_mm_op(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return launch(x, w, scale)

    @weight_only_mm_op.register_fake
    def _(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return x.new_empty(x.shape[0], w.shape[0])

    _registered[0] = True


def weight_only_mm(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x [M, K] @ (w * scale[:, None])^T -> [M, N], M <= 16; shapes the kernels cannot tile (K not a
    multiple of 256) are dequantised instead."""
    if x.shape[0] > BLOCK_M or x.shape[1] % 256:
        return torch.nn.functional.linear(x, dequantize(w, scale, x.dtype))
    register()
    return torch.ops.clara.weight_only_mm(x.contiguous(), w, scale)
