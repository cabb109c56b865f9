"""Our own Mistral (gpt-fast / nanoGPT style) with HF parameter names, so the base weights of a
Mistral-7B-Instruct-v0.2 folder load with ``load_state_dict(..., assign=True)`` as they are.

Shapes: B batch, T query length, S key length (cache slots), D hidden, H heads, K kv heads,
E head dim, F intermediate, V vocabulary, G = H / K query heads per kv head.

Attention takes a mask (``attention_mask``: padded batches, decoding over a cache) or ``Packed``
sequences: several laid end to end in one row, no padding, each causal within itself (compression).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from worker.clara.config import read_config_json
from worker.clara.errors import CheckpointError
from worker.clara.lora import FusedLinear, LoraLinear, held_weights


@dataclass(frozen=True)
class ModelConfig:
    hidden_size: int  # D
    num_hidden_layers: int
    num_attention_heads: int  # H
    num_key_value_heads: int  # K
    intermediate_size: int  # F
    vocab_size: int  # V of the base model (32000); the CLaRa vocab is larger
    rms_norm_eps: float = 1e-5
    rope_theta: float = 1e6
    head_dim: int | None = None  # E; hidden_size // num_attention_heads when absent
    sliding_window: int | None = None  # null for Mistral v0.2; honoured when set

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelConfig:
        required = ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "intermediate_size", "vocab_size"]
        missing = [key for key in required if key not in raw]
        if missing:
            raise CheckpointError(f"the base model's config.json lacks: {', '.join(missing)}")
        if raw.get("model_type", "mistral") not in ("mistral", "llama"):
            raise CheckpointError("the base model is not a Mistral model (config.json model_type)")
        if raw.get("hidden_act", "silu") != "silu" or raw.get("tie_word_embeddings", False):
            raise CheckpointError("the base model's config.json does not describe Mistral-7B")
        optional = {"rms_norm_eps", "rope_theta", "head_dim", "sliding_window"}
        # rope_theta may sit under rope_parameters in newer transformers configs
        values = {key: raw[key] for key in [*required, *optional] if raw.get(key) is not None}
        rope = raw.get("rope_parameters") or {}
        if "rope_theta" not in values and isinstance(rope, dict) and "rope_theta" in rope:
            values["rope_theta"] = rope["rope_theta"]
        return cls(**values)

    @classmethod
    def from_file(cls, path: Path) -> ModelConfig:
        return cls.from_dict(read_config_json(path, "the base model"))


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:  # [..., D]
    # normalise in float32, cast back, then scale (the order HF Mistral uses)
    h = F.rms_norm(x.float(), (x.shape[-1],), eps=eps)
    return weight * h.to(x.dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:  # [B, H, T, E]
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return F.silu(gate) * up


class ElementwiseOps:
    """The elementwise pieces of a layer. ``compile_elementwise`` swaps in torch.compile'd versions
    (one fused kernel each instead of 2-8), shared by every layer, role and shape."""

    def __init__(self) -> None:
        self.rms_norm: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor] = rms_norm
        self.rope: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] = apply_rope
        self.swiglu: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = swiglu
        self.compiled = False


OPS = ElementwiseOps()


def compile_elementwise(backend: str = "inductor") -> None:
    """Opt-in (process-wide): fused RMSNorm, RoPE and SwiGLU through torch.compile. Idempotent."""
    if OPS.compiled:
        return
    OPS.rms_norm = torch.compile(rms_norm, backend=backend, dynamic=True)
    OPS.rope = torch.compile(apply_rope, backend=backend, dynamic=True)
    OPS.swiglu = torch.compile(swiglu, backend=backend, dynamic=True)
    OPS.compiled = True


def plain_elementwise() -> None:
    """Undo ``compile_elementwise``."""
    OPS.rms_norm, OPS.rope, OPS.swiglu, OPS.compiled = rms_norm, apply_rope, swiglu, False


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., D]
        return OPS.rms_norm(x, self.weight, self.eps)


def rope_cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor, dtype: torch.dtype
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """positions [B, T] -> cos, sin [B, T, 1, E] (half-rotation layout, computed in float32)."""
    freqs = positions.float()[..., None] * inv_freq  # [B, T, E/2]
    emb = torch.cat([freqs, freqs], dim=-1)  # [B, T, E]
    return emb.cos().to(dtype)[:, :, None], emb.sin().to(dtype)[:, :, None]


@dataclass(frozen=True)
class Packed:
    """Sequences laid end to end in one row (batch 1, no padding); each attends causally to itself.
    ``cu_seqlens`` [N+1] int32 on the device (0, then each sequence's end), ``lengths`` on the host."""

    cu_seqlens: torch.Tensor
    lengths: tuple[int, ...]

    @classmethod
    def of(cls, lengths: Sequence[int], device: torch.device | str) -> Packed:
        ends = [0, *itertools.accumulate(lengths)]
        return cls(torch.tensor(ends, dtype=torch.int32, device=device), tuple(lengths))

    @property
    def positions(self) -> torch.Tensor:  # [1, T]: RoPE positions, from 0 in each sequence
        return torch.cat([torch.arange(n) for n in self.lengths])[None].to(self.cu_seqlens.device)

    def tail_rows(self, tail: int) -> torch.Tensor:  # [N * tail]: the last ``tail`` rows of each sequence
        ends = self.cu_seqlens[1:].long()  # [N]
        return (ends[:, None] - tail + torch.arange(tail, device=ends.device)).reshape(-1)


def packed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, packed: Packed, tail: int = 0
                     ) -> torch.Tensor:
    """q [T, H, E], k and v [T, K, E] -> [T, H, E]: causal within each packed sequence, with no mask.
    ``tail``: q holds only the last ``tail`` queries of each sequence ([N * tail, H, E], ``tail_rows``),
    each still attending to every key up to its own position -> [N * tail, H, E].

    On CUDA in bf16/fp16 one flash-attention call over all sequences (variable lengths, GQA native; with
    fewer queries than keys its causal mask is aligned to the end, as a tail needs); elsewhere each
    sequence through SDPA (the reference, and the CPU path)."""
    if q.is_cuda and q.dtype in (torch.bfloat16, torch.float16):
        longest = max(packed.lengths)
        q_ends, q_longest = packed.cu_seqlens, longest
        if tail:
            q_ends = torch.arange(0, len(packed.lengths) + 1, device=q.device, dtype=torch.int32) * tail
            q_longest = tail
        return torch.ops.aten._flash_attention_forward(q, k, v, q_ends, packed.cu_seqlens, q_longest,
                                                       longest, 0.0, True, False)[0]
    out = torch.empty_like(q)
    start = 0
    for i, n in enumerate(packed.lengths):
        end = start + n
        k_, v_ = (y[start:end].transpose(0, 1) for y in (k, v))  # [K, n, E]
        if tail:
            q_ = q[i * tail:(i + 1) * tail].transpose(0, 1)  # [H, tail, E]
            mask = torch.ones(tail, n, dtype=torch.bool, device=q.device).tril(n - tail)  # query j: keys <= n-tail+j
            attended = F.scaled_dot_product_attention(q_, k_, v_, attn_mask=mask, enable_gqa=True)
            out[i * tail:(i + 1) * tail] = attended.transpose(0, 1)
        else:
            q_ = q[start:end].transpose(0, 1)  # [H, n, E]
            out[start:end] = F.scaled_dot_product_attention(q_, k_, v_, is_causal=True, enable_gqa=True).transpose(0, 1)
        start = end
    return out


