"""The worker process's settings, read once at start-up and passed in.

Environment variables read by :meth:`WorkerSettings.from_env` (all optional; the document-gathering
ones, ``CHATOPS_RUNBOOK_DIR`` and the rest, are listed in worker/documents/settings.py):

=================================  ==================================================================
``SLACK_BOT_TOKEN``                the bot token the worker answers with (the CLI needs none)
``REDIS_URL``                      the Redis the bot enqueues on (default ``redis://127.0.0.1:6379/0``)
``CHATOPS_QUEUE``                  the RQ queue to take questions from (default ``chatops``)
``SLACK_API_URL``                  another Web API base URL (a proxy, the tests' fake Slack)
``CHATOPS_TOP_K``                  documents the default engine cites (default 3)
``CHATOPS_RETRIEVER_DEVICE``       where MiniLM runs: ``cpu`` (default) or ``cuda``
``CHATOPS_RETRIEVER_PRECISION``    ``auto`` (default), ``fp32`` or ``bf16``: MiniLM's matrix products; ``auto``
                                   is bf16 where the device multiplies it in hardware (a CPU with
                                   AVX512-BF16 or AMX, 1.7x faster indexing; a GPU from Ampere on)
``CHATOPS_JOB_THREADS``            jobs taken at once, documents gathered in parallel (default 8;
                                   1 = one plain SimpleWorker)
``CHATOPS_BATCH_SIZE``             questions answered by one engine call when several wait (default 8)
``CHATOPS_HEARTBEAT_INTERVAL``     seconds between a running job's heartbeats; three missed beats and
                                   the job counts as abandoned (default 20)
``CHATOPS_MAINTENANCE_INTERVAL``   seconds between looks for jobs abandoned by dead workers (default 60)
``CHATOPS_METRICS_PORT``           the port Prometheus scrapes ``/metrics`` on (default 9102; 0: none)
``LOG_LEVEL``                      DEBUG, INFO, WARNING or ERROR (default INFO)
``CHATOPS_INDEX_MAX_BYTES``        cap on the document index in Redis, e.g. ``2G`` (default 2 GiB: about
                                   800,000 chunks of the default engine, see docs/performance.md); past
                                   it the least recently used documents are dropped (and read again
                                   when asked about)
``CHATOPS_INDEX_TTL``              seconds an unused document stays in the index (default 30 days)
``CHATOPS_INDEX_CACHE_BYTES``      index entries this worker keeps in memory (default ``512M``)
``CHATOPS_RUNBOOK_RESCAN_S``       seconds between looks at the runbook folder for changed files, which
                                   are indexed then (default 60; 0: only at start)
``CLARA_CHECKPOINT``               a CLaRa checkpoint folder, e.g. ``/models/CLaRa-7B-E2E/compression-16``;
                                   unset: the default engine
``CLARA_BASE_MODEL``               a local Mistral-7B-Instruct-v0.2 folder (required with a checkpoint)
``CLARA_DEVICE``                   ``cuda`` (default) or ``cpu``
``CLARA_WEIGHTS``                  ``bf16`` (default), ``int8`` or ``fp8``: the Mistral projections quantized
                                   at load, per output channel (worker/clara/quantize.py); int8 on any
                                   CUDA GPU, fp8 on compute capability 8.9+; both fit CLaRa-7B in ~10 GB
``CLARA_MAX_NEW_TOKENS``           longest generated answer, in tokens (default 256)
``CLARA_PROMPT_BUDGET``            prompt tokens: k documents and the question must fit (default 1024)
``CLARA_STORE_TTL``                seconds compressed documents stay in Redis (default 7 days)
``CLARA_STORE_MAX_BYTES``          cap on compressed documents in Redis, e.g. ``4G`` (default 4 GiB)
``CLARA_MEMORY_CACHE_BYTES``       compressed documents kept on the GPU in front of Redis (default 4 GiB:
                                   32k chunks; an E2E checkpoint reads every candidate's per question)
=================================  ==================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobs import defaults
from jobs.env import Env, SettingsError
from worker.clara.config import WEIGHT_FORMATS
from worker.documents.settings import GatheringSettings
from worker.engine.base import PRECISIONS


@dataclass(frozen=True)
class ClaraSettings:
    """Where the CLaRa weights are; the engine is used only when ``checkpoint_dir`` is set."""

    checkpoint_dir: Path | None = None  # e.g. /models/CLaRa-7B-E2E/compression-16
    base_model_dir: Path | None = None  # a local Mistral-7B-Instruct-v0.2
    device: str = "cuda"
    weights: str = "bf16"  # bf16, int8 or fp8 (WEIGHT_FORMATS)
    max_new_tokens: int = 256
    prompt_budget: int = 1024  # tokens of prompt: k and the question must fit in it
    store_ttl_seconds: int = 7 * 86400  # compressed documents kept in Redis
    store_max_bytes: int = 4 << 30  # LRU cap on compressed documents in Redis (4 GiB: 32k chunks of CLaRa-7B c16)
    memory_cache_bytes: int = 4 << 30  # compressed documents kept on the device, in front of Redis

    @property
    def enabled(self) -> bool:
        return self.checkpoint_dir is not None

    @classmethod
    def from_env(cls, env: Env) -> ClaraSettings:
        settings = cls(
            checkpoint_dir=env.path("CLARA_CHECKPOINT"),
            base_model_dir=env.path("CLARA_BASE_MODEL"),
            device=env.text("CLARA_DEVICE", cls.device),
            weights=env.text("CLARA_WEIGHTS", cls.weights).lower(),
            max_new_tokens=env.number("CLARA_MAX_NEW_TOKENS", cls.max_new_tokens, minimum=1),
            prompt_budget=env.number("CLARA_PROMPT_BUDGET", cls.prompt_budget, minimum=1),
            store_ttl_seconds=env.number("CLARA_STORE_TTL", cls.store_ttl_seconds, minimum=1),
            store_max_bytes=env.size("CLARA_STORE_MAX_BYTES", cls.store_max_bytes),
            memory_cache_bytes=env.size("CLARA_MEMORY_CACHE_BYTES", cls.memory_cache_bytes),
        )
        if settings.weights not in WEIGHT_FORMATS:
            raise SettingsError(f"CLARA_WEIGHTS={settings.weights!r} is not one of {', '.join(WEIGHT_FORMATS)}")
        if settings.enabled and settings.base_model_dir is None:
            raise SettingsError("CLARA_CHECKPOINT is set: set CLARA_BASE_MODEL to a local "
                                "Mistral-7B-Instruct-v0.2 folder too")
        return settings


@dataclass(frozen=True)
class IndexSettings:
    """The document index (worker/index/): its bounds in Redis and in this process."""

    max_bytes: int = 2 << 30  # Redis bytes for index entries, LRU past it
    ttl_seconds: int = 30 * 86400  # an unused document's entry expires
    cache_bytes: int = 512 << 20  # entries and assembled candidates kept in this process
    rescan_interval_s: int = 60  # runbook folder rescans; 0: at start only

    @classmethod
    def from_env(cls, env: Env) -> IndexSettings:
        return cls(
            max_bytes=env.size("CHATOPS_INDEX_MAX_BYTES", cls.max_bytes),
            ttl_seconds=env.number("CHATOPS_INDEX_TTL", cls.ttl_seconds, minimum=1),
            cache_bytes=env.size("CHATOPS_INDEX_CACHE_BYTES", cls.cache_bytes),
            rescan_interval_s=env.number("CHATOPS_RUNBOOK_RESCAN_S", cls.rescan_interval_s, minimum=0),
        )


@dataclass(frozen=True)
class WorkerSettings:
    bot_token: str = field(default="", repr=False)
    redis_url: str = defaults.REDIS_URL
    queue_name: str = defaults.QUEUE_NAME
    slack_api_url: str | None = None
    top_k: int = 3  # documents the default engine cites
    retriever_device: str = "cpu"
    retriever_precision: str = "auto"  # auto, fp32 or bf16 (worker.engine.base.PRECISIONS)
    job_threads: int = 8  # jobs taken at once (documents gathered in parallel); 1 = plain SimpleWorker
    batch_size: int = 8  # questions answered by one engine call when several are waiting
    heartbeat_interval_s: int = 20  # a running job's heartbeat; abandoned after three missed beats
    maintenance_interval_s: int = 60  # how often this worker looks for jobs abandoned by dead workers
    metrics_port: int = defaults.WORKER_METRICS_PORT  # 0: no metrics server
    log_level: str = defaults.LOG_LEVEL
    clara: ClaraSettings = field(default_factory=ClaraSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    gathering: GatheringSettings = field(default_factory=GatheringSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """The variables in the module docstring and the gathering settings' own. Raises
        ``SettingsError`` (a ValueError) naming the variable that is malformed."""
        env = Env(os.environ if environ is None else environ)
        settings = cls(
            bot_token=env.text("SLACK_BOT_TOKEN", ""),
            redis_url=env.text("REDIS_URL", cls.redis_url),
            queue_name=env.text("CHATOPS_QUEUE", cls.queue_name),
            slack_api_url=env.text("SLACK_API_URL"),
            top_k=env.number("CHATOPS_TOP_K", cls.top_k, minimum=1),
            retriever_device=env.text("CHATOPS_RETRIEVER_DEVICE", cls.retriever_device),
            retriever_precision=env.text("CHATOPS_RETRIEVER_PRECISION", cls.retriever_precision).lower(),
            job_threads=env.number("CHATOPS_JOB_THREADS", cls.job_threads, minimum=1),
            batch_size=env.number("CHATOPS_BATCH_SIZE", cls.batch_size, minimum=1),
            heartbeat_interval_s=env.number("CHATOPS_HEARTBEAT_INTERVAL", cls.heartbeat_interval_s, minimum=1),
            maintenance_interval_s=env.number("CHATOPS_MAINTENANCE_INTERVAL", cls.maintenance_interval_s,
                                              minimum=1),
            metrics_port=env.number("CHATOPS_METRICS_PORT", cls.metrics_port, minimum=0),
            log_level=env.log_level(),
            clara=ClaraSettings.from_env(env),
            index=IndexSettings.from_env(env),
            gathering=GatheringSettings.from_env(env.environ),
        )
        if settings.retriever_precision not in PRECISIONS:
            raise SettingsError(f"CHATOPS_RETRIEVER_PRECISION={settings.retriever_precision!r} is not one of "
                                f"{', '.join(PRECISIONS)}")
        return settings
