"""``ClaraEngine``: the worker's Engine over a loaded CLaRa model, a store of compressed documents and,
for checkpoints without a query reasoner (Base, Instruct), a Retriever that ranks the candidates."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from worker.clara import steps
from worker.clara.checkpoint import ClaraModel, load_clara
from worker.clara.config import DECODER_ADAPTER
from worker.clara.decode import StaticDecoder
from worker.clara.errors import CheckpointError
from worker.clara.model import compile_elementwise, plain_elementwise
from worker.clara.store import LocalMemoryStore, MemoryStore, RedisMemoryStore, content_hash
from worker.documents.document import Chunk, Document
from worker.engine.base import Answer, Citation, Question, Retriever

if TYPE_CHECKING:
    from redis import Redis

    from worker.settings import ClaraSettings

log = logging.getLogger(__name__)

NO_DOCUMENTS = "I have no documents to answer this from."
NO_ANSWER = "I could not find an answer to this in the documents."
QUESTION_TOO_LONG = ("This question is too long to answer together with any document: "
                     "please ask it in fewer words.")


@dataclass
class _Plan:
    """One question on its way through the batch."""

    question: Question
    citations: list[Citation] = field(default_factory=list)  # ranked, best first
    used: int = 0  # documents that fit the prompt budget
    notes: list[str] = field(default_factory=list)
    text: str | None = None  # set when the answer needs no generation


class ClaraEngine:
    """Answers questions with CLaRa: compress chunks (once, via the store), rank them (query reasoner
    for E2E, the given retriever otherwise), generate from the top-k memory embeddings."""

    def __init__(self, clara: ClaraModel, store: MemoryStore | None = None, retriever: Retriever | None = None,
                 max_new_tokens: int = 256, prompt_budget: int = 1024, compress_batch_size: int | None = None,
                 max_generate_batch: int = 16, fast: bool | None = None, compile_ops: bool | None = None
                 ) -> None:
        """``compress_batch_size`` chunks are compressed per forward pass (default: 64 with bf16
        weights, 4 % faster than 32 for ~0.9 GB more activations; 32 with int8/fp8 weights, which keeps
        their engine under 10 GB; docs/performance.md). ``fast`` (default: on CUDA) keeps the decoder
        adapter merged into the weights, fuses the q/k/v and gate/up matmuls, compresses packed
        sequences and decodes with a static KV cache and CUDA graphs (lora.py, decode.py, steps.py), on
        CUDA batch-1 steps through the fused matrix-vector kernels (model.Mistral.use_gemv).
        ``compile_ops`` (default: fast on CUDA) also fuses the elementwise work through torch.compile
        (model.compile_elementwise), and with ``fast`` whole layers of each decode step
        (model.compile_decode); call ``warm_up`` before taking questions."""
        if clara.config.kind != "e2e" and retriever is None:
            raise CheckpointError(f"a CLaRa {clara.config.kind} checkpoint has no query reasoner: "
                                  "it needs a retriever to rank documents")
        self.clara = clara
        self.store: MemoryStore = store if store is not None else LocalMemoryStore()
        self.retriever = retriever
        self.name = clara.name
        self.max_chunk_tokens = clara.config.doc_max_length
        self.top_k = clara.config.generation_top_k
        self.max_new_tokens = max_new_tokens
        self.prompt_budget = prompt_budget
        if compress_batch_size is None:
            compress_batch_size = 64 if clara.weights == "bf16" else 32
        self.compress_batch_size = compress_batch_size
        self.max_generate_batch = max_generate_batch
        self.fast = clara.device.type == "cuda" if fast is None else fast
        self.decoder: StaticDecoder | None = None
        if self.fast:
            clara.model.merge_adapter(DECODER_ADAPTER)
            clara.model.fuse_projections()
            clara.model.use_gemv(clara.device.type == "cuda")
            self.decoder = StaticDecoder(clara)
        self.compile_ops = self.fast and clara.device.type == "cuda" if compile_ops is None else compile_ops
        if self.compile_ops:
            compile_elementwise()
            if self.fast:
                clara.model.compile_decode()
        self.compressed = 0  # chunks compressed so far (tests and benchmarks read it)
        self.timings: dict[str, float] = {}  # seconds spent per step in the last answer_batch

    # ---- Engine --------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self.clara.tokenizer.count_tokens(text)

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        return self.answer_batch([Question(question, chunks)])[0]

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        self.timings = {}
        plans = [_Plan(q) for q in questions]
        for plan in plans:
            if not plan.question.chunks:
                plan.text = NO_DOCUMENTS
                plan.notes.append("no candidate documents")
        active = [p for p in plans if p.text is None]
        self._rank(active)
        self._fit_budget(active)
        todo = [p for p in active if p.text is None]
        for start in range(0, len(todo), self.max_generate_batch):
            self._generate(todo[start:start + self.max_generate_batch])
        return [Answer(text=p.text or "", citations=tuple(p.citations[: p.used]), engine=self.name,
                       notes=tuple(p.notes)) for p in plans]

    def warm_up(self) -> None:
        """Compile (with ``compile_ops``) and capture the common decode graph now, not in a user's
        question. Falls back to the plain elementwise ops if compilation fails."""
        started = time.perf_counter()
        document = Document("warm-up", "warm-up", "")
        # a full-length chunk too: Triton specialises kernels on sizes divisible by 16, and a first
        # compile of those in a user's question cost seconds on a fresh machine
        full = " ".join(["restart the service, then check its logs for errors"] * 64)  # cut to doc_max_length
        texts = ["warm up the compressor", "and the query reasoner, with two rows", full]
        chunks = [Chunk(document, t, 1, 1, i) for i, t in enumerate(texts)]
        questions = [Question("warm up?", chunks[:2]),
                     Question("and a longer question, the kind people ask about an incident at night?", chunks)]
        try:
            self.answer_batch(questions[:1])
            self.answer_batch(questions * 2)
        except Exception:
            if not self.compile_ops:
                raise
            log.exception("compiled elementwise ops failed: using the plain ones")
            plain_elementwise()
            self.clara.model.compile_decode(None)
            self.compile_ops = False
            self.answer_batch(questions)
        log.info("%s warmed up in %.1f s", self.name, time.perf_counter() - started)

    # ---- the steps -----------------------------------------------------------------------------
    def memories(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Memory embeddings [M, D] (model dtype, on the device) by content hash; compresses only
        the texts the store does not hold, and stores them."""
        started = time.perf_counter()
        by_hash = {content_hash(text): text for text in texts}
        found = self.store.get_many(by_hash)
        clara = self.clara
        out = {h: m.to(clara.device, clara.dtype) for h, m in found.items()}
        missing = [h for h in by_hash if h not in found]
        if missing:
            fresh = steps.compress(clara, [by_hash[h] for h in missing], self.compress_batch_size, self.fast)
            fresh = fresh.to(torch.bfloat16)  # what the store keeps: fresh and stored results agree
            self.compressed += len(missing)
            self.store.put_many(dict(zip(missing, fresh.cpu(), strict=True)))
            out.update(zip(missing, fresh.to(clara.dtype), strict=True))
            log.debug("compressed %d new chunks, %d from the store", len(missing), len(found))
        self._time("memories", started)
        return out

    def _rank(self, plans: list[_Plan]) -> None:
        if not plans:
            return
        started = time.perf_counter()
        if self.clara.config.kind == "e2e":
            limit = self.clara.config.doc_max_length
            for plan in plans:
                if self.count_tokens(plan.question.text) > limit:
                    plan.notes.append(f"documents were ranked on the first {limit} tokens of the question")
            memories = self.memories([c.text for p in plans for c in p.question.chunks])
            queries = steps.encode_questions(self.clara, [p.question.text for p in plans],
                                             packed=self.fast)  # [B, M, D]
            for plan, query in zip(plans, queries, strict=True):
                chunks = plan.question.chunks
                documents = torch.stack([memories[content_hash(c.text)] for c in chunks])  # [N, M, D]
                order, scores = steps.top_k(steps.score(query, documents), self.top_k)
                plan.citations = [Citation(chunks[i], s) for i, s in zip(order, scores, strict=True)]
        else:
            assert self.retriever is not None
            for plan in plans:
                plan.citations = list(self.retriever.rank(plan.question.text, plan.question.chunks,
                                                          self.top_k, plan.question.candidates))[: self.top_k]
        self._time("rank", started)

    def _fit_budget(self, plans: list[_Plan]) -> None:
        tokenizer = self.clara.tokenizer
        for plan in plans:
            wanted = len(plan.citations)
            plan.used = steps.fit_k(tokenizer, plan.question.text, wanted, self.prompt_budget)
            if plan.used == 0:
                plan.text = QUESTION_TOO_LONG
                plan.notes.append(f"the question alone takes more than the prompt budget of "
                                  f"{self.prompt_budget} tokens")
            elif plan.used < wanted:
                plan.notes.append(f"used {plan.used} of {wanted} documents: the prompt was full")

    def _generate(self, plans: list[_Plan]) -> None:
        clara = self.clara
        memories = self.memories([c.chunk.text for p in plans for c in p.citations[: p.used]])
        started = time.perf_counter()
        texts = [p.question.text for p in plans]
        ids, valid = steps.build_prompts(clara, texts, [p.used for p in plans])
        chosen = [torch.stack([memories[content_hash(c.chunk.text)] for c in p.citations[: p.used]])
                  for p in plans]  # [k_b, M, D] each, rank order
        embeds = steps.insert_memory(clara, ids, chosen)
        if self.decoder is not None:
            outputs = self.decoder.generate(embeds, valid, self.max_new_tokens)
        else:
            outputs = steps.generate(clara, embeds, valid, self.max_new_tokens)
        for plan, output in zip(plans, outputs, strict=True):
            plan.text = clara.tokenizer.decode(output).strip()
            if not plan.text:
                plan.text = NO_ANSWER
                plan.notes.append("the model gave an empty answer")
        self._time("generate", started)

    def _time(self, step: str, started: float) -> None:
        if self.clara.device.type == "cuda":
            torch.cuda.synchronize(self.clara.device)
        self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - started


