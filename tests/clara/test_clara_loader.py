"""The loader: succeeds on every released kind, fails exactly (and safely) otherwise."""

from __future__ import annotations

import json
import logging
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


@pytest.mark.parametrize("name", ["config.json", "model-00002-of-00002.safetensors"])
def test_missing_base_file(tiny_paths: dict[str, Path], tmp_path: Path, name: str) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    (base / name).unlink()
    _fails(checkpoint, base, name, "base model")


def test_no_tokenizer_at_all(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    (base / "tokenizer.json").unlink()
    (base / "tokenizer.model").unlink()
    _fails(checkpoint, base, "neither tokenizer.json nor tokenizer.model", "base model")


def test_sentencepiece_fallback_warns_and_matches_a_legacy_file(
        tiny_paths: dict[str, Path], tmp_path: Path, e2e16: ClaraModel, caplog: pytest.LogCaptureFixture) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    (base / "tokenizer.json").unlink()
    with caplog.at_level(logging.WARNING, logger="worker.clara.tokenizer"):
        clara = load_clara(checkpoint, base, "cpu")
    assert "no tokenizer.json" in caplog.text and "legacy" in caplog.text
    assert clara.tokenizer.source.name == "tokenizer.model"
    assert clara.fingerprint != e2e16.fingerprint  # another tokenizer file: another store key
    legacy = e2e16.tokenizer  # the conftest base folder has a legacy tokenizer.json
    for text in ["Welcome to the on-call handbook.", "  two  spaces\tand\nlines ", "émoji 🙂 中文", ""]:
        assert clara.tokenizer.encoder_ids(text, 256) == legacy.encoder_ids(text, 256)
        assert clara.tokenizer.prompt_ids(text, 2) == legacy.prompt_ids(text, 2)
        assert clara.tokenizer.decode(legacy.encode_text(text)) == legacy.decode(legacy.encode_text(text))


def test_non_legacy_tokenizer_changes_ids_and_store_key(tiny_paths: dict[str, Path], tmp_path: Path,
                                                         e2e16: ClaraModel) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    tiny_checkpoint.write_tokenizer(base, "non-legacy")
    clara = load_clara(checkpoint, base, "cpu")
    assert clara.fingerprint != e2e16.fingerprint
    assert clara.tokenizer.prompt_ids("Why?", 1)[:3] == [1, 733, 16289]  # no lone "▁" after <s>
    assert e2e16.tokenizer.prompt_ids("Why?", 1)[:3] == [1, 28705, 733]
    ours, legacy = clara.tokenizer.encoder_ids("Welcome", 256), e2e16.tokenizer.encoder_ids("Welcome", 256)
    assert ours[2:4] == [28780, 23079] and legacy[2] == 19417  # "W" "elcome" vs "▁Welcome"


def test_tokenizer_json_with_other_added_tokens_is_refused(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    spec = json.loads((base / "tokenizer.json").read_text())
    spec["added_tokens"].append({"id": 32000, "content": "<|tool|>", "single_word": False, "lstrip": False,
                                 "rstrip": False, "normalized": False, "special": True})
    (base / "tokenizer.json").write_text(json.dumps(spec))
    _fails(checkpoint, base, "tokenizer.json", "<|tool|>")


def test_unreadable_tokenizer_json(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, base = _copy(tiny_paths, tmp_path)
    (base / "tokenizer.json").write_text("{not json")
    _fails(checkpoint, base, "tokenizer.json could not be read")


def _embedding_copies(checkpoint: Path) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
    first_last = torch.load(checkpoint / "decoder_first_last_layers.pth", weights_only=True)
    return first_last, torch.load(checkpoint / "adapters.pth", weights_only=True)


def test_differing_adapter_copies_are_logged_and_the_last_wins(
        tiny_paths: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    checkpoint = tiny_checkpoint.make_checkpoint(tmp_path / "e2e", tiny_paths["base_model"], "e2e", 16,
                                                 distinct_copies=True)
    with caplog.at_level(logging.WARNING, logger="worker.clara.checkpoint"):
        clara = load_clara(checkpoint, tiny_paths["base_model"], "cpu")
    first_last, adapters = _embedding_copies(checkpoint)
    assert list(adapters)[-1] == "query_reasoner_adapter"
    for key, weight in (("model.embed_tokens.weight", clara.model.model.embed_tokens.weight),
                        ("lm_head.weight", clara.model.lm_head.weight)):
        assert torch.equal(weight, adapters["query_reasoner_adapter"][key].float())
        assert not torch.equal(weight, first_last[key].float())
    message = caplog.text
    assert "adapters.pth" in message and "decoder_first_last_layers.pth" in message
    for name in adapters:
        assert name in message
    assert "from adapters.pth (query_reasoner_adapter)" in message


def test_the_order_in_the_file_decides(tiny_paths: dict[str, Path], tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint.make_checkpoint(tmp_path / "instruct", tiny_paths["base_model"], "instruct", 16,
                                                 distinct_copies=True)
    first_last, adapters = _embedding_copies(checkpoint)
    torch.save({"decoder_adapter": adapters["decoder_adapter"], "encoder_adapter": adapters["encoder_adapter"]},
               checkpoint / "adapters.pth")
    clara = load_clara(checkpoint, tiny_paths["base_model"], "cpu")
    assert torch.equal(clara.model.model.embed_tokens.weight,
                       adapters["encoder_adapter"]["model.embed_tokens.weight"].float())
    # without copies in the adapters, decoder_first_last_layers.pth is what is used
    for weights in adapters.values():
        del weights["model.embed_tokens.weight"], weights["lm_head.weight"]
    torch.save(adapters, checkpoint / "adapters.pth")
    clara = load_clara(checkpoint, tiny_paths["base_model"], "cpu")
    assert torch.equal(clara.model.lm_head.weight, first_last["lm_head.weight"].float())


def test_equal_copies_say_nothing(tiny_paths: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="worker.clara.checkpoint"):
        load_clara(tiny_paths["e2e-16"], tiny_paths["base_model"], "cpu")
    assert "differ" not in caplog.text


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
