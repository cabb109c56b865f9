#!/usr/bin/env python
"""Issue 14: record what Apple's CLaRa reference computes on our tiny checkpoints, as a test fixture.

    python bench/clara_reference.py --apple /work/.mirror/apple+ml-clara/repo      # a git dir, or a URL
    python bench/clara_reference.py --apple https://github.com/apple/ml-clara --venv /tmp/clara-ref-venv

1. Builds the tiny checkpoints with ``tests/clara/tiny_checkpoint.py`` (``make_reference_set``: E2E c16 and
   c128, Instruct c16, Base c16, over a legacy and a non-legacy ``tokenizer.json``; seeded, so the tests
   build the same tensors: the fixture keeps their digest).
2. Exports ``openrlhf/models/modeling_clara.py`` at the pinned commit into a temporary folder (never into
   this repository) and makes a virtual environment with Apple's pins (transformers 4.56.2, peft 0.17.1,
   tokenizers 0.22.1; torch ``--torch``, a CPU build).
3. Runs this same file with ``--apple-side`` in that environment: Apple's code unchanged, fp32 on CPU,
   loaded the way Apple's evaluation loads it (``CLaRa.from_pretrained`` with ``pure_inference``, which
   only takes effect from config.json, so the checkpoint copies given to it carry the flag; then
   ``.eval()``). Recorders wrapped around its methods keep what passes through: encoder inputs, memory
   and query embeddings, retrieval scores, top-k, prompt ids, greedy ids, answers, and which
   ``embed_tokens``/``lm_head`` copy its loader ended up with.
4. Writes ``tests/clara/fixtures/clara_reference.safetensors``: fp32 tensors plus one JSON metadata entry
   (ids, top-k, answers, inputs, versions, digests). ``tests/clara/test_clara_fidelity.py`` compares
   ``worker/clara`` against it (ids exact, floats to 1e-4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "clara" / "fixtures" / "clara_reference.safetensors"
COMMIT = "857c3cf346f4b3b1ff26e5364519a73738fdcc35"
MODELING = "openrlhf/models/modeling_clara.py"
PINS = ["transformers==4.56.2", "peft==0.17.1", "tokenizers==0.22.1", "accelerate==1.10.1",
        "sentencepiece==0.2.0", "protobuf==6.32.1", "Jinja2==3.1.6", "safetensors==0.6.2", "requests"]
MAX_NEW_TOKENS = 12

DOCUMENTS = [
    "To fail over the primary database, run `make failover` from the ops host, then check replication lag.",
    "Disk alerts on web-3: clean /var/log/nginx and restart the log shipper.",
    "The deploy pipeline publishes to staging first; production needs two approvals.",
    "Kafka consumer lag above 10k means the billing workers are stuck: restart them with `kubectl rollout "
    "restart deploy/billing-worker`.",
    "Welcome to the on-call handbook.",
    # longer than doc_max_length (256 tokens): cut on the right, </s> included
    "Redis memory: when used_memory crosses 90% of maxmemory, check the eviction policy (allkeys-lru for "
    "caches), look for big keys with `redis-cli --bigkeys`, and scale the node group before paging. " * 6,
]
QUESTIONS = [
    "How do I fail over the database?",
    # kept as given (leading and trailing spaces), and the reference's ":\ " -> ": " on the user message
    "  who restarts the billing workers when kafka lag is high, say on C:\\ drives? ",
]
# Instruct and Base: which documents (by index) each question's prompt holds, in rank order
SELECTION = {"instruct": [[0, 1, 2, 3, 4], [3, 5, 1, 0, 2]], "base": [[0], [3]]}


# ---- our side: build, run Apple's side, write the fixture --------------------------------------------
def export_modeling(apple: str, commit: str, into: Path) -> tuple[Path, str]:
    """modeling_clara.py at ``commit`` from a git directory (bare or not) or a URL -> (file, full commit)."""
    repo = Path(apple)
    if not repo.exists():
        repo = into / "ml-clara.git"
        subprocess.run(["git", "clone", "--quiet", "--bare", "--filter=blob:none", apple, str(repo)], check=True)
    full = subprocess.run(["git", "-C", str(repo), "rev-parse", f"{commit}^{{commit}}"], check=True,
                          capture_output=True, text=True).stdout.strip()
    source = subprocess.run(["git", "-C", str(repo), "show", f"{full}:{MODELING}"], check=True,
                            capture_output=True).stdout
    path = into / "modeling_clara.py"
    path.write_bytes(source)
    return path, full


def reference_venv(venv: Path, torch_pin: str) -> Path:
    """A virtual environment with Apple's pins (made once; reused while the pins are the same)."""
    python = venv / "bin" / "python"
    wanted = "\n".join([torch_pin, *PINS])
    marker = venv / "clara-reference-pins.txt"
    if python.is_file() and marker.is_file() and marker.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", torch_pin, *PINS], check=True)
    marker.write_text(wanted)
    return python