def store_fingerprint(clara: ClaraModel, fast: bool) -> str:
    """The store key of this model's document embeddings. With ``fast`` (and always with quantized
    weights) the decoder adapter is merged into the weights, so the encoder runs on them with the
    merge's rounding: its embeddings are kept apart from those of an unmerged worker's."""
    merged = fast or clara.weights != "bf16"
    return f"{clara.fingerprint}-{'merged' if merged else 'plain'}"


def load_clara_engine(settings: ClaraSettings, retriever: Retriever | None = None,
                      redis: Redis | None = None) -> ClaraEngine:
    """The worker's entry point (see worker.runtime.load_engine)."""
    if settings.checkpoint_dir is None or settings.base_model_dir is None:
        raise CheckpointError("CLaRa needs both a checkpoint folder and a base model folder")
    device = torch.device(settings.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CheckpointError("CLaRa is configured for a GPU, but no CUDA device is available")
    clara = load_clara(settings.checkpoint_dir, settings.base_model_dir, device, weights=settings.weights)
    fast = device.type == "cuda"
    store: MemoryStore
    if redis is not None:
        entry_bytes = clara.n_mem * clara.hidden_size * 2  # bf16
        max_entries = max(1, settings.store_max_bytes // entry_bytes)
        log.info("compressed-document store: up to %d chunks (%.1f GiB) in Redis", max_entries,
                 max_entries * entry_bytes / (1 << 30))
        store = RedisMemoryStore(redis, store_fingerprint(clara, fast), (clara.n_mem, clara.hidden_size),
                                 ttl_seconds=settings.store_ttl_seconds, max_entries=max_entries)
    else:
        log.warning("no Redis given: compressed documents are kept in this process only")
        store = LocalMemoryStore()
    engine = ClaraEngine(clara, store, retriever, max_new_tokens=settings.max_new_tokens,
                         prompt_budget=settings.prompt_budget, fast=fast)
    engine.warm_up()
    return engine