class KVCache(nn.Module):
    """Static per-layer cache: [B, K, S, E] keys and values, written at given slots, and [K] int32
    counters (zero between steps) for the batch-1 decode attention kernel (``kernels.decode_attention``)."""

    k: torch.Tensor
    v: torch.Tensor
    splits_done: torch.Tensor

    def __init__(self, batch: int, kv_heads: int, slots: int, head_dim: int, dtype: torch.dtype,
                 device: torch.device | str) -> None:
        super().__init__()
        shape = (batch, kv_heads, slots, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("splits_done", torch.zeros(kv_heads, dtype=torch.int32, device=device), persistent=False)

    def update(self, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """slots [T]; k, v [B, K, T, E] -> the whole cache [B, K, S, E]."""
        self.k.index_copy_(2, slots, k)
        self.v.index_copy_(2, slots, v)
        return self.k, self.v


class Attention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads = config.num_attention_heads
        self.n_kv = config.num_key_value_heads
        self.head_dim = config.dim_head
        d = config.hidden_size
        self.q_proj = LoraLinear(d, self.n_heads * self.head_dim)
        self.k_proj = LoraLinear(d, self.n_kv * self.head_dim)
        self.v_proj = LoraLinear(d, self.n_kv * self.head_dim)
        self.o_proj = LoraLinear(self.n_heads * self.head_dim, d)
        self.qkv: FusedLinear | None = None  # set by fuse(): q, k, v as one matmul
        self.cache: KVCache | None = None

    def fuse(self) -> None:
        if self.qkv is None:
            self.qkv = FusedLinear([self.q_proj, self.k_proj, self.v_proj])

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | Packed,
                slots: torch.Tensor | None) -> torch.Tensor:
        """x [B, T, D]; cos, sin [B, T, 1, E]; mask [B, 1, G*T, S] additive (``fold_mask``), or
        ``Packed`` (B = 1, no cache)."""
        if self.qkv is not None and self.qkv.enabled:
            return self.o_proj(self.attend(self.qkv(x), cos, sin, mask, slots))
        b, t, _ = x.shape
        h, kv, e = self.n_heads, self.n_kv, self.head_dim
        q = self.q_proj(x).view(b, t, h, e)  # [B, T, H, E]
        k = self.k_proj(x).view(b, t, kv, e)  # [B, T, K, E]
        v = self.v_proj(x).view(b, t, kv, e)  # [B, T, K, E]
        q, k = OPS.rope(q, cos, sin), OPS.rope(k, cos, sin)
        return self.o_proj(self._attention(q, k, v, mask, slots).reshape(b, t, h * e))

    def attend(self, qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | Packed,
               slots: torch.Tensor | None) -> torch.Tensor:
        """qkv [B, T, (H+2K)*E] (the fused projection) -> [B, T, H*E], the input of o_proj."""
        b, t, _ = qkv.shape
        h, kv, e = self.n_heads, self.n_kv, self.head_dim
        qkv = qkv.view(b, t, h + 2 * kv, e)  # [B, T, H+2K, E]
        qk = OPS.rope(qkv[:, :, : h + kv], cos, sin)  # q and k rotated together
        q, k, v = qk[:, :, :h], qk[:, :, h:], qkv[:, :, h + kv:]
        return self._attention(q, k, v, mask, slots).reshape(b, t, h * e)

    def tail(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, packed: Packed, tail: int
             ) -> torch.Tensor:
        """x [1, T, D] -> [1, R, D], R = N * tail: the attention output at the last ``tail`` tokens of each
        packed sequence only (``Packed.tail_rows``); keys and values still come from every token."""
        rows = packed.tail_rows(tail)  # [R]
        t, r = x.shape[1], rows.shape[0]
        h, kv, e = self.n_heads, self.n_kv, self.head_dim
        q = self.q_proj(x[:, rows]).view(1, r, h, e)  # [1, R, H, E]
        k = self.k_proj(x).view(1, t, kv, e)  # [1, T, K, E]
        v = self.v_proj(x).view(1, t, kv, e)  # [1, T, K, E]
        q, k = OPS.rope(q, cos[:, rows], sin[:, rows]), OPS.rope(k, cos, sin)
        return self.o_proj(packed_attention(q[0], k[0], v[0], packed, tail).reshape(1, r, h * e))

    def _attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | Packed,
                   slots: torch.Tensor | None) -> torch.Tensor:
        """q [B, T, H, E], k and v [B, T, K, E] (rotated) -> [B, T, H, E]; writes the cache if any."""
        if isinstance(mask, Packed):
            return packed_attention(q[0], k[0], v[0], mask)[None]  # [1, T, H, E]
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, heads, T, E]
        if self.cache is not None and slots is not None:
            k, v = self.cache.update(slots, k, v)  # [B, K, S, E]
        return grouped_attention(q, k, v, mask).transpose(1, 2)  # [B, T, H, E]