def build_checkpoints(root: Path) -> tuple[dict[str, tuple[Path, Path]], dict[str, str]]:
    sys.path[:0] = [str(ROOT / "tests" / "clara")]
    import tiny_checkpoint

    folders = tiny_checkpoint.make_reference_set(root)
    digests = {name: tiny_checkpoint.tensors_digest(checkpoint, base) for name, (checkpoint, base) in folders.items()}
    for checkpoint, _ in folders.values():  # Apple's evaluation flag: only config.json can set it
        config = json.loads((checkpoint / "config.json").read_text())
        (checkpoint / "config.json").write_text(json.dumps({**config, "pure_inference": True}, indent=2))
    return folders, digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apple", help="apple/ml-clara: a local git directory or a git URL")
    parser.add_argument("--commit", default=COMMIT)
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "clara-reference-venv")
    parser.add_argument("--torch", default="torch==2.13.0", help="pip requirement for torch (a CPU build)")
    parser.add_argument("--out", type=Path, default=FIXTURE)
    parser.add_argument("--apple-side", nargs=3, metavar=("MODELING", "JOBS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.apple_side:
        apple_side(Path(args.apple_side[0]), Path(args.apple_side[1]), Path(args.apple_side[2]))
        return
    if not args.apple:
        parser.error("--apple is required")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="clara-reference-") as tmp:
        work = Path(tmp)
        modeling, commit = export_modeling(args.apple, args.commit, work)
        python = reference_venv(args.venv, args.torch)
        folders, digests = build_checkpoints(work / "checkpoints")
        jobs = work / "jobs.json"
        jobs.write_text(json.dumps({name: [str(c), str(b)] for name, (c, b) in folders.items()}))
        raw = work / "apple.safetensors"
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": ""}
        subprocess.run([str(python), str(Path(__file__).resolve()), "--apple-side", str(modeling), str(jobs),
                        str(raw)], check=True, env=env, cwd=work)
        write_fixture(raw, args.out, commit, hashlib.sha256(modeling.read_bytes()).hexdigest(), digests)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - started:.0f} s")


def write_fixture(raw: Path, out: Path, commit: str, modeling_sha256: str, digests: dict[str, str]) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(raw), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        meta = json.loads(handle.metadata()["reference"])
    meta["source"] = {"repository": "https://github.com/apple/ml-clara", "commit": commit, "file": MODELING,
                      "sha256": modeling_sha256}
    for name, digest in digests.items():
        meta["cases"][name]["checkpoint_digest"] = digest
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"reference": json.dumps(meta, sort_keys=True)})


# ---- Apple's side: runs in the reference environment, imports nothing of ours ---------------------------
def apple_side(modeling_file: Path, jobs_file: Path, out: Path) -> None:
    import importlib.util

    import peft
    import tokenizers
    import torch
    import transformers
    from safetensors.torch import save_file

    spec = importlib.util.spec_from_file_location("modeling_clara", modeling_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tensors: dict[str, Any] = {}
    cases: dict[str, Any] = {}
    for name, (checkpoint, base) in json.loads(jobs_file.read_text()).items():
        started = time.perf_counter()
        tensors_of, case = run_case(module, Path(checkpoint), Path(base))
        tensors.update({f"{name}/{key}": value for key, value in tensors_of.items()})
        cases[name] = case
        print(f"[apple] {name}: {time.perf_counter() - started:.1f} s, embed_tokens from "
              f"{case['embed_source']}, lm_head from {case['head_source']}", flush=True)
    meta = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__, "tokenizers": tokenizers.__version__},
            "documents": DOCUMENTS, "questions": QUESTIONS, "selection": SELECTION,
            "max_new_tokens": MAX_NEW_TOKENS, "cases": cases}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out),
              metadata={"reference": json.dumps(meta)})


