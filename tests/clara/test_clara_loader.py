"""The loader: succeeds on every released kind, fails exactly (and safely) otherwise."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import tiny_checkpoint
import torch

from worker.clara.checkpoint import ClaraModel, load_clara
from worker.clara.errors import CheckpointError


@pytest.mark.parametrize("kind", ["e2e", "instruct", "base"])
@pytest.mark.parametrize("rate", [16, 128])
def test_loads_every_kind(load: Callable[[str], ClaraModel], tiny_paths: dict[str, Path], kind: str,
                          rate: int) -> None:
    clara = load(f"{kind}-{rate}")
    n_mem = 256 // rate
    assert clara.name == f"clara-7b-{kind}"
    assert clara.n_mem == n_mem
    tok = clara.tokenizer
    assert tok.vocab_size == 32000 + n_mem + 3
    assert tok.mem_ids == list(range(32000, 32000 + n_mem))
    assert (tok.ae_id, tok.enc_id, tok.sep_id) == (32000 + n_mem, 32001 + n_mem, 32002 + n_mem)
    model = clara.model
    assert not model.training and all(not p.requires_grad for p in model.parameters())
    assert model.model.embed_tokens.weight.shape == (tok.vocab_size, 64)
    assert model.lm_head.weight.shape == (tok.vocab_size, 64)
    assert model.model.embed_tokens.weight.dtype == torch.float32  # fp32 on CPU
    wanted = set(tiny_checkpoint.ADAPTERS[kind])
    layers = list(model.lora_layers())
    assert len(layers) == 2 * 7
    for _, layer in layers:
        assert set(layer.adapters) == wanted
    # the checkpoint's embeddings (resized vocab) replace the base's, the added rows included
    first_last = torch.load(tiny_paths[f"{kind}-{rate}"] / "decoder_first_last_layers.pth", weights_only=True)
    assert torch.equal(model.model.embed_tokens.weight, first_last["model.embed_tokens.weight"].float())
    # LoRA scale alpha/r = 2 is folded into B
    adapters = torch.load(tiny_paths[f"{kind}-{rate}"] / "adapters.pth", weights_only=True)
    q = dict(layers)["model.layers.1.self_attn.q_proj"].adapters["decoder_adapter"]
    assert torch.equal(q.b, adapters["decoder_adapter"]["model.layers.1.self_attn.q_proj.lora_B.weight"].float() * 2)
    # the checkpoint's own code was never run
    assert not (tiny_paths[f"{kind}-{rate}"] / "EXECUTED").exists()


def test_single_safetensors_file(tmp_path: Path, tiny_paths: dict[str, Path]) -> None:
    base = tiny_checkpoint.make_base(tmp_path / "base", sharded=False)
    clara = load_clara(tiny_paths["instruct-128"], base, "cpu")
    assert clara.config.kind == "instruct"


def _copy(tiny_paths: dict[str, Path], tmp_path: Path, name: str = "e2e-16") -> tuple[Path, Path]:
    checkpoint = tmp_path / "ckpt"
    base = tmp_path / "base"
    shutil.copytree(tiny_paths[name], checkpoint)
    shutil.copytree(tiny_paths["base_model"], base)
    return checkpoint, base


def _fails(checkpoint: Path, base: Path, *needles: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_clara(checkpoint, base, "cpu")
    message = str(info.value)
    for needle in needles:
        assert needle in message
    assert str(checkpoint.parent) not in message  # no worker paths in a message users may see
    return message


@pytest.mark.parametrize("name", ["config.json", "adapters.pth", "decoder_first_last_layers.pth"])
def test_missing_checkpoint_file(tiny_paths: dict[str, Path], tmp_path: Path, name: str) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    (checkpoint / name).unlink()
    _fails(checkpoint, base, name, "checkpoint")


@pytest.mark.parametrize("name", ["config.json", "tokenizer.model", "model-00002-of-00002.safetensors"])
def test_missing_base_file(tiny_paths: dict[str, Path], tmp_path: Path, name: str) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    (base / name).unlink()
    _fails(checkpoint, base, name, "base model")


def test_no_safetensors_at_all(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    for path in base.glob("model*"):
        path.unlink()
    (base / "pytorch_model.bin").write_bytes(b"never read")
    _fails(checkpoint, base, "safetensors")


def test_missing_base_tensor(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    checkpoint, base = _copy(tiny_paths, tmp_path)
    shard = base / "model-00001-of-00002.safetensors"
    state = load_file(str(shard))
    victim = sorted(k for k in state if k.startswith("model.layers"))[0]
    del state[victim]
    save_file(state, str(shard))
    _fails(checkpoint, base, victim)


@pytest.mark.parametrize("adapter", ["query_reasoner_adapter", "encoder_adapter", "decoder_adapter"])
def test_missing_adapter(tiny_paths: dict[str, Path], tmp_path: Path, adapter: str) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    adapters = torch.load(checkpoint / "adapters.pth", weights_only=True)
    del adapters[adapter]
    torch.save(adapters, checkpoint / "adapters.pth")
    _fails(checkpoint, base, adapter)


def test_missing_adapter_tensor(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    adapters = torch.load(checkpoint / "adapters.pth", weights_only=True)
    del adapters["decoder_adapter"]["model.layers.1.mlp.down_proj.lora_B.weight"]
    torch.save(adapters, checkpoint / "adapters.pth")
    _fails(checkpoint, base, "decoder_adapter", "model.layers.1.mlp.down_proj")


def test_wrong_lora_rank(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    config = json.loads((checkpoint / "config.json").read_text())
    config["lora_r"] = 8
    (checkpoint / "config.json").write_text(json.dumps(config))
    _fails(checkpoint, base, "rank 8")


def test_vocab_mismatch_first_last(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    first_last = torch.load(checkpoint / "decoder_first_last_layers.pth", weights_only=True)
    first_last = {k: v[:-1] for k, v in first_last.items()}  # 32018 rows for a 32019-token tokenizer
    torch.save(first_last, checkpoint / "decoder_first_last_layers.pth")
    _fails(checkpoint, base, "vocab size mismatch", "32018", "32019")


def test_vocab_mismatch_from_config(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    """A compression-128 config over compression-16 weights: the tokenizer would have 32005 tokens."""
    checkpoint, base = _copy(tiny_paths, tmp_path)
    config = json.loads((checkpoint / "config.json").read_text())
    config["compr_rate"] = 128
    (checkpoint / "config.json").write_text(json.dumps(config))
    _fails(checkpoint, base, "vocab size mismatch", "32005")


def test_vocab_mismatch_in_adapter(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    adapters = torch.load(checkpoint / "adapters.pth", weights_only=True)
    adapters["encoder_adapter"]["lm_head.weight"] = adapters["encoder_adapter"]["lm_head.weight"][:32000]
    torch.save(adapters, checkpoint / "adapters.pth")
    _fails(checkpoint, base, "vocab size mismatch", "encoder_adapter")


@pytest.mark.parametrize("key", ["compr_rate", "doc_max_length", "generation_top_k", "lora_r", "sep",
                                 "different_mem_tokens", "training_stage", "decoder_model_name"])
def test_config_key_required(tiny_paths: dict[str, Path], tmp_path: Path, key: str) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    config = json.loads((checkpoint / "config.json").read_text())
    del config[key]
    (checkpoint / "config.json").write_text(json.dumps(config))
    _fails(checkpoint, base, key)


def test_pickle_with_code_is_refused(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    import pickle

    checkpoint, base = _copy(tiny_paths, tmp_path)

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("executed",))

    with (checkpoint / "adapters.pth").open("wb") as f:
        pickle.dump({"encoder_adapter": Boom()}, f, protocol=2)
    _fails(checkpoint, base, "adapters.pth", "weights only")


def test_base_override_ignores_decoder_model_name(load: Callable[[str], ClaraModel]) -> None:
    # config.json names a private path that does not exist here: the explicit base folder wins
    assert load("instruct-16").config.decoder_model_name.startswith("/mnt/private")
