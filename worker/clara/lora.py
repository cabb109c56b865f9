"""Our own LoRA: a bias-free Linear that holds named low-rank adapters and one active adapter.

``y = x W^T + (x A^T) B^T * alpha/r`` for the active adapter. The scale is folded into ``B`` when an
adapter is added (alpha/r = 2 for CLaRa: a power of two, so exact in bf16).

Speed (issue 5): one adapter can be *merged* into ``W`` (``W += B A``). The layer then computes
``x W^T`` alone while the merged adapter is active, and corrects with two low-rank products
(``- x A_m^T B_m^T + x A_a^T B_a^T``) while another one is: the generator keeps its adapter merged
(decoding is bound by weight reads, so the per-layer LoRA products cost most there) while compression
and question encoding, which are prefill-bound, pay the small low-rank corrections. No copy of ``W``
is kept, so merging costs no memory.

Many rows (compression, question encoding): the low-rank term costs passes over the activations
(read x, then read and write y), while the same term added to the weight costs passes over the weight
(``W + B A``, a transient copy). ``forward`` takes the cheaper side for its row count
(``corrects_weight``); quantized weights are dequantised to a transient copy for many rows anyway, so
there the correction rides along. ``held_weights`` keeps such a copy for several calls (the MLP's row
chunks), so a weight is dequantised and corrected once per layer, not once per chunk.

Quantized weights (issue 15, quantize.py): ``quantize`` replaces ``W`` by int8 / fp8 values and a
per-channel scale after the generator's adapter is merged; that merge is then fixed, and the adapters
stay in the compute dtype.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from worker.clara.quantize import dequantize, linear, quantize_weight


@dataclass
class LoraWeights:
    a: torch.Tensor  # [r, in_features]
    b: torch.Tensor  # [out_features, r], already multiplied by alpha / r


def add_low_rank(y: torch.Tensor, x: torch.Tensor, extra: LoraWeights | None) -> torch.Tensor:
    """y += (x A^T) B^T in place (y is a fresh matmul output): no second [..., out] tensor, which
    matters for the 1 GB gate/up activations of a 64-document compression batch."""
    if extra is None:
        return y
    xa = F.linear(x, extra.a)  # [..., r]
    y.view(-1, y.shape[-1]).addmm_(xa.reshape(-1, xa.shape[-1]), extra.b.t())
    return y


def corrects_weight(rows: int, in_features: int, out_features: int) -> bool:
    """Whether the low-rank term is cheaper added to the weight than to the output, by memory traffic:
    on the output it reads x and reads and writes y (``rows * (in + 2 out)`` elements), on the weight
    it reads W and writes the corrected copy (``2 * out * in``); the tiny rank-r products cost the same
    either way. For Mistral-7B's projections the weight side wins past about 1,400-5,200 rows."""
    return rows * (in_features + 2 * out_features) > 2 * out_features * in_features


def effective_weight(weight: torch.Tensor, scale: torch.Tensor | None, extra: LoraWeights | None,
                     dtype: torch.dtype) -> torch.Tensor:
    """W [out, in] as the active adapter sees it, in ``dtype``: dequantised (``scale``) and with the
    low-rank term ``B A`` added; a transient copy unless W serves as it is."""
    if scale is not None:
        w = dequantize(weight, scale, dtype)  # a fresh copy: corrected in place
        return w if extra is None else w.addmm_(extra.b, extra.a)
    return weight if extra is None else torch.addmm(weight, extra.b, extra.a)


def project(x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor | None, extra: LoraWeights | None,
            held: torch.Tensor | None) -> torch.Tensor:
    """x [..., in] -> [..., out] through W (+ the low-rank term), on the cheaper side for x's rows."""
    if held is not None:
        return F.linear(x, held)
    rows = x.numel() // x.shape[-1]
    if extra is not None and corrects_weight(rows, weight.shape[1], weight.shape[0]):
        return F.linear(x, effective_weight(weight, scale, extra, x.dtype))
    return add_low_rank(linear(x, weight, scale), x, extra)