class Recorder:
    """Wraps a callable and keeps (args, kwargs, result) of every call."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any], Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.fn(*args, **kwargs)
        self.calls.append((args, kwargs, result))
        return result


def _unpadded(ids: Any, mask: Any) -> list[list[int]]:
    return [row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True)]


def _until_eos(rows: Any) -> list[list[int]]:
    out = []
    for row in rows.tolist():
        out.append(row[: row.index(2)] if 2 in row else row)
    return out


def _source_of(weight: Any, checkpoint: Path, key: str) -> str:
    """Which copy the reference's model ended up with: decoder_first_last_layers.pth or an adapter's."""
    import torch

    candidates = {"decoder_first_last_layers.pth": torch.load(checkpoint / "decoder_first_last_layers.pth",
                                                              weights_only=True)[key]}
    for adapter, state in torch.load(checkpoint / "adapters.pth", weights_only=True).items():
        if key in state:
            candidates[f"adapters.pth ({adapter})"] = state[key]
    found = [name for name, tensor in candidates.items() if torch.equal(tensor.float(), weight.detach().float())]
    return " = ".join(found) or "none of the files"


def run_case(module: Any, checkpoint: Path, base: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    torch.manual_seed(0)
    model = module.CLaRa.from_pretrained(str(checkpoint), decoder_model_name=str(base))
    model = model.float().eval()  # fp32 on CPU; eval() as Apple's evaluation does (no LoRA dropout)
    stage = model.config.training_stage
    prepare = model._prepare_encoder_inputs = Recorder(model._prepare_encoder_inputs)
    compress = model.compress = Recorder(model.compress)
    generate = model.decoder.generate = Recorder(model.decoder.generate)
    case: dict[str, Any] = {
        "training_stage": stage,
        "embed_source": _source_of(model.decoder.get_input_embeddings().weight, checkpoint,
                                   "model.embed_tokens.weight"),
        "head_source": _source_of(model.decoder.get_output_embeddings().weight, checkpoint, "lm_head.weight"),
    }
    tensors: dict[str, Any] = {}
    n_docs = len(DOCUMENTS)
    with torch.no_grad():
        if stage == "stage2":
            topk = module.differentiable_topk = Recorder(module.differentiable_topk)
            replace = model._replace_emb_stage2 = Recorder(model._replace_emb_stage2)
            query = model._compr_query_reasoner_stage2 = Recorder(model._compr_query_reasoner_stage2)
            answers, topk_idx = model.generate_from_questions(
                questions=list(QUESTIONS), documents=[list(DOCUMENTS) for _ in QUESTIONS],
                max_new_tokens=MAX_NEW_TOKENS)
            q_enc, d_enc = prepare.calls[0][2], prepare.calls[1][2]  # questions first, then documents
            case["query_ids"] = _unpadded(q_enc["input_ids"], q_enc["attention_mask"])
            case["encoder_ids"] = _unpadded(d_enc["input_ids"], d_enc["attention_mask"])[:n_docs]
            tensors["query"] = query.calls[0][2].reshape(len(QUESTIONS), -1, model.hidden_size)
            tensors["scores"] = topk.calls[0][0][0]
            case["topk"] = topk_idx.tolist()
            dec_ids = replace.calls[0][0][1]
        else:
            memory, _ = model.compress_documents(documents=list(DOCUMENTS))
            case["encoder_ids"] = _unpadded(prepare.calls[0][2]["input_ids"], prepare.calls[0][2]["attention_mask"])
            chosen = torch.cat([memory[rows] for rows in SELECTION["instruct" if stage == "stage1_2" else "base"]])
            replace = model._replace_emb = Recorder(model._replace_emb)
            answers = model.generate_from_compressed_documents_and_questions(
                questions=list(QUESTIONS), compressed_documents=chosen, max_new_tokens=MAX_NEW_TOKENS)
            dec_ids = replace.calls[0][0][1]
        tensors["memory"] = compress.calls[0][2][0][:n_docs]
        _, gen_kwargs, output = generate.calls[-1]
        case["prompt_ids"] = _unpadded(dec_ids, gen_kwargs["attention_mask"])
        case["greedy_ids"] = _until_eos(output)
        case["answers"] = list(answers)
    return {k: v.detach().float().cpu() for k, v in tensors.items()}, case


if __name__ == "__main__":
    main()