def fold_mask(mask: torch.Tensor, groups: int, dtype: torch.dtype) -> torch.Tensor:
    """[B, 1, T, S] bool -> [B, 1, G*T, S] additive (0 / -inf in ``dtype``): the mask of
    ``grouped_attention``'s folded queries, made once per forward (SDPA would convert a bool mask in
    every layer)."""
    b, _, t, s = mask.shape
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, float("-inf"))
    return bias if groups == 1 else bias.expand(b, 1, t, s).repeat(1, 1, groups, 1)


def grouped_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """GQA without copying keys and values: the G = H/K query heads that share a kv head are folded
    into the query length, so SDPA sees K heads and any of its kernels that takes a mask can run.

    q [B, H, T, E], k and v [B, K, S, E], mask [B, 1, G*T, S] (``fold_mask``) -> [B, H, T, E]."""
    b, h, t, e = q.shape
    kv = k.shape[1]
    q = q.reshape(b, kv, (h // kv) * t, e)  # head h = kv head h // G: [B, K, G*T, E] (a copy if T > 1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [B, K, G*T, E]
    return out.reshape(b, h, t, e)


# rows per MLP pass: bounds the [rows, F] activations (3 x 59 MB for Mistral-7B) beside the weights a
# chunked pass holds (lora.held_weights: 3 x 117 MB), so that a 32-chunk compression micro-batch takes
# no more memory than it did in 4,096-row chunks without held weights (docs/performance.md)
MLP_ROWS = 2048


class MLP(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = LoraLinear(config.hidden_size, config.intermediate_size)
        self.up_proj = LoraLinear(config.hidden_size, config.intermediate_size)
        self.down_proj = LoraLinear(config.intermediate_size, config.hidden_size)
        self.gate_up: FusedLinear | None = None  # set by fuse(): gate and up as one matmul

    def fuse(self) -> None:
        if self.gate_up is None:
            self.gate_up = FusedLinear([self.gate_proj, self.up_proj])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, T, D] via [B, T, F]
        rows = x.numel() // x.shape[-1]
        if rows <= MLP_ROWS:
            return self._mlp(x)
        flat = x.reshape(rows, x.shape[-1])  # rows are independent: MLP_ROWS at a time
        out = torch.empty_like(flat)
        # each weight dequantised / corrected once for all the chunks (lora.held_weights)
        held: list[LoraLinear | FusedLinear] = [self.gate_proj, self.up_proj, self.down_proj]
        if self.gate_up is not None and self.gate_up.enabled:
            held = [self.gate_up, self.down_proj]
        with held_weights(held, rows, x.dtype):
            for start in range(0, rows, MLP_ROWS):
                out[start:start + MLP_ROWS] = self._mlp(flat[start:start + MLP_ROWS])
        return out.view_as(x)

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:  # [..., D] -> [..., D] via [..., F]
        if self.gate_up is not None and self.gate_up.enabled:
            gate, up = self.gate_up(x).chunk(2, dim=-1)  # [B, T, F] each
            return self.down_proj(OPS.swiglu(gate, up))
        return self.down_proj(OPS.swiglu(self.gate_proj(x), self.up_proj(x)))


class DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.self_attn = Attention(config)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.gemv = False  # batch-1 decode steps through ``_decode_gemv`` (``Mistral.use_gemv``)
        self.gemv_rope = True  # and RoPE and the cache writes in the q/k/v kernel
        self.gemv_attention = True  # and (with gemv_rope) attention by ``kernels.decode_attention``

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | Packed,
                slots: torch.Tensor | None) -> torch.Tensor:
        if self.gemv and x.is_cuda and x.shape[0] * x.shape[1] == 1 and self._plain_weights():
            return self._decode_gemv(x, cos, sin, mask, slots)
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, slots)
        return x + self.mlp(self.post_attention_layernorm(x))

    def tail(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, packed: Packed, tail: int
             ) -> torch.Tensor:
        """The layer's output at the last ``tail`` tokens of each packed sequence only: x [1, T, D] ->
        [1, N * tail, D]. The queries, o_proj, residual and MLP run on those rows alone."""
        x_tail = x[:, packed.tail_rows(tail)]  # [1, R, D]
        x_tail = x_tail + self.self_attn.tail(self.input_layernorm(x), cos, sin, packed, tail)
        return x_tail + self.mlp(self.post_attention_layernorm(x_tail))

    def _plain_weights(self) -> bool:
        """The fused matmuls are on and the active adapter is the merged one (no low-rank terms)."""
        attn, mlp = self.self_attn, self.mlp
        if attn.qkv is None or not attn.qkv.enabled or mlp.gate_up is None or not mlp.gate_up.enabled:
            return False
        return all(m.correction() is None for m in (attn.qkv, attn.o_proj, mlp.gate_up, mlp.down_proj))

    def _decode_gemv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | Packed,
                     slots: torch.Tensor | None) -> torch.Tensor:
        """One token (B = T = 1) as four matrix-vector kernels that also do the RMSNorms, SwiGLU,
        residual adds and (``gemv_rope``) RoPE and the cache writes (kernels.gemv, kernels.gemv_qkv),
        and with ``gemv_rope`` and ``gemv_attention`` attention by a kernel that reads the cache only up
        to the token's slot (kernels.decode_attention; the mask still decides which of those slots
        count); else attention as usual. x [1, 1, D] -> [1, 1, D]."""
        from worker.clara.kernels import decode_attention, gemv, gemv_qkv

        attn, mlp = self.self_attn, self.mlp
        assert attn.qkv is not None and mlp.gate_up is not None
        norm1, norm2 = self.input_layernorm, self.post_attention_layernorm
        row = x.view(-1)  # [D]
        if self.gemv_rope and attn.cache is not None and slots is not None and not isinstance(mask, Packed):
            qkv = gemv_qkv(row, attn.qkv.weight, attn.qkv.weight_scale, norm1.weight, norm1.eps, cos.view(-1),
                           sin.view(-1), attn.cache.k, attn.cache.v, slots, attn.n_heads)  # [(H+2K)*E]
            q = qkv[: attn.n_heads * attn.head_dim]  # [H*E], rotated
            if self.gemv_attention and attn.head_dim & (attn.head_dim - 1) == 0:  # its tiles: a power of 2
                out = decode_attention(q, attn.cache.k, attn.cache.v, mask[0, 0, 0], slots, attn.cache.splits_done)
            else:
                out = grouped_attention(q.view(1, attn.n_heads, 1, attn.head_dim), attn.cache.k, attn.cache.v, mask)
        else:
            qkv = gemv(row, attn.qkv.weight, attn.qkv.weight_scale, norm1.weight, norm1.eps)  # [(H+2K)*E]
            out = attn.attend(qkv.view(1, 1, -1), cos, sin, mask, slots)  # [1, 1, H*E]
        row = gemv(out.reshape(-1), attn.o_proj.weight, attn.o_proj.weight_scale, residual=row)  # [D]
        hidden = gemv(row, mlp.gate_up.weight, mlp.gate_up.weight_scale, norm2.weight, norm2.eps,
                      swiglu=True)  # [F]: silu(gate) * up
        row = gemv(hidden, mlp.down_proj.weight, mlp.down_proj.weight_scale, residual=row)  # [D]
        return row.view_as(x)


