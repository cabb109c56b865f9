#!/usr/bin/env python
"""Issue 11: the index at real size. Three modes, each printing a table (``--out DIR`` also writes JSON):

    # >= 2,000 markdown runbooks on the CPU default engine: indexing throughput, Redis bytes per 1,000
    # chunks, question p50/p95 after indexing, first question after a worker restart
    python bench/scale.py runbooks --corpus /path/to/runbooks-checkout [--corpus ...] --docs 2000

    # a 200 MB log (>= 2M lines) with one incident, uploaded to a (fake, loopback) Slack channel: /logs
    # "why did it fail?" from upload to answer, whether the incident's lines are cited, peak RSS
    python bench/scale.py log --lines 2100000 --at 0.37 [--engine clara]

    # CLaRa worker (random-weight 7B, GPU): 10,000 chunks indexed (memories in Redis), a question after a
    # worker restart; ``--tiny`` checks the script on a CPU with a 2-layer model
    python bench/scale.py clara --chunks 10000 [--tiny]

Corpora are built here: the markdown files under each ``--corpus`` folder (e.g. a checkout of a public
runbook repository, never committed), topped up with generated runbooks to ``--docs``; logs are generated.
Redis: ``--redis URL``; else a private ``redis-server`` is started when one is on PATH (or at
``--redis-server PATH``); else the index and the memories live in this process, and the output says so.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench"), str(REPO / "tests" / "clara")]

ROWS: list[dict[str, Any]] = []
SERVICES = ["payments-api", "checkout", "billing-worker", "search", "auth-gateway", "inventory", "notifications",
            "ledger", "kafka", "postgres", "redis", "elasticsearch", "ingress-nginx", "cert-manager", "vault",
            "etcd", "coredns", "prometheus", "alertmanager", "grafana", "loki", "fluent-bit", "istio",
            "argo-cd", "jenkins", "rabbitmq", "memcached", "cassandra", "mongodb", "minio", "keycloak",
            "cron-scheduler", "image-resizer", "pricing", "recommendations", "shipping", "tax-service",
            "fraud-detector", "email-relay", "sms-gateway"]
SYMPTOMS = ["high latency", "5xx errors", "OOMKilled pods", "crash loop", "disk full", "replication lag",
            "certificate expiry", "connection pool exhausted", "consumer lag", "high CPU", "memory leak",
            "DNS failures", "slow queries", "queue backlog", "TLS handshake errors", "leader election flapping",
            "rate limiting", "stale cache", "failed deploy", "node NotReady"]
VERBS = ["check", "inspect", "restart", "scale", "drain", "roll back", "page", "rotate", "compact", "flush"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def row(section: str, metric: str, value: float, unit: str, target: str = "", note: str = "") -> None:
    ROWS.append({"section": section, "metric": metric, "value": value, "unit": unit, "target": target,
                 "note": note})
    log(f"{section:9s} {metric:52s} {value:12.3f} {unit:8s} {target:10s} {note}")


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- Redis -------------------------------------------------------------------------------------------
class RedisChoice:
    """The Redis the run uses: given, started here, or none (in-process stores)."""

    def __init__(self, url: str | None, server: str | None) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.url = url
        self.label = f"Redis at {url}" if url else ""
        binary = server or shutil.which("redis-server")
        if not url and binary:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            self.process = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no",
                                             "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)
            self.url = f"redis://127.0.0.1:{port}/0"
            self.label = f"private redis-server ({binary}) on port {port}"
        if not self.url:
            self.label = "NO REDIS: index and memories kept in this process (in-process stores)"

    def connect(self) -> Any:
        if not self.url:
            return None
        from redis import Redis

        redis = Redis.from_url(self.url)
        for _ in range(100):
            try:
                redis.ping()
                return redis
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"Redis at {self.url} does not answer")

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


# ---- corpora -----------------------------------------------------------------------------------------
def generated_runbook(i: int, rng: random.Random) -> str:
    service, symptom = SERVICES[i % len(SERVICES)], SYMPTOMS[(i // len(SERVICES)) % len(SYMPTOMS)]
    variant = i // (len(SERVICES) * len(SYMPTOMS))
    lines = [f"# {service}: {symptom}" + (f" (variant {variant})" if variant else ""), "",
             f"Runbook {i} for on-call engineers of the {service} team. Alert: `{service.replace('-', '_')}_"
             f"{symptom.split()[0].lower()}_{i % 97}`.", "", "## Symptoms", ""]
    for _ in range(rng.randint(3, 6)):
        lines.append(f"- {rng.choice(SERVICES)} reports {rng.choice(SYMPTOMS)} in region eu-{rng.randint(1, 4)} "
                     f"(dashboard panel {rng.randint(1, 40)}, p99 above {rng.randint(100, 2000)} ms).")
    lines += ["", "## Diagnosis", ""]
    for step in range(rng.randint(5, 9)):
        command = rng.choice(["get pods", "logs deploy/" + service, "top pods", "describe hpa"])
        lines.append(f"{step + 1}. {rng.choice(VERBS).capitalize()} the {rng.choice(SERVICES)} pods: "
                     f"`kubectl -n {service} {command}` and compare with the last {rng.randint(2, 48)} hours.")
    lines += ["", "## Mitigation", ""]
    for step in range(rng.randint(4, 8)):
        how = rng.choice(["canary first", "one zone at a time", "after paging the owner", "during low traffic"])
        tool = rng.choice(["helm rollback", "kubectl rollout undo", "systemctl restart", "patronictl switchover"])
        lines.append(f"{step + 1}. {rng.choice(VERBS).capitalize()} {service} ({how}): "
                     f"`{tool} {service}-{rng.randint(0, 9)}`.")
    lines += ["", "## Escalation", "", f"Page #{service}-oncall after {rng.randint(10, 60)} minutes; "
              f"incident template INC-{i:05d}.", ""]
    return "\n".join(lines)


def build_corpus(target: Path, corpora: list[Path], docs: int, seed: int = 11) -> tuple[int, int, int]:
    """-> (real files, generated files, bytes)."""
    real = 0
    for corpus in corpora:
        for path in sorted(corpus.rglob("*.md")):
            if any(part.startswith(".") for part in path.relative_to(corpus).parts):
                continue
            out = target / corpus.name / path.relative_to(corpus)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
            real += 1
    rng = random.Random(seed)
    generated = max(0, docs - real)
    for i in range(generated):
        out = target / "generated" / f"{i // 500:02d}" / f"runbook-{i:05d}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(generated_runbook(i, rng))
    size = sum(p.stat().st_size for p in target.rglob("*.md"))
    return real, generated, size


def questions(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    forms = ["how do I fix {s} on {v}?", "{v} has {s}, what do I check first?", "what is the mitigation for "
             "{s} in {v}?", "who do I page when {v} shows {s}?", "how do I roll back {v} after {s}?"]
    return [rng.choice(forms).format(s=rng.choice(SYMPTOMS), v=rng.choice(SERVICES)) for _ in range(n)]


def log_lines(lines: int, at: float, seed: int = 5) -> Iterator[str]:
    """Quiet request lines with a few rare ones and one incident (a Python stack trace) at ``at`` (0..1)."""
    rng = random.Random(seed)
    where = int(lines * at)
    for i in range(lines):
        if i == where:
            yield "2024-05-01T10:30:00.000Z ERROR [checkout.pay] checkout failed: PaymentGatewayError: upstream 503"
            yield "Traceback (most recent call last):"
            yield '  File "/app/checkout/pay.py", line 88, in charge'
            yield '    raise PaymentGatewayError("upstream returned 503")'
            yield "PaymentGatewayError: upstream returned 503"
        if i % 50_000 == 7:
            yield f"2024-05-01T10:00:{i % 60:02d}.000Z WARN [gc] pause {rng.randint(200, 900)}ms on heap region {i}"
        yield (f"2024-05-01T{10 + i // 3_600_000:02d}:{i // 60_000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z INFO "
               f"[checkout.http] request id={rng.randrange(10**9)} POST /api/v1/cart/{rng.randrange(1000)} status=200 "
               f"took {rng.randrange(300)}ms user=u{rng.randrange(10**5)}")


def incident_first_line(lines: int, at: float) -> int:
    """The file line number of the incident's first line in ``log_lines``."""
    where = int(lines * at)
    warnings_before = (where - 8) // 50_000 + 1 if where > 7 else 0
    return where + warnings_before + 1


