"""Weight-only quantization of the Mistral projections (issue 15), chosen by ``CLARA_WEIGHTS``.

- ``bf16``: the released weights as they are (the compute dtype: bf16 on CUDA, fp32 on the CPU).
- ``int8``: each adapted projection W [out, in] (q, k, v, o, gate, up, down of every layer) becomes
  ``q * s[:, None]``: q int8 in [-127, 127], s = max|W_row| / 127 per output channel (float32).
- ``fp8``: the same with q float8 e4m3 (s = max|W_row| / 448, e4m3's largest value). Needs a GPU with
  fp8 conversion in hardware (compute capability 8.9: Ada, Hopper); the CPU runs it too (tests).

Embeddings, lm_head, norms and the LoRA adapters stay in the compute dtype. The decoder adapter is
merged into W before W is quantized (``Mistral.quantize``), so the generator runs on quantized
``W + ΔD`` alone; the encoder and the query reasoner add their bf16 low-rank correction as in the bf16
fast path (lora.py). Activations stay in the compute dtype: only the weights are stored smaller.

Matmuls (``linear``) compute ``x @ (q * s)^T``:
- few rows on CUDA (decoding): one Triton kernel reads q once and scales the fp32 sums (kernels.py);
- otherwise (prefill, compression, the CPU): W is dequantised to the compute dtype (one transient
  copy of one matrix) and multiplied as usual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from worker.clara.config import WEIGHT_FORMATS
from worker.clara.errors import CheckpointError

QUANTIZED_DTYPES = {"int8": torch.int8, "fp8": torch.float8_e4m3fn}
_LARGEST = {"int8": 127.0, "fp8": 448.0}
FP8_CAPABILITY = (8, 9)  # e4m3 conversion in hardware: Ada (8.9), Hopper (9.0) and later
SMALL_ROWS = 16  # at most this many rows take the decoding kernel (kernels.py)


def check_format(weights: str, device: torch.device, capability: tuple[int, int] | None = None) -> None:
    """Refuse an unknown format, and fp8 on a GPU without fp8 support (``capability`` defaults to the
    device's), with a message that says what to use instead."""
    if weights not in WEIGHT_FORMATS:
        raise CheckpointError(f"unknown weight format {weights!r}: use one of {', '.join(WEIGHT_FORMATS)}")
    if weights != "fp8" or device.type != "cuda":
        return
    if capability is None:
        capability = torch.cuda.get_device_capability(device)
    if tuple(capability) < FP8_CAPABILITY:
        raise CheckpointError(
            f"fp8 weights need a GPU of compute capability {FP8_CAPABILITY[0]}.{FP8_CAPABILITY[1]} or newer "
            f"(Ada, Hopper); this one is {capability[0]}.{capability[1]}: use CLARA_WEIGHTS=int8")


def quantize_weight(weight: torch.Tensor, weights: str) -> tuple[torch.Tensor, torch.Tensor]:
    """W [out, in] -> (q [out, in] int8 or float8_e4m3fn, s [out] float32), symmetric per output
    channel, computed in float32 on W's device."""
    largest = _LARGEST[weights]
    w = weight.to(torch.float32, copy=True)  # worked on in place below
    scale = w.abs().amax(dim=1).clamp_min(1e-12) / largest  # [out]
    w.div_(scale[:, None])
    if weights == "int8":
        q = w.round_().clamp_(-largest, largest).to(torch.int8)
    else:  # e4m3 has no infinity: values past 448 would become NaN, so clamp before the cast
        q = w.clamp_(-largest, largest).to(torch.float8_e4m3fn)
    return q, scale


def dequantize(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(q [out, in], s [out]) -> W [out, in] in ``dtype``: q * s in float32, rounded once (one pass
    for int8; e4m3, which PyTorch does not promote, is first widened to ``dtype``, exactly)."""
    if q.is_cuda:  # one Triton pass: PyTorch's mixed-dtype multiply ran at ~0.7 TB/s on an H200
        from worker.clara.kernels import dequantize_cuda

        return dequantize_cuda(q, scale, dtype)
    out = torch.empty(q.shape, dtype=dtype, device=q.device)
    return torch.mul(q if q.dtype == torch.int8 else q.to(dtype), scale[:, None], out=out)


def linear(x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    """x [..., in] @ W^T -> [..., out]; W = weight, or weight * scale when quantized."""
    if scale is None:
        return F.linear(x, weight)
    rows = x.numel() // x.shape[-1]
    if x.is_cuda and rows <= SMALL_ROWS and x.dtype in (torch.bfloat16, torch.float16):
        from worker.clara.kernels import weight_only_mm

        out = weight_only_mm(x.reshape(rows, x.shape[-1]), weight, scale)  # [rows, out]
        return out.view(*x.shape[:-1], weight.shape[0])
    return F.linear(x, dequantize(weight, scale, x.dtype))
