"""Round 1's batch-1 GEMV for 1-byte weights (issue 15), kept here only to time it beside round 2's fused
kernel (``worker/clara/kernels._gemv_kernel``) in one machine session: ``clara_kernels.py`` runs both.

The kernel as it was in the engine before round 2: one row, int8 or fp8 weights [N, K], per-channel
scales, int8 converted through the bits of 2^23 + 128 + w, autotuned over ``CONFIGS``."""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from worker.clara.kernels import _as_float, _fitting  # the same int8 conversion and tile filter as round 2

CONFIGS = [triton.Config({"BLOCK_N": n, "BLOCK_K": k}, num_warps=w, num_stages=s)
           for n, k, w, s in ((4, 1024, 4, 3), (8, 512, 4, 3), (8, 1024, 4, 2), (16, 512, 8, 3),
                              (4, 2048, 8, 2), (2, 2048, 4, 3), (16, 256, 4, 4))]


@triton.autotune(configs=CONFIGS, key=["N", "K"], prune_configs_by={"early_config_prune": _fitting})
@triton.jit
def _gemv_kernel(x_ptr, w_ptr, s_ptr, y_ptr, N, K, stride_wn, INT8: tl.constexpr, BLOCK_N: tl.constexpr,
                 BLOCK_K: tl.constexpr):
    """x [K] (bf16), w [N, K] (int8/fp8), s [N] float32 -> y [N] in x's dtype."""
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


def launch(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x [1, K], w [N, K] int8 or fp8, scale [N] float32 -> [1, N]."""
    n, k = w.shape
    y = torch.empty(1, n, dtype=x.dtype, device=x.device)

    def grid(meta: dict[str, Any]) -> tuple[int]:
        return (triton.cdiv(n, meta["BLOCK_N"]),)

    _gemv_kernel[grid](x, w, scale, y, n, k, w.stride(0), INT8=w.dtype == torch.int8)
    return y
