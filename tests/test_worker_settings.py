"""The worker's settings are read once from the standard environment names."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.settings import WorkerSettings


def test_worker_settings_from_env() -> None:
    settings = WorkerSettings.from_env({
        "SLACK_BOT_TOKEN": "xoxb-secret", "REDIS_URL": "redis://redis:6379/2", "CHATOPS_JOB_THREADS": "4",
        "CHATOPS_HEARTBEAT_INTERVAL": "5", "CHATOPS_MAINTENANCE_INTERVAL": "30",
        "CLARA_CHECKPOINT": "/models/clara/compression-16", "CLARA_BASE_MODEL": "/models/mistral",
        "CLARA_STORE_MAX_BYTES": "512M",
    })
    assert settings.clara.store_max_bytes == 512 << 20
    assert settings.redis_url == "redis://redis:6379/2"
    assert (settings.job_threads, settings.heartbeat_interval_s, settings.maintenance_interval_s) == (4, 5, 30)
    assert settings.clara.enabled and settings.clara.checkpoint_dir == Path("/models/clara/compression-16")
    assert "xoxb-secret" not in repr(settings), "the token never reaches logs through repr"


def test_defaults_without_env() -> None:
    settings = WorkerSettings.from_env({})
    assert not settings.clara.enabled
    assert settings.heartbeat_interval_s * 3 + settings.maintenance_interval_s <= 120, \
        "an abandoned job is noticed within two minutes"


def test_a_checkpoint_without_a_base_model_is_refused() -> None:
    with pytest.raises(ValueError, match="CLARA_BASE_MODEL"):
        WorkerSettings.from_env({"CLARA_CHECKPOINT": "/models/clara"})


@pytest.mark.parametrize(("text", "expected"), [("2G", 2 << 30), ("1.5GiB", 3 << 29), ("100K", 102_400),
                                                ("123456", 123_456)])
def test_store_cap_accepts_units(text: str, expected: int) -> None:
    assert WorkerSettings.from_env({"CLARA_STORE_MAX_BYTES": text}).clara.store_max_bytes == expected


def test_weight_format_is_read_and_checked() -> None:
    assert WorkerSettings.from_env({}).clara.weights == "bf16"
    assert WorkerSettings.from_env({"CLARA_WEIGHTS": " INT8 "}).clara.weights == "int8"
    assert WorkerSettings.from_env({"CLARA_WEIGHTS": "fp8"}).clara.weights == "fp8"
    with pytest.raises(ValueError, match=r"CLARA_WEIGHTS='int4' is not one of bf16, int8, fp8"):
        WorkerSettings.from_env({"CLARA_WEIGHTS": "int4"})


def test_retriever_precision_is_read_and_checked() -> None:
    assert WorkerSettings.from_env({}).retriever_precision == "auto"
    assert WorkerSettings.from_env({"CHATOPS_RETRIEVER_PRECISION": "FP32"}).retriever_precision == "fp32"
    with pytest.raises(ValueError, match=r"CHATOPS_RETRIEVER_PRECISION='fp16' is not one of auto, fp32, bf16"):
        WorkerSettings.from_env({"CHATOPS_RETRIEVER_PRECISION": "fp16"})
