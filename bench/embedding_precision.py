#!/usr/bin/env python
"""MiniLM in float32 and under bf16 autocast (``CHATOPS_RETRIEVER_PRECISION``) on the same texts: seconds to embed
each file's chunks as the index chunks them, and the cosine of each chunk's two vectors.

    OMP_NUM_THREADS=2 python bench/embedding_precision.py bench/quality_sets/logs/jenkins-controller.log \\
        bench/quality_sets/logs/vault-2.log

Each precision embeds everything once to warm up, then ``--repeat`` times; the best time counts. bf16 pays only
on a device that multiplies it in hardware (the output says whether this one does).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.documents.chunking import chunk_documents
from worker.documents.document import Document
from worker.engine.default import EmbeddingCache, ExtractiveEngine, multiplies_bf16
from worker.index.chunk_index import embedding_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="logs (.log) or runbooks (.md) to chunk and embed")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    engine = ExtractiveEngine.load(args.device, precision="fp32")  # its tokenizer counts the chunks' tokens
    model = engine.retriever.cache.model
    documents = [Document(doc_id=f"file:{path}", title=path.name, text=path.read_text(errors="replace"),
                          kind="log" if path.suffix == ".log" else "runbook") for path in args.files]
    chunks = chunk_documents(documents, engine.max_chunk_tokens, engine.count_tokens)
    texts = [embedding_text(chunk) for chunk in chunks]
    print(f"{len(texts)} chunks of {len(args.files)} files; {args.device} multiplies bf16 in hardware: "
          f"{multiplies_bf16(args.device)}; {os.environ.get('OMP_NUM_THREADS', 'default')} math threads")
    vectors = {}
    for precision in ("fp32", "bf16"):
        seconds = []
        for _ in range(args.repeat + 1):
            cache = EmbeddingCache(model, precision=precision)
            started = time.perf_counter()
            vectors[precision] = cache.embed(texts)
            seconds.append(time.perf_counter() - started)
        best = min(seconds[1:])
        print(f"{precision}: {best:.2f} s, {len(texts) / best:.1f} chunks/s")
    cosine = np.sum(vectors["fp32"] * vectors["bf16"], axis=1)
    print(f"cosine bf16 to fp32: min {cosine.min():.5f}, mean {cosine.mean():.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
