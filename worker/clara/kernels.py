"""The decoding matmul of quantized weights: ``y = (x @ q^T) * s`` for a few rows of x, as one Triton
kernel that reads the int8 / fp8 weight once and converts it in registers (CUDA only; imported on
first use, so the CPU never needs Triton).

Decoding reads every weight once per token, so its speed is the weight bytes over memory bandwidth:
dequantising to bf16 first (a write and a read of 2 bytes per weight) would be slower than bf16 itself.
PyTorch has no fast kernel for this (``torch._weight_int8pack_mm`` on CUDA is a reference loop, and
``torch._scaled_mm`` needs fp8 activations); ``bench/clara_kernels.py`` measures the alternatives.

Each program computes ``BLOCK_N`` output channels for all (at most 16) rows: the rows are padded to 16
for the tensor cores, which cost nothing here since the kernel waits on memory anyway.
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


@triton.autotune(configs=_CONFIGS, key=["N", "K"], prune_configs_by={"early_config_prune": _fitting})
@triton.jit
def _weight_only_mm_kernel(x_ptr, w_ptr, s_ptr, y_ptr, M, N, K, stride_xm, stride_wn, stride_ym,
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
        acc = tl.dot(x, tl.trans(w.to(x.dtype)), acc)
        x_ptrs += BLOCK_K
        w_ptrs += BLOCK_K
    scale = tl.load(s_ptr + rn, mask=rn < N, other=0.0)
    acc = acc * scale[None, :]
    y_ptrs = y_ptr + rm[:, None] * stride_ym + rn[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=(rm[:, None] < M) & (rn[None, :] < N))


def launch(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x [M, K] (M <= 16, contiguous rows), w [N, K], scale [N] float32 -> [M, N]."""
    m, k = x.shape
    n = w.shape[0]
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)

    def grid(meta: dict[str, Any]) -> tuple[int]:
        return (triton.cdiv(n, meta["BLOCK_N"]),)

    _weight_only_mm_kernel[grid](x, w, scale, y, m, n, k, x.stride(0), w.stride(0), y.stride(0),
                                 BLOCK_M=BLOCK_M)
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
    """x [M, K] @ (w * scale[:, None])^T -> [M, N], M <= 16; shapes the kernel cannot tile (K not a
    multiple of 128) are dequantised instead."""
    if x.shape[0] > BLOCK_M or x.shape[1] % 128:
        return torch.nn.functional.linear(x, dequantize(w, scale, x.dtype))
    register()
    return torch.ops.clara.weight_only_mm(x.contiguous(), w, scale)