class LoraLinear(nn.Module):
    """``nn.Linear(in, out, bias=False)`` with named adapters. ``weight`` keeps the HF key name."""

    weight_scale: torch.Tensor | None  # [out] float32 when ``weight`` is quantized (quantize.py)

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features), requires_grad=False)
        self.register_buffer("weight_scale", None, persistent=False)
        # Adapters are not parameters: they stay out of state_dict(), so the base weights load strictly.
        self.adapters: dict[str, LoraWeights] = {}
        self.active: str | None = None
        self.merged: str | None = None
        self.held: torch.Tensor | None = None  # set inside ``held_weights``: the weight every call uses
        self._corrections: dict[tuple[str | None, str | None], LoraWeights] = {}

    def add_adapter(self, name: str, a: torch.Tensor, b: torch.Tensor, scale: float) -> None:
        if a.shape[1] != self.in_features or b.shape[0] != self.out_features or a.shape[0] != b.shape[1]:
            raise ValueError(f"adapter {name}: A {tuple(a.shape)} / B {tuple(b.shape)} do not fit "
                             f"a {self.in_features}->{self.out_features} layer")
        dtype, device = self.weight.dtype, self.weight.device
        self.adapters[name] = LoraWeights(
            a=a.to(device=device, dtype=dtype).contiguous(),
            b=(b.to(device=device, dtype=torch.float32) * scale).to(dtype).contiguous(),
        )
        self._corrections.clear()

    def delta(self, name: str) -> torch.Tensor:  # [out, in] in float32
        weights = self.adapters[name]
        return weights.b.float() @ weights.a.float()

    def merge(self, name: str | None) -> None:
        """Bake adapter ``name`` into ``weight`` (None: restore the plain base weight)."""
        if name == self.merged:
            return
        if self.weight_scale is not None:
            raise ValueError(f"quantized weights keep the adapter merged before quantizing ({self.merged})")
        with torch.no_grad():
            w = self.weight.float()
            if self.merged is not None:
                w -= self.delta(self.merged)
            if name is not None:
                w += self.delta(name)
            self.weight.copy_(w.to(self.weight.dtype))
        self.merged = name

    def move(self, device: torch.device) -> None:
        """Move the weight and the adapters (plain attributes, which ``Module.to`` leaves behind)."""
        self.weight = nn.Parameter(self.weight.to(device), requires_grad=False)
        self.adapters = {name: LoraWeights(w.a.to(device), w.b.to(device)) for name, w in self.adapters.items()}
        self._corrections.clear()

    def quantize(self, weights: str) -> None:
        """``weight`` -> per-channel int8 / fp8 values and ``weight_scale`` (quantize.py), in place."""
        q, scale = quantize_weight(self.weight, weights)
        self.weight = nn.Parameter(q, requires_grad=False)
        self.weight_scale = scale

    def correction(self) -> LoraWeights | None:
        """The low-rank term to add to ``x W^T`` for the active adapter, given the merged one: one
        pair of matrices (rank r, or 2r = active minus merged), built once per combination."""
        if self.active == self.merged:
            return None
        key = (self.active, self.merged)
        if key not in self._corrections:
            parts = []
            if self.active is not None:
                parts.append(self.adapters[self.active])
            if self.merged is not None:
                m = self.adapters[self.merged]
                parts.append(LoraWeights(m.a, -m.b))
            self._corrections[key] = LoraWeights(torch.cat([p.a for p in parts], 0),
                                                 torch.cat([p.b for p in parts], 1))
        return self._corrections[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., out]
        return project(x, self.weight, self.weight_scale, self.correction(), self.held)

    def extra_repr(self) -> str:
        return (f"in={self.in_features}, out={self.out_features}, adapters={sorted(self.adapters)}, "
                f"active={self.active}, merged={self.merged}")


class FusedLinear(nn.Module):
    """Several LoraLinear layers that read the same input (q, k, v; gate, up) as one matmul.

    The parts keep working on their own: their ``weight`` becomes a view into the fused weight (no
    copy is kept, and merging an adapter into a part updates the fused weight), and the active
    adapters' low-rank corrections are concatenated (block-diagonal B) into one pair of matmuls."""

    def __init__(self, parts: list[LoraLinear]) -> None:
        super().__init__()
        if len({p.in_features for p in parts}) != 1:
            raise ValueError("fused layers must share their input size")
        weight = torch.cat([p.weight.detach() for p in parts], 0)  # [sum(out), in]
        self.weight = nn.Parameter(weight, requires_grad=False)
        scales = [p.weight_scale for p in parts]
        self.weight_scale = None if any(s is None for s in scales) else torch.cat(scales)  # type: ignore[arg-type]
        offset = 0
        for part in parts:
            end = offset + part.out_features
            part.weight = nn.Parameter(weight[offset:end], requires_grad=False)
            if self.weight_scale is not None:
                part.weight_scale = self.weight_scale[offset:end]
            offset = end
        self.parts = list(parts)  # a plain list: the parts stay registered where they were
        self.enabled = True  # False: the owner calls the parts one by one (benchmarks compare both)
        self.held: torch.Tensor | None = None  # as LoraLinear.held
        self.sizes = [p.out_features for p in parts]
        self._corrections: dict[tuple[tuple[str | None, str | None], ...], LoraWeights | None] = {}

    def correction(self) -> LoraWeights | None:
        key = tuple((p.active, p.merged) for p in self.parts)
        if key not in self._corrections:
            pieces = [p.correction() for p in self.parts]
            if all(c is None for c in pieces):
                self._corrections[key] = None
            else:
                ranks = [c.a.shape[0] if c is not None else 0 for c in pieces]
                ref = next(c for c in pieces if c is not None)
                a = torch.cat([c.a for c in pieces if c is not None], 0)  # [sum(r), in]
                b = ref.b.new_zeros(sum(self.sizes), sum(ranks))  # [sum(out), sum(r)], block-diagonal
                row = col = 0
                for c, size, rank in zip(pieces, self.sizes, ranks, strict=True):
                    if c is not None:
                        b[row:row + size, col:col + rank] = c.b
                    row, col = row + size, col + rank
                self._corrections[key] = LoraWeights(a, b)
        return self._corrections[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., sum(out)]
        return project(x, self.weight, self.weight_scale, self.correction(), self.held)


@contextmanager
def held_weights(layers: list[LoraLinear | FusedLinear], rows: int, dtype: torch.dtype) -> Iterator[None]:
    """Inside: each layer whose weight would be dequantised or corrected for ``rows`` rows computes
    that copy once and uses it for every call (several row chunks of the same input), instead of once
    per call. Costs the copies' memory while inside (for Mistral-7B's MLP at most 3 x 117 MB)."""
    for layer in layers:
        extra = layer.correction()
        out_features, in_features = layer.weight.shape
        if layer.weight_scale is not None or (extra is not None and corrects_weight(rows, in_features, out_features)):
            layer.held = effective_weight(layer.weight, layer.weight_scale, extra, dtype)
    try:
        yield
    finally:
        for layer in layers:
            layer.held = None
