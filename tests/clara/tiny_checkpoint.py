"""Tiny CLaRa checkpoints in the REAL on-disk layout, for fast CPU tests.

A base model folder like Mistral-7B-Instruct-v0.2 (HF ``config.json``, sharded ``*.safetensors`` with
``model.safetensors.index.json`` or one ``model.safetensors``, the real ``tokenizer.model`` copied from
mistral-common, a ``tokenizer.json`` converted from it with a legacy or non-legacy normalizer, and a
``tokenizer_config.json`` with a v0.2 chat template that takes a system message) and CLaRa checkpoint
folders (``config.json`` with the released keys, ``adapters.pth`` ``{adapter: {key: tensor}}`` with
lora_A/lora_B for q,k,v,o,gate,up,down plus embed_tokens/lm_head, ``decoder_first_last_layers.pth``)
for the E2E, Instruct and Base kinds at compression 16 or 128. Only the sizes are tiny (hidden 64,
2 layers, 4 heads, 2 kv heads). Everything is seeded: the same call writes the same tensors
(``tests/clara/fixtures`` records Apple's results on them).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path
from typing import Any

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


# The Mistral-7B-Instruct-v0.2 chat template's output with a system message (folded into the first user
# turn): "<s> [INST] {system}\n\n{user} [/INST]". Our own Jinja, for the reference code's apply_chat_template.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] + '\n\n' %}"
    "{%- set messages = messages[1:] %}{%- else %}{%- set system = '' %}{%- endif %}"
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}"
    "{{- ' [INST] ' + (system if loop.first else '') + message['content'] + ' [/INST]' }}"
    "{%- else %}{{- ' ' + message['content'] + eos_token }}{%- endif %}"
    "{%- endfor %}"
)
TOKENIZER_VARIANTS = ("legacy", "non-legacy")


@functools.lru_cache(maxsize=4)
def tokenizer_json(variant: str, model_file: Path | None = None) -> str:
    """``tokenizer.json`` of the Mistral ``tokenizer.model`` as transformers' slow->fast conversion makes
    it: BPE with merges in score order and byte fallback; ``legacy`` normalizes each text segment with a
    leading ``▁`` (Prepend + Replace), ``non-legacy`` uses a Metaspace pre-tokenizer that prepends only at
    the start of the input. Needs transformers (dev extra) and sentencepiece; where transformers is absent,
    a ``tokenizer.json`` beside ``$CLARA_TOKENIZER_MODEL`` is taken as the legacy one."""
    if variant not in TOKENIZER_VARIANTS:
        raise ValueError(f"unknown tokenizer variant {variant!r}")
    model_file = model_file or tokenizer_model_path()
    try:
        from transformers.convert_slow_tokenizer import generate_merges
    except ImportError:
        prebuilt = model_file.with_name("tokenizer.json")
        if variant == "legacy" and prebuilt.is_file():
            return prebuilt.read_text(encoding="utf-8")
        raise
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    scores = {piece: 0.0 if i < 3 else sp.get_score(i) for piece, i in vocab.items()}  # <unk> <s> </s>: 0
    tokenizer = Tokenizer(BPE(vocab, generate_merges(vocab, scores), unk_token=sp.id_to_piece(sp.unk_id()),
                              fuse_unk=True, byte_fallback=True))
    if variant == "legacy":
        tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ("<unk>", "<s>", "</s>")])
    text: str = tokenizer.to_str(pretty=True)
    return text


def write_tokenizer(folder: Path, variant: str | None) -> None:
    """tokenizer.model always; with a variant also tokenizer.json and tokenizer_config.json."""
    shutil.copyfile(tokenizer_model_path(), folder / "tokenizer.model")
    if variant is None:
        return
    (folder / "tokenizer.json").write_text(tokenizer_json(variant), encoding="utf-8")
    config = {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
              "pad_token": None, "add_bos_token": True, "add_eos_token": False, "legacy": variant == "legacy",
              "clean_up_tokenization_spaces": False, "spaces_between_special_tokens": False,
              "model_max_length": 32768, "chat_template": CHAT_TEMPLATE}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


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


def make_base(folder: Path, sharded: bool = True, seed: int = 0, tokenizer: str | None = "legacy") -> Path:
    """A Mistral-7B-Instruct-v0.2-like folder with tiny random weights; ``tokenizer`` names the
    tokenizer.json variant (None: tokenizer.model only)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(TINY_MISTRAL, indent=2))
    write_tokenizer(folder, tokenizer)
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
                    doc_max_length: int = 256, distinct_copies: bool = False) -> Path:
    """A CLaRa checkpoint folder (one compression rate) in the released layout. Each adapter dict carries
    ``embed_tokens``/``lm_head`` copies equal to ``decoder_first_last_layers.pth``, or with
    ``distinct_copies`` each its own slightly different ones (which copy wins then shows)."""
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
    g_copies = torch.Generator().manual_seed(seed * 7919 + compr_rate)  # the LoRA weights stay the same
    for name in ADAPTERS[kind]:
        copies = {"model.embed_tokens.weight": embed.clone(), "lm_head.weight": head.clone()}
        if distinct_copies:
            copies = {k: (v.float() + torch.randn(v.shape, generator=g_copies) * 0.02).to(torch.bfloat16)
                      for k, v in copies.items()}
        adapters[name] = {**adapter_state(TINY_MISTRAL, int(str(config["lora_r"])), g), **copies}
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


# ---- the checkpoints tests/clara/fixtures/clara_reference.* was recorded on ------------------------------
REFERENCE_CHECKPOINTS = (("e2e", 16), ("e2e", 128), ("instruct", 16), ("base", 16))


def make_reference_set(root: Path) -> dict[str, tuple[Path, Path]]:
    """Per tokenizer variant a base folder and the four checkpoints of ``REFERENCE_CHECKPOINTS``, each
    adapter with its own ``embed_tokens``/``lm_head`` copies -> ``{"legacy/e2e-16": (checkpoint, base)}``."""
    out: dict[str, tuple[Path, Path]] = {}
    for variant in TOKENIZER_VARIANTS:
        base = make_base(root / variant / "Mistral-7B-Instruct-v0.2", tokenizer=variant)
        for kind, rate in REFERENCE_CHECKPOINTS:
            name = f"{kind}-{rate}"
            out[f"{variant}/{name}"] = (make_checkpoint(root / variant / name, base, kind, rate,
                                                        distinct_copies=True), base)
    return out


def tensors_digest(*folders: Path) -> str:
    """A hash of every tensor (name, dtype, shape, bytes) in the folders' .safetensors and .pth files."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for folder in folders:
        for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.pth")):
            state: dict[str, Any] = (load_file(str(path)) if path.suffix == ".safetensors"
                                     else torch.load(path, weights_only=True))
            flat = {f"{outer}.{k}": v for outer, inner in state.items() if isinstance(inner, dict)
                    for k, v in inner.items()}
            flat.update((k, v) for k, v in state.items() if isinstance(v, torch.Tensor))
            h.update(path.name.encode())
            for key in sorted(flat):
                tensor = flat[key].contiguous()
                h.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
                h.update(tensor.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