# ---- mode: runbooks --------------------------------------------------------------------------------
def bench_runbooks(args: argparse.Namespace, redis_choice: RedisChoice) -> None:
    from jobs.payload import QuestionJob
    from worker.documents.gather import DocumentGatherer
    from worker.documents.runbooks import RunbookFolder
    from worker.engine.default import ExtractiveEngine
    from worker.index.runbook_sync import RunbookSync
    from worker.pipeline import AnswerPipeline
    from worker.runtime import engine_index
    from worker.settings import IndexSettings

    workdir = Path(tempfile.mkdtemp(prefix="scale-runbooks-"))
    try:
        real, generated, size = build_corpus(workdir, args.corpus, args.docs)
        log(f"corpus: {real} real markdown files from {[str(c) for c in args.corpus]} + {generated} generated, "
            f"{size / 1e6:.1f} MB; {load()}")
        started = time.perf_counter()
        engine = ExtractiveEngine.load()
        row("runbooks", "model load (MiniLM)", time.perf_counter() - started, "s")
        redis = redis_choice.connect()
        if redis is not None and not args.keep_index:
            redis.flushdb()
        settings = IndexSettings()
        index = engine_index(engine, redis, settings)
        used_before = int(redis.info("memory")["used_memory"]) if redis is not None else 0
        report = RunbookSync(RunbookFolder(workdir), index).sync()
        row("runbooks", f"indexing {report.documents} runbooks ({report.chunks} chunks)", report.seconds, "s",
            note=load())
        if report.chunks:
            row("runbooks", "indexing throughput", report.chunks_per_second, "chunks/s")
        if report.chunks and not report.reused:  # (a run over an index already filled is a worker restart)
            stored = index.store.stored_bytes()  # type: ignore[attr-defined]
            row("runbooks", "index entries' bytes per 1,000 chunks", stored / report.chunks * 1000 / 1e6, "MB")
            if redis is not None:
                used = int(redis.info("memory")["used_memory"]) - used_before
                row("runbooks", "Redis used_memory per 1,000 chunks (all keys)", used / report.chunks * 1000 / 1e6,
                    "MB")

        def pipeline_for(chunk_index: Any) -> AnswerPipeline:
            return AnswerPipeline(DocumentGatherer([RunbookFolder(workdir)]), engine, chunk_index)

        def ask(pipeline: AnswerPipeline, text: str) -> tuple[float, Any]:
            job = QuestionJob(question=text, channel="C1", user="U1", mode="ask", source="cli")
            t = time.perf_counter()
            answer = pipeline.answer(job)
            return time.perf_counter() - t, answer

        pipeline = pipeline_for(index)
        first, _ = ask(pipeline, "how do I roll back payments-api after a failed deploy?")
        row("runbooks", "first question after indexing (files read, candidates assembled)" if report.chunks else
            "first question of a new worker process (files read, index from Redis)", first * 1000, "ms")
        times = [ask(pipeline, q)[0] for q in questions(args.questions)]
        row("runbooks", f"question p50 ({len(times)} questions, model loaded)",
            statistics.median(times) * 1000, "ms", "< 300", load())
        row("runbooks", "question p95", sorted(times)[int(0.95 * (len(times) - 1))] * 1000, "ms", "< 1000")
        prepare = []
        for q in questions(args.questions):
            t = time.perf_counter()
            pipeline.prepare(QuestionJob(question=q, channel="C1", user="U1", source="cli"))
            prepare.append(time.perf_counter() - t)
        row("runbooks", "  of which gathering + candidates from the index, p50", statistics.median(prepare) * 1000,
            "ms", note="the rest: MiniLM on the question and on the cited chunks' lines, extractive answer")
        _, answer = ask(pipeline, "payments-api has high latency, what do I check first?")
        log(f"sample answer cites: {[c.chunk.chunk_id for c in answer.citations]}")

        # a restarted worker: nothing in memory (new index object, files read and redacted again), the same
        # Redis (the model stays loaded: "model loaded")
        forget_process_state()
        restarted = engine_index(engine, redis, settings) if redis is not None else index
        cold, _ = ask(pipeline_for(restarted), "how do I fix replication lag on postgres?")
        row("runbooks", "first question after a worker restart (no start-up sync)", cold * 1000, "ms", "< 2000",
            redis_choice.label)
        forget_process_state()
        restarted = engine_index(engine, redis, settings) if redis is not None else index
        folder = RunbookFolder(workdir)
        gatherer = DocumentGatherer([folder])
        t = time.perf_counter()
        RunbookSync(folder, restarted, redactor=gatherer.redactor).sync(load=True)
        row("runbooks", "worker start-up sync (index loaded from Redis)", time.perf_counter() - t, "s")
        t = time.perf_counter()
        job = QuestionJob(question="who do I page when vault shows disk full?", channel="C1", user="U1",
                          source="cli")
        AnswerPipeline(gatherer, engine, restarted).answer(job)
        row("runbooks", "first question after a restart with start-up sync", (time.perf_counter() - t) * 1000,
            "ms", "< 2000")
        row("runbooks", "peak RSS of this process", peak_rss_mb(), "MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def forget_process_state() -> None:
    """What a restarted worker does not have: content keys computed before (its gatherer and runbook sync
    are new objects, with new redaction caches)."""
    from worker.index.chunk_index import content_key

    content_key.cache_clear()


# ---- mode: log -------------------------------------------------------------------------------------
def serve_log(args: argparse.Namespace) -> None:
    """(child process) A fake Slack workspace on loopback with the generated log uploaded to C1."""
    from tests.fake_slack import FakeSlack

    body = ("\n".join(log_lines(args.lines, args.at)) + "\n").encode()
    name = "app.log"
    mimetype = "text/plain"
    if args.gzip:
        body, name, mimetype = gzip.compress(body, 1), "app.log.gz", "application/gzip"
    with FakeSlack() as slack:
        slack.add_channel("C1", "ops", members={"U1"})
        slack.add_file("F1", name, body, channel="C1", mimetype=mimetype, filetype="text")
        print(json.dumps({"api_url": slack.api_url, "bytes": len(body)}), flush=True)
        sys.stdin.read()  # until the parent closes it


def bench_log(args: argparse.Namespace, redis_choice: RedisChoice) -> None:
    from jobs.payload import QuestionJob
    from jobs.slack_client import slack_client
    from tests.fake_slack import BOT_TOKEN
    from worker.documents.gather import DocumentGatherer
    from worker.documents.settings import GatheringSettings
    from worker.index.files import IndexedFiles
    from worker.pipeline import AnswerPipeline

    engine, index = load_engine_and_index(args, redis_choice)
    log(f"generating and serving a log of {args.lines:,} lines (incident at {args.at:.0%}); {load()}")
    child = subprocess.Popen([sys.executable, __file__, "_serve-log", "--lines", str(args.lines), "--at",
                              str(args.at), *(["--gzip"] if args.gzip else [])], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        served = json.loads(child.stdout.readline())
        client = slack_client(BOT_TOKEN, served["api_url"])
        settings = GatheringSettings()
        gatherer = DocumentGatherer.from_settings(settings, client, read_before=IndexedFiles(index.store))
        pipeline = AnswerPipeline(gatherer, engine, index)
        job = QuestionJob(question="why did it fail?", channel="C1", user="U1", mode="logs", source="command")
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        answer = pipeline.answer(job)
        elapsed = time.perf_counter() - started
        first = incident_first_line(args.lines, args.at)
        cited = [(c.chunk.document.title, c.chunk.line_start, c.chunk.line_end) for c in answer.citations]
        hit = any(start <= first + 1 <= end for _, start, end in cited)
        row("log", f"upload-to-answer, {served['bytes'] / 1e6:.0f} MB {'gzip' if args.gzip else 'plain'} log",
            elapsed, "s", "< 60 CPU / < 20 GPU", load())
        row("log", "the incident's lines are cited", float(hit), "bool", "1",
            f"incident at line {first}; cited {cited}")
        row("log", "peak RSS of the worker process", peak_rss_mb(), "MB", "< 2048",
            f"{rss_before:.0f} MB before the question (model loaded)")
        log("notes: " + " | ".join(answer.notes))
        started = time.perf_counter()
        pipeline.answer(job)
        row("log", "the same question again (file from the index, not downloaded)", time.perf_counter() - started,
            "s")
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(30)


def load_engine_and_index(args: argparse.Namespace, redis_choice: RedisChoice) -> tuple[Any, Any]:
    redis = redis_choice.connect()
    if redis is not None:
        redis.flushdb()
    if args.engine == "default":
        from worker.engine.default import ExtractiveEngine
        from worker.runtime import engine_index

        engine = ExtractiveEngine.load()
        return engine, engine_index(engine, redis)
    engine, index, _ = clara_engine_and_index(args, redis)
    return engine, index


# ---- mode: clara -------------------------------------------------------------------------------------
def clara_engine_and_index(args: argparse.Namespace, redis: Any) -> tuple[Any, Any, Callable[[], Any]]:
    """A random-weight CLaRa engine (7B shapes on CUDA, or ``--tiny`` on the CPU) whose memories live in
    Redis (or in this process), behind a device cache; the index chunks for it. Returns a function that
    simulates a worker restart: new caches and a new index object, the same stores (the model stays
    loaded: loading weights is not part of what is measured)."""
    import torch
    from clara_perf import TINY
    from clara_random import MISTRAL_7B, random_clara

    from worker.clara.engine import ClaraEngine, store_fingerprint
    from worker.clara.memory_cache import DeviceMemoryCache
    from worker.clara.store import LocalMemoryStore, MemoryStore, RedisMemoryStore
    from worker.index.chunk_index import ChunkIndex, index_fingerprint
    from worker.index.store import IndexStore, LocalIndexStore, RedisIndexStore

    device = torch.device("cpu" if args.tiny else "cuda")
    dtype = torch.float32 if args.tiny else torch.bfloat16
    clara, seconds = random_clara(device, dtype, model_config=TINY if args.tiny else MISTRAL_7B)
    row("clara", f"random {'tiny' if args.tiny else '7B'} model built on {device}", seconds, "s")
    fast = device.type == "cuda"
    backing: MemoryStore
    if redis is not None:
        backing = RedisMemoryStore(redis, store_fingerprint(clara, fast), (clara.n_mem, clara.hidden_size),
                                   max_entries=None)
    else:
        backing = LocalMemoryStore(max_entries=10**7)  # stands in for Redis: survives the simulated restart
    engine = ClaraEngine(clara, DeviceMemoryCache(backing, device, 10**6), fast=fast,
                         max_new_tokens=args.max_new_tokens)
    engine.warm_up()
    lock = threading.Lock()
    embed, embedder = minilm_or_none()
    fingerprint = index_fingerprint(engine.name, engine.max_chunk_tokens, embedder)
    store: IndexStore = (RedisIndexStore(redis, fingerprint, max_bytes=8 << 30) if redis is not None
                         else LocalIndexStore(max_bytes=8 << 30))

    def new_index() -> ChunkIndex:
        return ChunkIndex(store, embed, max_chunk_tokens=engine.max_chunk_tokens, count_tokens=engine.count_tokens,
                          encode_more=engine.memories, model_lock=lock, cache_bytes=4 << 30)

    def restart() -> ChunkIndex:
        engine.store = DeviceMemoryCache(backing, device, 10**6)
        engine.compressed = 0
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return new_index()

    return engine, new_index(), restart


def minilm_or_none() -> tuple[Callable[[Any], Any], str]:
    """The default engine's MiniLM when it is installed (dense vectors in the index), else none: an E2E
    checkpoint ranks in its own compressed space and does not need them."""
    try:
        import torch

        from worker.engine.default import MiniLMRetriever, load_embeddings

        retriever = MiniLMRetriever(load_embeddings("cuda" if torch.cuda.is_available() else "cpu"))
        return retriever.embed, retriever.cache.embedder
    except ImportError as error:
        log(f"no MiniLM here ({error}): the index keeps no dense vectors")
        import numpy as np

        return (lambda texts: np.zeros((len(texts), 0), np.float32)), "none"


def bench_clara(args: argparse.Namespace, redis_choice: RedisChoice) -> None:
    from worker.documents.document import Document
    from worker.documents.runbooks import RunbookFolder
    from worker.engine.base import Question

    redis = redis_choice.connect()
    if redis is not None:
        redis.flushdb()
    engine, index, restart = clara_engine_and_index(args, redis)
    workdir = Path(tempfile.mkdtemp(prefix="scale-clara-"))
    try:
        # enough runbooks for ``--chunks`` chunks of <= 256 tokens (about 5 chunks per generated runbook)
        documents: list[Document] = []
        chunks = 0
        docs = max(16, args.chunks // 4)
        while chunks < args.chunks:
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir()
            build_corpus(workdir, args.corpus, docs)
            documents = [d for d in RunbookFolder(workdir).gather(_sync_request())]
            from worker.documents.chunking import chunk_one

            chunks = sum(len(chunk_one(d, engine.max_chunk_tokens, engine.count_tokens).others) for d in documents)
            docs = int(docs * args.chunks / max(chunks, 1) * 1.05) + 1
        log(f"{len(documents)} runbooks, {chunks} chunks of <= {engine.max_chunk_tokens} tokens; {load()}")
        report = index.index(documents)
        row("clara", f"indexing {report.chunks} chunks (compress + store memories, MiniLM vectors)", report.seconds,
            "s", note=redis_choice.label)
        row("clara", "indexing throughput", report.chunks_per_second, "chunks/s")
        question = "payments-api has high latency after a deploy: what do I check first?"

        def ask(chunk_index: Any) -> float:
            started = time.perf_counter()
            candidates = chunk_index.candidates(documents)
            engine.answer_batch([Question(question, candidates.chunks, candidates)])
            return time.perf_counter() - started

        row("clara", "question over all candidates, warm", ask(index), "s")
        fresh = restart()
        started = time.perf_counter()
        fresh.index(documents, load=True)
        row("clara", "worker start-up sync (entries + memories from the store to the GPU)",
            time.perf_counter() - started, "s", note=redis_choice.label)
        row("clara", "question after a restart, after start-up sync", ask(fresh), "s", "< 1.5")
        row("clara", "chunks recompressed after the restart", engine.compressed, "chunks", "0")
        cold = restart()
        row("clara", "question after a restart, no start-up sync (memories read in the question)", ask(cold), "s")
        row("clara", "chunks recompressed", engine.compressed, "chunks", "0")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _sync_request() -> Any:
    from worker.index.runbook_sync import SYNC_REQUEST

    return SYNC_REQUEST


# ---- main --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    runbooks = sub.add_parser("runbooks")
    runbooks.add_argument("--corpus", type=Path, action="append", default=[], help="folder of markdown runbooks")
    runbooks.add_argument("--docs", type=int, default=2000, help="top up with generated runbooks to this many")
    runbooks.add_argument("--questions", type=int, default=60)
    runbooks.add_argument("--keep-index", action="store_true",
                          help="do not empty the Redis database first: a second run is a worker restart")
    logs = sub.add_parser("log")
    logs.add_argument("--lines", type=int, default=2_100_000)
    logs.add_argument("--at", type=float, default=0.37, help="where the incident is, 0..1")
    logs.add_argument("--gzip", action="store_true")
    logs.add_argument("--engine", choices=["default", "clara"], default="default")
    logs.add_argument("--tiny", action="store_true", help="(--engine clara) a 2-layer model on the CPU")
    clara = sub.add_parser("clara")
    clara.add_argument("--chunks", type=int, default=10_000)
    clara.add_argument("--corpus", type=Path, action="append", default=[])
    clara.add_argument("--tiny", action="store_true", help="a 2-layer model on the CPU: checks the script")
    for mode in (logs, clara):
        mode.add_argument("--max-new-tokens", type=int, default=64, help="(CLaRa) longest answer, tokens")
    serve = sub.add_parser("_serve-log")
    serve.add_argument("--lines", type=int, required=True)
    serve.add_argument("--at", type=float, required=True)
    serve.add_argument("--gzip", action="store_true")
    for mode in (runbooks, logs, clara):
        mode.add_argument("--redis", metavar="URL")
        mode.add_argument("--redis-server", metavar="PATH", help="a redis-server binary to start")
        mode.add_argument("--out", type=Path, help="write scale_<mode>.json here")
    args = parser.parse_args(argv)
    if args.mode == "_serve-log":
        serve_log(args)
        return 0
    redis_choice = RedisChoice(args.redis, args.redis_server)
    log(f"{args.mode}: {redis_choice.label}; {os.cpu_count()} CPUs; {load()}")
    try:
        {"runbooks": bench_runbooks, "log": bench_log, "clara": bench_clara}[args.mode](args, redis_choice)
    finally:
        redis_choice.close()
    log(f"done; {load()}")
    print(f"\n{'section':9s} {'metric':70s} {'value':>12s} unit     target")
    for r in ROWS:
        print(f"{r['section']:9s} {r['metric']:70s} {r['value']:12.3f} {r['unit']:8s} {r['target']} {r['note']}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"scale_{args.mode}.json").write_text(json.dumps(
            {"redis": redis_choice.label, "rows": ROWS}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
