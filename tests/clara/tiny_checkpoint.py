"""Tiny CLaRa checkpoints in the REAL on-disk layout, for fast CPU tests.

A base model folder like Mistral-7B-Instruct-v0.2 (HF ``config.json``, sharded ``*.safetensors`` with
``model.safetensors.index.json`` or one ``model.safetensors``, the real ``tokenizer.model`` copied from
mistral-common) and CLaRa checkpoint folders (``config.json`` with the released keys, ``adapters.pth``
``{adapter: {key: tensor}}`` with lora_A/lora_B for q,k,v,o,gate,up,down plus embed_tokens/lm_head,
``decoder_first_last_layers.pth``) for the E2E, Instruct and Base kinds at compression 16 or 128.
Only the sizes are tiny (hidden 64, 2 layers, 4 heads, 2 kv heads).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

TINY_MISTRAL: dict[str, object] = {
    "architectures": ["MistralForCausalLM"],
    "model_type": "mistral",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 32000,
    "rms_norm_eps": 1e-5,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "max_position_embeddings": 32768,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "bfloat16",
}

STAGE = {"e2e": "stage2", "instruct": "stage1_2", "base": "stage1"}
ADAPTERS = {"e2e": ("encoder_adapter", "decoder_adapter", "query_reasoner_adapter"),
            "instruct": ("encoder_adapter", "decoder_adapter"),
            "base": ("encoder_adapter", "decoder_adapter")}
PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
# A file like the released modeling_clara.py: the loader must never run it.
POISON = "import pathlib\npathlib.Path(__file__).with_name('EXECUTED').write_text('yes')\n"


def tokenizer_model_path() -> Path:
    """mistral-common's copy of the Mistral-7B tokenizer, or ``$CLARA_TOKENIZER_MODEL`` (the GPU machine
    has no mistral-common)."""
    if os.environ.get("CLARA_TOKENIZER_MODEL"):
        return Path(os.environ["CLARA_TOKENIZER_MODEL"])
    import mistral_common

    return Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"


def layer_shapes(config: dict[str, object]) -> dict[str, tuple[int, int]]:
    """(out, in) of each adapted projection."""
    d, f = int(str(config["hidden_size"])), int(str(config["intermediate_size"]))
    e = int(str(config.get("head_dim") or d // int(str(config["num_attention_heads"]))))
    h, k = int(str(config["num_attention_heads"])), int(str(config["num_key_value_heads"]))
    return {"self_attn.q_proj": (h * e, d), "self_attn.k_proj": (k * e, d), "self_attn.v_proj": (k * e, d),
            "self_attn.o_proj": (d, h * e), "mlp.gate_proj": (f, d), "mlp.up_proj": (f, d),
            "mlp.down_proj": (d, f)}


def base_state_dict(config: dict[str, object], seed: int = 0, std: float = 0.08) -> dict[str, torch.Tensor]:
    """Random Mistral weights with the real HF key names (bf16 like the released files)."""
    g = torch.Generator().manual_seed(seed)
    d, v = int(str(config["hidden_size"])), int(str(config["vocab_size"]))

    def rnd(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) * std).to(torch.bfloat16)

    state = {"model.embed_tokens.weight": rnd(v, d), "lm_head.weight": rnd(v, d),
             "model.norm.weight": (1 + torch.randn(d, generator=g) * 0.1).to(torch.bfloat16)}
    for n in range(int(str(config["num_hidden_layers"]))):
        for proj, (out_f, in_f) in layer_shapes(config).items():
            state[f"model.layers.{n}.{proj}.weight"] = rnd(out_f, in_f)
        for norm in ("input_layernorm", "post_attention_layernorm"):
            state[f"model.layers.{n}.{norm}.weight"] = (1 + torch.randn(d, generator=g) * 0.1).to(torch.bfloat16)
    return state


def make_base(folder: Path, sharded: bool = True, seed: int = 0) -> Path:
    """A Mistral-7B-Instruct-v0.2-like folder with tiny random weights."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(TINY_MISTRAL, indent=2))
    shutil.copyfile(tokenizer_model_path(), folder / "tokenizer.model")
    state = base_state_dict(TINY_MISTRAL, seed)
    if not sharded:
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        return folder
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    weight_map = {}
    for name, shard_keys in shards.items():
        save_file({k: state[k] for k in shard_keys}, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard_keys, name))
    total = sum(t.numel() * t.element_size() for t in state.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return folder


def clara_config(kind: str, compr_rate: int, doc_max_length: int = 256) -> dict[str, object]:
    """config.json with the keys of the released checkpoints (and a private decoder path, as they do)."""
    return {
        "architectures": ["CLaRa"], "model_type": "CLaRa",
        "auto_map": {"AutoConfig": "modeling_clara.CLaRaConfig", "AutoModel": "modeling_clara.CLaRa"},
        "decoder_model_name": "/mnt/private/models/Mistral-7B-Instruct-v0.2",
        "compr_rate": compr_rate, "doc_max_length": doc_max_length,
        "generation_top_k": 1 if kind == "base" else 5, "lora": True, "lora_r": 16,
        "sep": True, "different_mem_tokens": True, "training_stage": STAGE[kind],
        "training_form": "both", "quantization": "no", "compr_rate_base": compr_rate,
        "max_new_tokens": 128, "stage2_retrieval_top_n": 1, "torch_dtype": "bfloat16",
    }


def adapter_state(config: dict[str, object], r: int, g: torch.Generator, std: float = 0.05
                  ) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for n in range(int(str(config["num_hidden_layers"]))):
        for proj, (out_f, in_f) in layer_shapes(config).items():
            prefix = f"model.layers.{n}.{proj}"
            out[f"{prefix}.lora_A.weight"] = (torch.randn(r, in_f, generator=g) * std).to(torch.bfloat16)
            # trained B is not zero: make the adapters change the function
            out[f"{prefix}.lora_B.weight"] = (torch.randn(out_f, r, generator=g) * std).to(torch.bfloat16)
    return out


def make_checkpoint(folder: Path, base_dir: Path, kind: str, compr_rate: int, seed: int = 1,
                    doc_max_length: int = 256) -> Path:
    """A CLaRa checkpoint folder (one compression rate) in the released layout."""
    folder.mkdir(parents=True, exist_ok=True)
    config = clara_config(kind, compr_rate, doc_max_length)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "modeling_clara.py").write_text(POISON)
    n_mem = doc_max_length // compr_rate
    g = torch.Generator().manual_seed(seed * 1000 + compr_rate)
    base = _base_weights(base_dir)
    added = n_mem + 3
    d = int(str(TINY_MISTRAL["hidden_size"]))
    embed = torch.cat([base["model.embed_tokens.weight"],
                       (torch.randn(added, d, generator=g) * 0.08).to(torch.bfloat16)])
    head = torch.cat([base["lm_head.weight"], (torch.randn(added, d, generator=g) * 0.08).to(torch.bfloat16)])
    first_last = {"model.embed_tokens.weight": embed, "lm_head.weight": head}
    torch.save(first_last, folder / "decoder_first_last_layers.pth")
    adapters = {}
    for name in ADAPTERS[kind]:
        adapters[name] = {**adapter_state(TINY_MISTRAL, int(str(config["lora_r"])), g),
                          "model.embed_tokens.weight": embed.clone(), "lm_head.weight": head.clone()}
    torch.save(adapters, folder / "adapters.pth")
    return folder


def _base_weights(base_dir: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for path in sorted(base_dir.glob("*.safetensors")):
        state.update(load_file(str(path)))
    return state


def make_all(root: Path) -> dict[str, Path]:
    """The base folder and the six checkpoints: ``base_model`` and e.g. ``e2e-16``, ``base-128``."""
    paths = {"base_model": make_base(root / "Mistral-7B-Instruct-v0.2")}
    for kind in STAGE:
        for rate in (16, 128):
            paths[f"{kind}-{rate}"] = make_checkpoint(root / f"CLaRa-7B-{kind}" / f"compression-{rate}",
                                                      paths["base_model"], kind, rate)
    return paths
