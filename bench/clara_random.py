"""A CLaRa model of the real CLaRa-7B shapes with random weights, built through the loader's own
``assemble`` (the same checks and assignment as ``load_clara``), with no 14 GB of file writes. Shared by
``clara_smoke.py`` and ``clara_perf.py``. bf16: drawn on the device; int8 / fp8: drawn on the device,
kept in host memory and quantized on the way back, as ``load_clara`` does with the files, so the device
never holds the bf16 model. The same seed gives the same weights in every format."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "clara")]

from worker.clara.checkpoint import EMBED_KEY, HEAD_KEY, ClaraModel, assemble  # noqa: E402
from worker.clara.config import ClaraConfig  # noqa: E402
from worker.clara.model import Mistral, ModelConfig  # noqa: E402
from worker.clara.tokenizer import ClaraTokenizer  # noqa: E402

MISTRAL_7B = ModelConfig(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                         intermediate_size=14336, vocab_size=32000, rms_norm_eps=1e-5, rope_theta=1e6)
STAGES = {"e2e": "stage2", "instruct": "stage1_2", "base": "stage1"}


def tokenizer_model() -> Path:
    for candidate in (os.environ.get("CLARA_TOKENIZER_MODEL"), ROOT / ".whl" / "clara" / "tokenizer.model"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    import mistral_common

    return Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"


def base_tokenizer(n_mem: int) -> ClaraTokenizer:
    """The ``tokenizer.json`` beside that ``tokenizer.model`` when there is one (what the loader reads),
    else sentencepiece on the model file (the ids of a legacy tokenizer.json)."""
    model_file = tokenizer_model()
    json_file = model_file.with_name("tokenizer.json")
    if json_file.is_file():
        return ClaraTokenizer.from_tokenizer_json(json_file, n_mem)
    return ClaraTokenizer.from_sentencepiece(model_file, n_mem)


def clara_config(kind: str = "e2e", compr_rate: int = 16) -> ClaraConfig:
    return ClaraConfig.from_dict({
        "compr_rate": compr_rate, "doc_max_length": 256, "generation_top_k": 1 if kind == "base" else 5,
        "lora_r": 16, "sep": True, "different_mem_tokens": True, "training_stage": STAGES[kind],
        "decoder_model_name": "mistralai/Mistral-7B-Instruct-v0.2"})


def random_clara(device: torch.device, dtype: torch.dtype = torch.bfloat16, kind: str = "e2e",
                 compr_rate: int = 16, model_config: ModelConfig = MISTRAL_7B, seed: int = 0,
                 std: float = 0.02, weight_format: str = "bf16") -> tuple[ClaraModel, float]:
    """-> (model, seconds to build). Weights ~ N(0, std), norms 1, LoRA A and B ~ N(0, 0.01)."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    config = clara_config(kind, compr_rate)
    tokenizer = base_tokenizer(config.n_mem)
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in Mistral(model_config, tokenizer.vocab_size).state_dict().items()}

    keep = device if weight_format == "bf16" else torch.device("cpu")

    def rnd(shape: tuple[int, ...], scale: float = std) -> torch.Tensor:
        return (torch.randn(shape, device=device, dtype=dtype) * scale).to(keep)

    base = {k: (torch.ones(s, device=keep, dtype=dtype) if k.endswith("norm.weight") else rnd(s))
            for k, s in shapes.items() if k not in (EMBED_KEY, HEAD_KEY)}
    first_last = {EMBED_KEY: rnd(shapes[EMBED_KEY]), HEAD_KEY: rnd(shapes[HEAD_KEY])}
    r = config.lora_r
    adapters = {}
    for name in config.adapter_names:
        weights = {}
        for key, shape in shapes.items():
            if key.startswith("model.layers.") and key.endswith("_proj.weight"):
                stem = key.removesuffix(".weight")
                weights[f"{stem}.lora_A.weight"] = rnd((r, shape[1]), 0.01)
                weights[f"{stem}.lora_B.weight"] = rnd((shape[0], r), 0.01)
        adapters[name] = weights
    clara = assemble(config, model_config, tokenizer, base, first_last, adapters, device, dtype,
                     fingerprint=f"random-{kind}-{compr_rate}-{seed}-{weight_format}",
                     weight_format=weight_format)
    del base, first_last, adapters
    if device.type == "cuda":
        torch.cuda.synchronize()
    return clara, time.perf_counter() - started


def words_text(n_tokens: int, tokenizer: ClaraTokenizer, seed: int) -> str:
    """Ops-like text of about ``n_tokens`` base tokens."""
    import random

    vocab = ["restart", "service", "database", "failover", "replica", "primary", "disk", "alert", "nginx",
             "log", "shipper", "kafka", "consumer", "lag", "billing", "worker", "deploy", "staging",
             "production", "approval", "certificate", "renew", "vpn", "gateway", "redis", "memory",
             "eviction", "policy", "pod", "node", "kubectl", "rollout", "undo", "timeout", "latency"]
    rng = random.Random(seed)
    words: list[str] = []
    while tokenizer.count_tokens(" ".join(words)) < n_tokens:
        words.extend(rng.choice(vocab) for _ in range(16))
    while words and tokenizer.count_tokens(" ".join(words)) > n_tokens:
        words.pop()
    return " ".join(words)
