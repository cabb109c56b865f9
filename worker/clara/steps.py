"""CLaRa's inference steps as small functions: compress, encode questions, score, top-k, build the
prompt, insert memory embeddings, greedy generation. Shapes: N documents, B questions, M = n_mem
memory tokens, D hidden, T prompt length, k documents per prompt."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from worker.clara.checkpoint import ClaraModel
from worker.clara.config import DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_ADAPTER
from worker.clara.model import Packed, attention_mask, positions_from_valid
from worker.clara.tokenizer import EOS_ID, PAD_ID, ClaraTokenizer


def left_pad(seqs: Sequence[Sequence[int]], device: torch.device, pad_id: int = PAD_ID
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """-> ids [B, T] long and valid [B, T] bool, padded on the left to the longest sequence."""
    width = max((len(s) for s in seqs), default=0)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    valid = torch.zeros((len(seqs), width), dtype=torch.bool)
    for row, seq in enumerate(seqs):
        if seq:
            ids[row, width - len(seq):] = torch.tensor(list(seq), dtype=torch.long)
            valid[row, width - len(seq):] = True
    return ids.to(device), valid.to(device)


@torch.inference_mode()
def memory_states(clara: ClaraModel, seqs: Sequence[Sequence[int]], adapter: str, fused: bool = False
                  ) -> torch.Tensor:
    """Encoder-template sequences (memory tokens last) -> hidden states at the memory slots [N, M, D].
    ``fused``: q/k/v and gate/up as one matmul each (off: prefill-bound, the separate ones are a little
    faster, docs/performance.md)."""
    model = clara.model
    ids, valid = left_pad(seqs, clara.device)  # [N, T]
    model.set_adapter(adapter)
    model.use_fused(fused)
    slots = torch.arange(ids.shape[1], device=clara.device)
    mask = attention_mask(valid, slots, clara.model_config.sliding_window)  # [N, 1, T, T]
    hidden = model(model.embed(ids), positions_from_valid(valid), mask)  # [N, T, D]
    return hidden[:, -clara.n_mem:]  # left padding: the M memory tokens end every row


@torch.inference_mode()
def packed_memory_states(clara: ClaraModel, seqs: Sequence[Sequence[int]], adapter: str, fused: bool = False
                         ) -> torch.Tensor:
    """``memory_states`` without padding or mask: the sequences laid end to end in one row (``Packed``:
    each attends causally to itself, through flash attention on CUDA) -> [N, M, D]. The M memory tokens
    end every sequence, and the last layer computes its output there only (``Mistral.forward``'s tail)."""
    model = clara.model
    packed = Packed.of([len(s) for s in seqs], clara.device)
    ids = torch.tensor([token for seq in seqs for token in seq], device=clara.device)[None]  # [1, T]
    model.set_adapter(adapter)
    model.use_fused(fused)
    hidden = model(model.embed(ids), packed.positions, packed, tail=clara.n_mem)  # [1, N*M, D]
    return hidden[0].view(len(seqs), clara.n_mem, -1)


def _encode(clara: ClaraModel, texts: Sequence[str], adapter: str, batch_size: int, packed: bool) -> torch.Tensor:
    tokenizer, limit = clara.tokenizer, clara.config.doc_max_length
    return encode_ids(clara, [tokenizer.encoder_ids(text, limit) for text in texts], adapter, batch_size, packed)


def encode_ids(clara: ClaraModel, seqs: Sequence[Sequence[int]], adapter: str, batch_size: int = 64,
               packed: bool = False, fused: bool = False) -> torch.Tensor:
    """Encoder-template id sequences -> [N, M, D], in micro-batches of at most ``batch_size`` sequences
    (bounds the activation memory): ``packed`` (the fast path; not with a sliding window) lays each
    micro-batch end to end, otherwise it is left-padded (similar lengths share a batch: little padding)."""
    states = packed_memory_states if packed and clara.model_config.sliding_window is None else memory_states
    out = torch.empty(len(seqs), clara.n_mem, clara.hidden_size, dtype=clara.dtype, device=clara.device)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        out[torch.tensor(rows, device=clara.device)] = states(clara, [seqs[i] for i in rows], adapter, fused)
    return out


def compress(clara: ClaraModel, texts: Sequence[str], batch_size: int = 64, packed: bool = False) -> torch.Tensor:
    """Documents -> memory embeddings [N, M, D] (encoder adapter)."""
    return _encode(clara, texts, ENCODER_ADAPTER, batch_size, packed)


def encode_questions(clara: ClaraModel, questions: Sequence[str], batch_size: int = 64, packed: bool = False
                     ) -> torch.Tensor:
    """Questions -> query embeddings [B, M, D] in the documents' space (query reasoner, E2E only)."""
    return _encode(clara, questions, QUERY_ADAPTER, batch_size, packed)


def score(query: torch.Tensor, documents: torch.Tensor) -> torch.Tensor:
    """query [M, D], documents [N, M, D] -> cosine similarity of the flattened vectors [N], float32."""
    q = query.reshape(-1).float()
    d = documents.reshape(documents.shape[0], -1).float()
    return torch.nn.functional.cosine_similarity(d, q[None, :], dim=-1, eps=1e-12)


def top_k(scores: torch.Tensor, k: int) -> tuple[list[int], list[float]]:
    """The best min(k, N) indices, in descending score order (ties: lower index first), with scores."""
    order = torch.sort(scores.float().cpu(), descending=True, stable=True)
    n = min(k, scores.shape[0])
    return order.indices[:n].tolist(), order.values[:n].tolist()


def fit_k(tokenizer: ClaraTokenizer, question: str, k: int, budget: int) -> int:
    """The most documents (<= k) whose prompt fits ``budget`` tokens with the whole question."""
    while k > 0 and tokenizer.prompt_length(question, k) > budget:
        k -= 1
    return k


def build_prompts(clara: ClaraModel, questions: Sequence[str], ks: Sequence[int]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """-> ids [B, T], valid [B, T]: left-padded prompts with k_b groups of memory slots each."""
    return left_pad([clara.tokenizer.prompt_ids(q, k) for q, k in zip(questions, ks, strict=True)],
                    clara.device)


def insert_memory(clara: ClaraModel, ids: torch.Tensor, memories: Sequence[torch.Tensor]) -> torch.Tensor:
    """Embed the prompts and overwrite each memory slot with the chosen documents' embeddings.

    ids [B, T]; memories[b] [k_b, M, D] in rank order -> input embeddings [B, T, D]. The slots of
    document j are the j-th run of <MEM0>..<MEM{M-1}>; the <SEP> between runs keeps its embedding."""
    embeds = clara.model.embed(ids).clone()  # [B, T, D]
    mem_ids = torch.tensor(clara.tokenizer.mem_ids, device=ids.device)
    for row, memory in enumerate(memories):
        slots = torch.isin(ids[row], mem_ids).nonzero().squeeze(-1)  # [k_b * M]
        if slots.numel() != memory.shape[0] * clara.n_mem:
            raise ValueError(f"prompt {row} has {slots.numel()} memory slots for {memory.shape[0]} documents")
        if slots.numel():
            embeds[row, slots] = memory.reshape(-1, memory.shape[-1]).to(embeds.dtype)
    return embeds


@torch.inference_mode()
def generate(clara: ClaraModel, embeds: torch.Tensor, valid: torch.Tensor, max_new_tokens: int
             ) -> list[list[int]]:
    """Greedy decoding with the decoder adapter: embeds [B, T, D], valid [B, T] -> new ids per row,
    stopped before </s>."""
    model = clara.model
    b, t = valid.shape
    if b == 0 or max_new_tokens <= 0:
        return [[] for _ in range(b)]
    device = embeds.device
    window = clara.model_config.sliding_window
    model.set_adapter(DECODER_ADAPTER)
    model.use_fused(True)
    model.setup_cache(b, t + max_new_tokens)
    try:
        key_valid = torch.zeros(b, t + max_new_tokens, dtype=torch.bool, device=device)  # [B, S]
        key_valid[:, :t] = valid
        positions = positions_from_valid(valid)  # [B, T]
        slots = torch.arange(t, device=device)
        hidden = model(embeds, positions, attention_mask(key_valid, slots, window), slots)  # [B, T, D]
        next_ids = model.logits(hidden[:, -1]).argmax(-1)  # [B]
        position = positions[:, -1]  # [B]
        done = torch.zeros(b, dtype=torch.bool, device=device)
        produced: list[torch.Tensor] = []
        for step in range(max_new_tokens):
            token = torch.where(done, torch.full_like(next_ids, EOS_ID), next_ids)
            produced.append(token)
            done |= token == EOS_ID
            if step == max_new_tokens - 1 or bool(done.all()):
                break
            slot = torch.tensor([t + step], device=device)
            key_valid[:, t + step] = True
            position = position + 1
            hidden = model(model.embed(token[:, None]), position[:, None],
                           attention_mask(key_valid, slot, window), slot)  # [B, 1, D]
            next_ids = model.logits(hidden[:, -1]).argmax(-1)
    finally:
        model.clear_cache()
    tokens = torch.stack(produced, dim=1).tolist()  # [B, steps]
    return [row[: row.index(EOS_ID)] if EOS_ID in row else row for row in tokens]
