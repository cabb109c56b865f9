"""Fast greedy decoding (issue 5): a static KV cache per (batch, slots) bucket and, on CUDA, one CUDA
graph per bucket that replays a whole decode step (emit the token, extend the mask, run the model,
pick the next token) with no host work in between.

It computes exactly what ``steps.generate`` computes; on the CPU the same step runs eagerly, which is
what the tests compare with the plain path.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER
from worker.clara.model import KVCache, attention_mask, positions_from_valid
from worker.clara.tokenizer import EOS_ID

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)
SLOT_ROUNDING = 128


@dataclass
class _Bucket:
    """Static buffers of one (batch, slots) shape, and its graph once captured."""

    caches: list[KVCache]
    key_valid: torch.Tensor  # [B, S] bool
    slot: torch.Tensor  # [1] long: cache slot of the token being fed
    step: torch.Tensor  # [1] long: index of the token being emitted
    position: torch.Tensor  # [B] long: RoPE position of the token being fed
    next_ids: torch.Tensor  # [B] long: the model's latest greedy choice
    done: torch.Tensor  # [B] bool
    out: torch.Tensor  # [B, S] long: emitted tokens (at most S of them)
    graph: torch.cuda.CUDAGraph | None = None
    uses: int = field(default=0)


class StaticDecoder:
    """Greedy decoding with preallocated buffers; CUDA graphs when ``use_graphs``."""

    def __init__(self, clara: ClaraModel, use_graphs: bool | None = None, max_buckets: int = 2,
                 check_every: int = 8) -> None:
        self.clara = clara
        self.use_graphs = clara.device.type == "cuda" if use_graphs is None else use_graphs
        self.max_buckets = max_buckets
        self.check_every = check_every
        self._buckets: OrderedDict[tuple[int, int], _Bucket] = OrderedDict()

    def _bucket(self, batch: int, slots: int) -> _Bucket:
        key = (batch, slots)
        if key in self._buckets:
            self._buckets.move_to_end(key)
            return self._buckets[key]
        while len(self._buckets) >= self.max_buckets:
            self._buckets.popitem(last=False)
            if self.use_graphs:
                torch.cuda.empty_cache()
        model, device = self.clara.model, self.clara.device
        dtype = model.model.embed_tokens.weight.dtype
        caches = [KVCache(batch, a.n_kv, slots, a.head_dim, dtype, device) for a in model.attentions()]

        def zeros(*shape: int, kind: torch.dtype = torch.long) -> torch.Tensor:
            return torch.zeros(shape, dtype=kind, device=device)

        bucket = _Bucket(caches, zeros(batch, slots, kind=torch.bool), zeros(1), zeros(1), zeros(batch),
                         zeros(batch), zeros(batch, kind=torch.bool), zeros(batch, slots))
        self._buckets[key] = bucket
        return bucket

    def _emit(self, b: _Bucket) -> torch.Tensor:
        token = torch.where(b.done, torch.full_like(b.next_ids, EOS_ID), b.next_ids)  # [B]
        b.out.index_copy_(1, b.step, token[:, None])
        b.done |= token == EOS_ID
        b.step += 1
        return token

    def _step(self, b: _Bucket) -> None:
        """Emit the current token and run the model on it; device work only (graph-capturable)."""
        model = self.clara.model
        token = self._emit(b)
        b.key_valid.index_fill_(1, b.slot, True)
        b.position += 1
        mask = attention_mask(b.key_valid, b.slot, self.clara.model_config.sliding_window)  # [B, 1, 1, S]
        hidden = model(model.embed(token[:, None]), b.position[:, None], mask, b.slot)  # [B, 1, D]
        b.next_ids.copy_(model.logits(hidden[:, -1]).argmax(-1))
        b.slot += 1

    def _capture(self, b: _Bucket) -> torch.cuda.CUDAGraph:
        # the step changes the buffers: capture on copies of their state, then restore it
        saved = [t.clone() for t in (b.key_valid, b.slot, b.step, b.position, b.next_ids, b.done, b.out)]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm up kernels and workspaces outside the graph
                self._step(b)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):  # its own pool: buckets (and their graphs) come and go
            self._step(b)
        for buffer, value in zip((b.key_valid, b.slot, b.step, b.position, b.next_ids, b.done, b.out),
                                 saved, strict=True):
            buffer.copy_(value)
        return graph

    @torch.inference_mode()
    def generate(self, embeds: torch.Tensor, valid: torch.Tensor, max_new_tokens: int) -> list[list[int]]:
        """embeds [B, T, D], valid [B, T] -> new ids per row (greedy, stopped before </s>)."""
        rows, t = valid.shape
        if rows == 0 or max_new_tokens <= 0:
            return [[] for _ in range(rows)]
        model, device = self.clara.model, self.clara.device
        batch = next((n for n in BATCH_BUCKETS if n >= rows), rows)
        # +2: the graph's warm-up steps write two slots past the prompt before being undone
        slots = -(-(t + max_new_tokens + 2) // SLOT_ROUNDING) * SLOT_ROUNDING
        b = self._bucket(batch, slots)
        if batch > rows:  # filler rows: one zero embedding each, never looked at
            embeds = torch.cat([embeds, embeds.new_zeros(batch - rows, t, embeds.shape[-1])])
            filler = torch.zeros(batch - rows, t, dtype=torch.bool, device=device)
            filler[:, -1] = True
            valid = torch.cat([valid, filler])
        model.set_adapter(DECODER_ADAPTER)
        model.use_fused(True)
        for attn, cache in zip(model.attentions(), b.caches, strict=True):
            attn.cache = cache
        try:
            b.key_valid.zero_()
            b.key_valid[:, :t] = valid
            positions = positions_from_valid(valid)  # [B, T]
            prefill = torch.arange(t, device=device)
            hidden = model(embeds, positions, attention_mask(b.key_valid, prefill,
                                                             self.clara.model_config.sliding_window), prefill)
            b.next_ids.copy_(model.logits(hidden[:, -1]).argmax(-1))
            b.position.copy_(positions[:, -1])
            b.slot.fill_(t)
            b.step.zero_()
            b.done.zero_()
            b.done[rows:] = True
            b.out.fill_(EOS_ID)
            if self.use_graphs and b.graph is None and max_new_tokens > 2:
                b.graph = self._capture(b)
            for i in range(max_new_tokens - 1):
                if b.graph is not None:
                    b.graph.replay()
                else:
                    self._step(b)
                if (i + 1) % self.check_every == 0 and bool(b.done.all()):
                    break
            else:
                self._emit(b)
        finally:
            model.clear_cache()
        tokens = b.out[:rows, :max_new_tokens].tolist()
        return [row[: row.index(EOS_ID)] if EOS_ID in row else row for row in tokens]
