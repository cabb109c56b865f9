"""The CLaRa checkpoint's ``config.json``, read strictly: every key we rely on is required."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.clara.errors import CheckpointError

STAGES = {"stage1": "base", "stage1_2": "instruct", "stage2": "e2e"}

WEIGHT_FORMATS = ("bf16", "int8", "fp8")  # CLARA_WEIGHTS: how the Mistral projections are stored (quantize.py)

ENCODER_ADAPTER = "encoder_adapter"
DECODER_ADAPTER = "decoder_adapter"
QUERY_ADAPTER = "query_reasoner_adapter"


@dataclass(frozen=True)
class ClaraConfig:
    compr_rate: int  # 16 or 128
    doc_max_length: int  # 256: tokens of document text the compressor reads
    generation_top_k: int  # documents the generator reads (5; 1 for Base)
    lora_r: int  # 16; alpha = 2r
    sep: bool  # a <SEP> token follows each document's memory slots
    different_mem_tokens: bool  # <MEM0>..<MEMn-1> rather than one repeated <MEM>
    training_stage: str  # stage1 (Base), stage1_2 (Instruct), stage2 (E2E)
    decoder_model_name: str  # informative only: the base model folder is always passed explicitly

    @property
    def n_mem(self) -> int:
        """Memory tokens (= compressed vectors) per document."""
        return self.doc_max_length // self.compr_rate

    @property
    def lora_alpha(self) -> int:
        return 2 * self.lora_r

    @property
    def kind(self) -> str:
        """``base``, ``instruct`` or ``e2e``."""
        return STAGES[self.training_stage]

    @property
    def adapter_names(self) -> tuple[str, ...]:
        """The adapters ``adapters.pth`` must hold for this kind of checkpoint."""
        if self.kind == "e2e":
            return (ENCODER_ADAPTER, DECODER_ADAPTER, QUERY_ADAPTER)
        return (ENCODER_ADAPTER, DECODER_ADAPTER)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ClaraConfig:
        wanted: dict[str, type | tuple[type, ...]] = {
            "compr_rate": int, "doc_max_length": int, "generation_top_k": int, "lora_r": int,
            "sep": bool, "different_mem_tokens": bool, "training_stage": str, "decoder_model_name": str,
        }
        missing = [key for key in wanted if key not in raw]
        if missing:
            raise CheckpointError(f"the CLaRa config.json lacks the key(s): {', '.join(missing)}")
        for key, kind in wanted.items():
            value = raw[key]
            # bool is a subclass of int: refuse true/false where a number is expected
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise CheckpointError(f"the CLaRa config.json key {key!r} has an unexpected value")
        config = cls(**{key: raw[key] for key in wanted})
        config.validate()
        return config

    @classmethod
    def from_file(cls, path: Path) -> ClaraConfig:
        return cls.from_dict(read_config_json(path, "the CLaRa checkpoint"))


    def validate(self) -> None:
        if self.training_stage not in STAGES:
            raise CheckpointError(f"unknown CLaRa training_stage {self.training_stage!r} "
                                  f"(expected one of {', '.join(STAGES)})")
        if self.compr_rate <= 0 or self.doc_max_length <= 0 or self.doc_max_length % self.compr_rate:
            raise CheckpointError("the CLaRa config has a doc_max_length that is not a multiple of compr_rate")
        if self.generation_top_k < 1 or self.lora_r < 1:
            raise CheckpointError("the CLaRa config has a generation_top_k or lora_r below 1")
        if not self.sep or not self.different_mem_tokens:
            raise CheckpointError("only CLaRa checkpoints with sep=true and different_mem_tokens=true "
                                  "are supported")


def read_config_json(path: Path, owner: str) -> dict[str, Any]:
    """A ``config.json`` as a dict; a missing, unreadable or non-object file is a CheckpointError naming
    ``owner`` ("the CLaRa checkpoint", "the base model")."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{owner} has no config.json") from None
    except (OSError, ValueError):
        raise CheckpointError(f"{owner}'s config.json could not be read") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{owner}'s config.json is not a JSON object")
    return raw