class Backbone(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, config.hidden_size)
        self.embed_tokens.weight.requires_grad_(False)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


def attention_mask(key_valid: torch.Tensor, q_slots: torch.Tensor, sliding_window: int | None = None
                   ) -> torch.Tensor:
    """key_valid [B, S] bool, q_slots [T] -> [B, 1, T, S] bool: causal over slots, no padding keys.

    A query always sees itself, so rows of padding queries are never empty (no NaN from SDPA)."""
    s = key_valid.shape[1]
    j = torch.arange(s, device=key_valid.device)[None, :]  # [1, S]
    i = q_slots[:, None]  # [T, 1]
    allowed = (j <= i)[None] & key_valid[:, None, :]  # [B, T, S]
    if sliding_window is not None:
        allowed &= (i - j < sliding_window)[None]
    allowed |= (j == i)[None]
    return allowed[:, None]


def positions_from_valid(valid: torch.Tensor) -> torch.Tensor:
    """valid [B, T] bool (left padding) -> RoPE positions [B, T]: 0 at each row's first real token."""
    return (valid.long().cumsum(-1) - 1).clamp_min(0)


class Mistral(nn.Module):
    """Mistral decoder. ``forward`` returns the final-normed hidden states; ``logits`` adds lm_head."""

    def __init__(self, config: ModelConfig, vocab_size: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size or config.vocab_size
        self.model = Backbone(config, self.vocab_size)
        self.lm_head = LoraLinear(config.hidden_size, self.vocab_size)  # never adapted
        self._decode_layer: Callable[..., torch.Tensor] | None = None
        self._gemv = False  # ``use_gemv``: one-row logits through the Triton GEMV too
        self._fused: list[FusedLinear] = []
        inv_freq = self._inv_freq(torch.device("cpu"))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def _inv_freq(self, device: torch.device) -> torch.Tensor:  # [E/2] float32
        e = self.config.dim_head
        exponent = torch.arange(0, e, 2, dtype=torch.int64, device=device).float() / e
        return 1.0 / (self.config.rope_theta ** exponent)

    def reset_rope(self) -> None:
        """Recompute the RoPE frequencies on the weights' device (after a meta-device build)."""
        self.inv_freq = self._inv_freq(self.model.embed_tokens.weight.device)

    def lora_layers(self) -> Iterator[tuple[str, LoraLinear]]:
        """The adapted linears (q, k, v, o, gate, up, down of every layer) with their HF names."""
        for name, module in self.model.layers.named_modules(prefix="model.layers"):
            if isinstance(module, LoraLinear):
                yield name, module

    def set_adapter(self, name: str | None) -> None:
        """Switch the role: every adapted linear uses adapter ``name`` (None: the plain base model)."""
        for _, layer in self.lora_layers():
            if name is not None and name not in layer.adapters:
                raise KeyError(f"adapter {name!r} is not loaded")
            layer.active = name

    def merge_adapter(self, name: str | None) -> None:
        """Bake adapter ``name`` into the weights (see lora.py); results stay the same function."""
        for _, layer in self.lora_layers():
            layer.merge(name)

    def quantize(self, weights: str, device: torch.device, merged: str | None) -> None:
        """Move the model to ``device`` with every adapted projection quantized (quantize.py), one
        matrix at a time: it goes to the device, adapter ``merged`` is baked in (float32), then it is
        rounded. Only one full-precision matrix is on the device at once."""
        if self._fused:
            raise ValueError("quantize before fuse_projections")
        if device.type == "cuda":
            from worker.clara.kernels import register

            register()  # the decoding kernel, before anything compiles a graph that calls it
        for _, layer in self.lora_layers():
            layer.move(device)
            layer.merge(merged)
            layer.quantize(weights)
        self.to(device)  # embeddings, lm_head, norms
        self.reset_rope()

    def fuse_projections(self) -> None:
        """q, k, v and gate, up as one matmul each (fewer, larger kernels; no extra memory)."""
        for layer in self.model.layers:
            layer = cast(DecoderLayer, layer)
            layer.self_attn.fuse()
            layer.mlp.fuse()
        self._fused = [m for m in self.modules() if isinstance(m, FusedLinear)]

    def use_fused(self, enabled: bool) -> None:
        """Use the fused matmuls (after ``fuse_projections``) or the parts one by one (same weights).
        Fusion pays for decoding (+5-10 %) and costs compression about 2 % (docs/performance.md),
        so the steps turn it on for the generator and off for compression and question encoding."""
        for module in self._fused:
            module.enabled = enabled

    def use_gemv(self, enabled: bool, rope: bool = True, attention: bool = True) -> None:
        """On CUDA: one-token decode steps run each layer as four Triton matrix-vector kernels with the
        norms, SwiGLU and residual adds folded in, and with ``rope`` RoPE and the cache writes too, and
        with both ``rope`` and ``attention`` attention by a Triton decode kernel
        (``DecoderLayer._decode_gemv``), when the fused matmuls are on and the merged adapter is the
        active one, and one row's logits through the same GEMV; larger steps are unchanged."""
        if enabled:
            from worker.clara.kernels import register

            register()  # before anything compiles a graph that calls the op
        self._gemv = enabled
        for layer in self.model.layers:
            cast(DecoderLayer, layer).gemv = enabled
            cast(DecoderLayer, layer).gemv_rope = rope
            cast(DecoderLayer, layer).gemv_attention = attention

    def attentions(self) -> list[Attention]:
        return [cast(DecoderLayer, layer).self_attn for layer in self.model.layers]

    def setup_cache(self, batch: int, slots: int) -> None:
        w = self.model.embed_tokens.weight
        for attn in self.attentions():
            attn.cache = KVCache(batch, attn.n_kv, slots, attn.head_dim, w.dtype, w.device)

    def clear_cache(self) -> None:
        for attn in self.attentions():
            attn.cache = None

    def embed(self, ids: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, T, D]
        return self.model.embed_tokens(ids)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor | Packed,
                slots: torch.Tensor | None = None, tail: int = 0) -> torch.Tensor:
        """x [B, T, D] input embeddings, positions [B, T], mask [B, 1, T, S] bool (``attention_mask``)
        or ``Packed`` (B = 1), slots [T] cache slots (None: no cache) -> [B, T, D] hidden states after
        the final RMSNorm. ``tail`` (``Packed`` only): only the last ``tail`` tokens of each sequence are
        wanted, so the last layer computes the rest of its rows only as keys and values -> [1, N * tail, D]
        (compression: the memory tokens; ~3 % of the FLOPs of a 32-layer model)."""
        cos, sin = rope_cos_sin(positions, self.inv_freq, x.dtype)
        if not isinstance(mask, Packed):
            mask = fold_mask(mask, self.config.num_attention_heads // self.config.num_key_value_heads, x.dtype)
        elif tail:
            for layer in self.model.layers[:-1]:
                x = _run_layer(layer, x, cos, sin, mask, slots)
            last = cast(DecoderLayer, self.model.layers[-1])
            return self.model.norm(last.tail(x, cos, sin, mask, tail))
        run = _run_layer
        if self._decode_layer is not None and slots is not None and x.shape[1] == 1:
            run = self._decode_layer
        for layer in self.model.layers:
            x = run(layer, x, cos, sin, mask, slots)
        return self.model.norm(x)

    def compile_decode(self, backend: str | None = "inductor") -> None:
        """Opt-in (the fast decoder): decode steps (one token per row, with a cache) run each layer
        through one compiled function, so inductor fuses its norms, RoPE, cache writes, residual adds
        and SwiGLU around the matmuls. Every layer shares the compiled code (two graphs: batch 1 and
        larger); the first decode step of each compiles (seconds). ``None``: back to plain layers."""
        self._decode_layer = None if backend is None else torch.compile(_run_layer, backend=backend, dynamic=True)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:  # [..., D] -> [..., V] float32
        if self._gemv and hidden.is_cuda and hidden.numel() == hidden.shape[-1]:  # one row: the Triton GEMV
            from worker.clara.kernels import gemv

            return gemv(hidden.reshape(-1), self.lm_head.weight, None).float().view(*hidden.shape[:-1], -1)
        return self.lm_head(hidden).float()


def _run_layer(layer: nn.Module, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
               mask: torch.Tensor | Packed, slots: torch.Tensor | None) -> torch.Tensor:
    return cast(torch.Tensor, layer(x, cos, sin, mask, slots))
