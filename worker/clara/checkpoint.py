"""Load a CLaRa checkpoint folder + a local Mistral-7B-Instruct-v0.2 folder into a ``ClaraModel``.

Nothing from the checkpoint folder is executed: ``config.json`` is read as JSON, the two ``.pth`` files
with ``torch.load(weights_only=True)``, the base weights from safetensors only. Every check happens
before the model is returned, so a model is either complete or not returned at all.

Quantized weights (``weights="int8"`` / ``"fp8"``, quantize.py) are made at load from the bf16 files:
the model is assembled in host memory, then moved to the device one projection at a time, with the
decoder adapter merged and each matrix rounded on the way (``Mistral.quantize``), so the device never
holds the bf16 model. Quantizing takes seconds on a GPU; nothing is cached on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from worker.clara.config import DECODER_ADAPTER, ENCODER_ADAPTER, ClaraConfig
from worker.clara.errors import CheckpointError
from worker.clara.model import Mistral, ModelConfig
from worker.clara.quantize import check_format
from worker.clara.tokenizer import ENCODER_TEMPLATE_VERSION, ClaraTokenizer

log = logging.getLogger(__name__)

EMBED_KEY = "model.embed_tokens.weight"
HEAD_KEY = "lm_head.weight"
CHECKPOINT_FILES = ("config.json", "adapters.pth", "decoder_first_last_layers.pth")
BASE_FILES = ("config.json",)  # + tokenizer.json or tokenizer.model (ClaraTokenizer.from_folder)


@dataclass
class ClaraModel:
    """The loaded model and everything the steps need to use it."""

    config: ClaraConfig
    model_config: ModelConfig
    tokenizer: ClaraTokenizer
    model: Mistral
    device: torch.device
    dtype: torch.dtype  # of the activations (and of the weights unless quantized)
    fingerprint: str  # identifies what document embeddings depend on (store keys)
    weights: str = "bf16"  # quantize.WEIGHT_FORMATS: int8 / fp8 keep the decoder adapter merged

    @property
    def name(self) -> str:
        return f"clara-7b-{self.config.kind}"

    @property
    def n_mem(self) -> int:
        return self.config.n_mem

    @property
    def hidden_size(self) -> int:
        return self.model_config.hidden_size


def default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _require_files(folder: Path, names: tuple[str, ...], what: str) -> None:
    if not folder.is_dir():
        raise CheckpointError(f"the {what} folder does not exist")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"the {what} folder is missing {', '.join(missing)}")


def _load_pickle(path: Path, what: str) -> dict[str, Any]:
    try:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # the legacy (non-zip) format cannot be memory-mapped
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # any failure means "cannot be read safely": never retry without weights_only
        log.exception("could not load %s", path)
        raise CheckpointError(f"{what} could not be read as a plain tensor file (weights only)") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{what} does not hold a dictionary of tensors")
    return data


def _safetensors_files(base_dir: Path) -> list[Path]:
    index = base_dir / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError):
            raise CheckpointError("the base model's model.safetensors.index.json could not be read") from None
        names = sorted(set(weight_map.values()))
        missing = [name for name in names if not (base_dir / name).is_file()]
        if missing:
            raise CheckpointError(f"the base model folder is missing {', '.join(missing[:3])}")
        return [base_dir / name for name in names]
    single = base_dir / "model.safetensors"
    if single.is_file():
        return [single]
    raise CheckpointError("the base model folder has no model.safetensors or model.safetensors.index.json "
                          "(only safetensors weights are accepted)")


def read_base_weights(base_dir: Path, device: torch.device, dtype: torch.dtype,
                      skip: frozenset[str] = frozenset({EMBED_KEY, HEAD_KEY})) -> dict[str, torch.Tensor]:
    """Every tensor of the base safetensors but ``skip`` (replaced by the checkpoint's resized ones)."""
    from safetensors import safe_open

    weights: dict[str, torch.Tensor] = {}
    for path in _safetensors_files(base_dir):
        try:
            with safe_open(str(path), framework="pt", device=str(device)) as handle:
                for key in handle.keys():  # noqa: SIM118 - safe_open handles are not iterable
                    if key not in skip:
                        weights[key] = handle.get_tensor(key).to(dtype)
        except CheckpointError:
            raise
        except Exception:
            log.exception("could not read %s", path)
            raise CheckpointError(f"the base model file {path.name} could not be read") from None
    return weights


_PEFT_PREFIX = re.compile(r"^(?:base_model\.model\.)+")
_PEFT_NAMED = re.compile(r"\.lora_([AB])\.[^.]+\.weight$")


def _normalise_adapter_keys(weights: Mapping[str, Any]) -> dict[str, Any]:
    """Accept ``model.layers.N...lora_A.weight`` and the PEFT spellings (prefix, adapter name)."""
    out: dict[str, Any] = {}
    for key, value in weights.items():
        key = _PEFT_PREFIX.sub("", key)
        if not re.search(r"\.lora_[AB]\.weight$", key):
            key = _PEFT_NAMED.sub(r".lora_\1.weight", key)
        out[key] = value
    return out


def _check_vocab(tensor: Any, key: str, what: str, vocab: int, hidden: int, n_mem: int) -> None:
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2:
        raise CheckpointError(f"{what}: {key} is not a matrix")
    if tensor.shape[0] != vocab:
        raise CheckpointError(
            f"vocab size mismatch: {what} has {tensor.shape[0]} rows in {key}, but the tokenizer with "
            f"{n_mem} memory tokens has {vocab} tokens (is compr_rate or doc_max_length wrong?)")
    if tensor.shape[1] != hidden:
        raise CheckpointError(f"{what}: {key} has width {tensor.shape[1]}, the base model {hidden}")


def embedding_layers(first_last: Mapping[str, Any], adapters: Mapping[str, Any]) -> dict[str, Any]:
    """The ``embed_tokens`` and ``lm_head`` the reference ends up with.

    Apple's loader puts ``decoder_first_last_layers.pth`` into the model, then loads each adapter of
    ``adapters.pth`` in the file's order through peft, which also loads every non-LoRA tensor of the
    adapter's dict into the model: each adapter's copy replaces what was there, and the last one in the
    file wins (the query reasoner's in the released E2E files). That holds for every kind when all adapters
    are loaded (``pure_inference``, what Apple's evaluation asks for and what we do; see docs/clara.md).
    A copy that differs from ``decoder_first_last_layers.pth`` is logged, naming the file and adapter."""
    chosen = {key: first_last.get(key) for key in (EMBED_KEY, HEAD_KEY)}
    source = dict.fromkeys(chosen, "decoder_first_last_layers.pth")
    differing: list[str] = []
    for name, weights in adapters.items():
        if not isinstance(weights, Mapping):
            continue  # assemble says which adapter is not a dictionary, if the kind needs it
        weights = _normalise_adapter_keys(weights)
        for key in (EMBED_KEY, HEAD_KEY):
            copy, reference = weights.get(key), first_last.get(key)
            if not isinstance(copy, torch.Tensor):
                continue
            if isinstance(reference, torch.Tensor):
                if copy.shape != reference.shape:
                    continue  # assemble names the adapter whose copy has the wrong size
                rows = int((copy.to(reference.dtype) != reference).any(dim=-1).sum())
                if rows:
                    differing.append(f"{name} {key} in {rows} of {reference.shape[0]} rows")
            chosen[key], source[key] = copy, f"adapters.pth ({name})"
    if differing:
        log.warning("adapters.pth carries embed_tokens/lm_head copies that differ from "
                    "decoder_first_last_layers.pth (%s): using %s from %s and %s from %s, as the reference "
                    "does (the last adapter loaded wins)", "; ".join(differing),
                    EMBED_KEY, source[EMBED_KEY], HEAD_KEY, source[HEAD_KEY])
    return {key: value for key, value in chosen.items() if value is not None}


def assemble(config: ClaraConfig, model_config: ModelConfig, tokenizer: ClaraTokenizer,
             base_weights: Mapping[str, torch.Tensor], first_last: Mapping[str, Any],
             adapters: Mapping[str, Any], device: torch.device, dtype: torch.dtype,
             fingerprint: str, weight_format: str = "bf16") -> ClaraModel:
    """Build the model on the meta device, assign every weight, add every adapter; check all of it.
    ``first_last`` holds the ``embed_tokens`` and ``lm_head`` to use (``embedding_layers``). Quantized
    (``weight_format`` int8 / fp8): assembled on the CPU, then moved to ``device`` quantized (module
    docstring)."""
    check_format(weight_format, device)
    place = device if weight_format == "bf16" else torch.device("cpu")
    vocab, hidden = tokenizer.vocab_size, model_config.hidden_size
    if tokenizer.base_vocab != model_config.vocab_size:
        raise CheckpointError(f"vocab size mismatch: the base tokenizer has {tokenizer.base_vocab} tokens, "
                              f"the base config.json says {model_config.vocab_size}")
    for key in (EMBED_KEY, HEAD_KEY):
        if key not in first_last:
            raise CheckpointError(f"decoder_first_last_layers.pth is missing {key}")
        _check_vocab(first_last[key], key, "decoder_first_last_layers.pth", vocab, hidden, tokenizer.n_mem)

    with torch.device("meta"):
        model = Mistral(model_config, vocab_size=vocab)
    expected = model.state_dict()
    state = {**{k: v for k, v in base_weights.items() if k in expected},
             EMBED_KEY: first_last[EMBED_KEY], HEAD_KEY: first_last[HEAD_KEY]}
    missing = [key for key in expected if key not in state]
    if missing:
        raise CheckpointError(f"the base model weights are missing {len(missing)} tensor(s), "
                              f"e.g. {', '.join(missing[:3])}")
    for key, meta in expected.items():
        if tuple(state[key].shape) != tuple(meta.shape):
            raise CheckpointError(f"the base model tensor {key} has shape {tuple(state[key].shape)}, "
                                  f"expected {tuple(meta.shape)} from config.json")
        state[key] = state[key].to(device=place, dtype=dtype)
    model.load_state_dict(state, assign=True, strict=True)
    model.reset_rope()

    scale = config.lora_alpha / config.lora_r
    layers = list(model.lora_layers())
    for name in config.adapter_names:
        if name not in adapters:
            raise CheckpointError(f"adapters.pth has no {name} (a {config.kind} checkpoint needs "
                                  f"{', '.join(config.adapter_names)})")
        weights = adapters[name]
        if not isinstance(weights, Mapping):
            raise CheckpointError(f"adapters.pth: {name} is not a dictionary of tensors")
        weights = _normalise_adapter_keys(weights)
        for key in (EMBED_KEY, HEAD_KEY):
            if key in weights:
                _check_vocab(weights[key], key, f"adapters.pth ({name})", vocab, hidden, tokenizer.n_mem)
        for layer_name, layer in layers:
            a = weights.get(f"{layer_name}.lora_A.weight")
            b = weights.get(f"{layer_name}.lora_B.weight")
            if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
                raise CheckpointError(f"adapters.pth: {name} is missing {layer_name}.lora_A/B.weight")
            if a.shape != (config.lora_r, layer.in_features) or b.shape != (layer.out_features, config.lora_r):
                raise CheckpointError(f"adapters.pth: {name} {layer_name} has shapes {tuple(a.shape)}, "
                                      f"{tuple(b.shape)}; expected rank {config.lora_r} "
                                      f"for a {layer.in_features}->{layer.out_features} layer")
            layer.add_adapter(name, a, b, scale)
    extra = sorted(set(adapters) - set(config.adapter_names))
    if extra:
        log.info("adapters.pth also holds %s, unused by a %s checkpoint", extra, config.kind)
    if weight_format != "bf16":
        model.quantize(weight_format, device, merged=DECODER_ADAPTER)
    model.eval()
    model.requires_grad_(False)
    return ClaraModel(config, model_config, tokenizer, model, device, dtype, fingerprint, weight_format)


def fingerprint_of(checkpoint_dir: Path, base_dir: Path, tokenizer_file: Path, encoder: Mapping[str, Any],
                   embed: torch.Tensor, dtype: torch.dtype, weights: str = "bf16") -> str:
    """What stored document embeddings depend on: configs, the tokenizer file and encoder template, the
    encoder adapter, the embedding table in use, the base weights' file headers, the compute dtype and the
    weight format. Cheap (no pass over the 14 GB of base weights)."""
    h = hashlib.blake2b(digest_size=16)
    h.update((checkpoint_dir / "config.json").read_bytes())
    h.update((base_dir / "config.json").read_bytes())
    h.update(tokenizer_file.name.encode())
    h.update(tokenizer_file.read_bytes())
    h.update(f"encoder template {ENCODER_TEMPLATE_VERSION}".encode())
    h.update(str(dtype).encode())
    if weights != "bf16":
        h.update(f"weights {weights}".encode())
    for key in sorted(encoder):
        value = encoder[key]
        if isinstance(value, torch.Tensor) and "lora_" in key:
            h.update(key.encode())
            h.update(value.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes())
    h.update(embed.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes())
    for path in _safetensors_files(base_dir):
        with path.open("rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            h.update(f.read(min(header_len, 1 << 24) + (1 << 20)))  # header + first MiB of data
        h.update(str(path.stat().st_size).encode())
    return h.hexdigest()


def load_clara(checkpoint_dir: Path, base_model_dir: Path, device: torch.device | str = "cpu",
               dtype: torch.dtype | None = None, weights: str = "bf16") -> ClaraModel:
    """Load a CLaRa checkpoint (E2E, Instruct or Base) on ``base_model_dir`` (a local
    Mistral-7B-Instruct-v0.2). bf16 on CUDA and fp32 on CPU unless ``dtype`` is given; ``weights``
    int8 or fp8 quantizes the projections at load (quantize.py)."""
    started = time.perf_counter()
    checkpoint_dir, base_model_dir = Path(checkpoint_dir), Path(base_model_dir)
    device = torch.device(device)
    dtype = dtype or default_dtype(device)
    _require_files(checkpoint_dir, CHECKPOINT_FILES, "CLaRa checkpoint")
    _require_files(base_model_dir, BASE_FILES, "base model")
    check_format(weights, device)
    config = ClaraConfig.from_file(checkpoint_dir / "config.json")
    model_config = ModelConfig.from_file(base_model_dir / "config.json")
    tokenizer = ClaraTokenizer.from_folder(base_model_dir, config.n_mem)
    first_last = _load_pickle(checkpoint_dir / "decoder_first_last_layers.pth", "decoder_first_last_layers.pth")
    adapters = _load_pickle(checkpoint_dir / "adapters.pth", "adapters.pth")
    base_weights = read_base_weights(base_model_dir, device if weights == "bf16" else torch.device("cpu"), dtype)
    for key in (EMBED_KEY, HEAD_KEY):  # checked by assemble; needed here for the fingerprint
        if key not in first_last:
            raise CheckpointError(f"decoder_first_last_layers.pth is missing {key}")
    layers = embedding_layers(first_last, adapters)
    if not isinstance(layers[EMBED_KEY], torch.Tensor):
        raise CheckpointError(f"decoder_first_last_layers.pth: {EMBED_KEY} is not a matrix")
    encoder = adapters.get(ENCODER_ADAPTER)
    fingerprint = fingerprint_of(checkpoint_dir, base_model_dir, tokenizer.source,
                                 encoder if isinstance(encoder, Mapping) else {}, layers[EMBED_KEY], dtype, weights)
    clara = assemble(config, model_config, tokenizer, base_weights, layers, adapters, device, dtype,
                     fingerprint, weights)
    log.info("loaded %s (compression %d, %d memory tokens, %s weights) on %s in %.1f s", clara.name,
             config.compr_rate, config.n_mem, weights, device, time.perf_counter() - started)
    return clara
