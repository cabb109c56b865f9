"""The worker process's settings, read once at start-up and passed in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from worker.clara.config import WEIGHT_FORMATS
from worker.documents.settings import GatheringSettings


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def _bytes(value: str | None, default: int) -> int:
    """``4G``, ``512M``, ``100K`` or a plain number of bytes (binary units)."""
    if not value:
        return default
    value = value.strip().upper().removesuffix("B").removesuffix("I")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if value and value[-1] in units:
        return int(float(value[:-1]) * units[value[-1]])
    return int(value)


def _weight_format(value: str | None) -> str:
    value = (value or ClaraSettings.weights).strip().lower()
    if value not in WEIGHT_FORMATS:
        raise ValueError(f"CLARA_WEIGHTS must be one of {', '.join(WEIGHT_FORMATS)}, not {value!r}")
    return value


@dataclass(frozen=True)
class ClaraSettings:
    """Where the CLaRa weights are; the engine is used only when ``checkpoint_dir`` is set."""

    checkpoint_dir: Path | None = None  # e.g. /models/CLaRa-7B-E2E/compression-16
    base_model_dir: Path | None = None  # a local Mistral-7B-Instruct-v0.2
    device: str = "cuda"
    weights: str = "bf16"  # bf16, int8 or fp8 (weight-only quantized at load; worker/clara/quantize.py)
    max_new_tokens: int = 256
    prompt_budget: int = 1024  # tokens of prompt: k and the question must fit in it
    store_ttl_seconds: int = 7 * 86400  # compressed documents kept in Redis
    store_max_bytes: int = 4 << 30  # LRU cap on compressed documents in Redis (4 GiB: 32k chunks of CLaRa-7B c16)

    @property
    def enabled(self) -> bool:
        return self.checkpoint_dir is not None


@dataclass(frozen=True)
class WorkerSettings:
    bot_token: str = field(default="", repr=False)
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "chatops"
    slack_api_url: str | None = None
    top_k: int = 3  # documents the default engine cites
    retriever_device: str = "cpu"
    job_threads: int = 8  # jobs taken at once (documents gathered in parallel); 1 = plain SimpleWorker
    batch_size: int = 8  # questions answered by one engine call when several are waiting
    heartbeat_interval_s: int = 20  # a running job's heartbeat; abandoned after three missed beats
    maintenance_interval_s: int = 60  # how often this worker looks for jobs abandoned by dead workers
    clara: ClaraSettings = field(default_factory=ClaraSettings)
    gathering: GatheringSettings = field(default_factory=GatheringSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """``SLACK_BOT_TOKEN``, ``REDIS_URL``, ``SLACK_API_URL``, ``CHATOPS_QUEUE``, ``CHATOPS_TOP_K``,
        ``CHATOPS_JOB_THREADS``, ``CHATOPS_BATCH_SIZE``, ``CHATOPS_HEARTBEAT_INTERVAL``,
        ``CHATOPS_MAINTENANCE_INTERVAL``, ``CLARA_CHECKPOINT``,
        ``CLARA_BASE_MODEL``, ``CLARA_DEVICE``, ``CLARA_WEIGHTS`` (``bf16``, ``int8`` or ``fp8``: the Mistral
        projections quantized at load, per output channel; int8 on any CUDA GPU, fp8 on compute
        capability 8.9+; both fit CLaRa-7B in about 10 GB), ``CLARA_MAX_NEW_TOKENS``,
        ``CLARA_PROMPT_BUDGET``, ``CLARA_STORE_TTL``, ``CLARA_STORE_MAX_BYTES`` (bytes, or with a K/M/G
        suffix), and the gathering settings' own names."""
        env = os.environ if environ is None else environ
        clara = ClaraSettings(
            checkpoint_dir=_path(env.get("CLARA_CHECKPOINT")),
            base_model_dir=_path(env.get("CLARA_BASE_MODEL")),
            device=env.get("CLARA_DEVICE", ClaraSettings.device),
            weights=_weight_format(env.get("CLARA_WEIGHTS")),
            max_new_tokens=int(env.get("CLARA_MAX_NEW_TOKENS", ClaraSettings.max_new_tokens)),
            prompt_budget=int(env.get("CLARA_PROMPT_BUDGET", ClaraSettings.prompt_budget)),
            store_ttl_seconds=int(env.get("CLARA_STORE_TTL", ClaraSettings.store_ttl_seconds)),
            store_max_bytes=_bytes(env.get("CLARA_STORE_MAX_BYTES"), ClaraSettings.store_max_bytes),
        )
        if clara.enabled and clara.base_model_dir is None:
            raise ValueError("CLARA_CHECKPOINT is set: set CLARA_BASE_MODEL to a local "
                             "Mistral-7B-Instruct-v0.2 folder too")
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN", ""),
            redis_url=env.get("REDIS_URL", cls.redis_url),
            queue_name=env.get("CHATOPS_QUEUE", cls.queue_name),
            slack_api_url=env.get("SLACK_API_URL") or None,
            top_k=int(env.get("CHATOPS_TOP_K", cls.top_k)),
            retriever_device=env.get("CHATOPS_RETRIEVER_DEVICE", cls.retriever_device),
            job_threads=int(env.get("CHATOPS_JOB_THREADS", cls.job_threads)),
            batch_size=int(env.get("CHATOPS_BATCH_SIZE", cls.batch_size)),
            heartbeat_interval_s=int(env.get("CHATOPS_HEARTBEAT_INTERVAL", cls.heartbeat_interval_s)),
            maintenance_interval_s=int(env.get("CHATOPS_MAINTENANCE_INTERVAL", cls.maintenance_interval_s)),
            clara=clara,
            gathering=GatheringSettings.from_env(env),
        )
