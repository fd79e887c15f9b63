"""GPU side of bench/indexing.py: encode rate of MiniLM in fp16 on CUDA, and vectors to bring back.

Runs on the lent GPU machine with only torch, numpy and sentence-transformers (the image's
own); it imports nothing else from the project, so a half-finished edit elsewhere in the
checkout cannot break it. Texts are the embedding texts the build would embed (made on the
CPU side by `bench/indexing.py export-texts`), as xz-compressed JSON lines.

    python3 bench/gpu_embed.py --model .gpu/minilm-fp16 --texts .gpu/texts.jsonl.xz \
        --out "$OUT" --export 160000

Writes gpu.json (rates) and, with --export, the first N vectors as int8 with one fp16
scale per vector (vectors_<i>.npy, scales.npy): 384 bytes a vector, so 160k fit in the
64 MiB that may come back.
"""

from __future__ import annotations

import argparse
import json
import lzma
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np


def load_texts(path: Path) -> list[str]:
    with lzma.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(vectors).max(axis=1, keepdims=True) / 127.0
    codes = np.round(vectors / np.maximum(scale, 1e-12)).astype(np.int8)
    return codes, scale.astype(np.float16).ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--texts", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=50_000, help="texts per timed run")
    parser.add_argument("--batches", default="128,256,512,1024,2048")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--export", type=int, default=0, help="bring back vectors of the first N texts")
    parser.add_argument("--project", action="store_true",
                        help="time the project's SentenceTransformerEmbedder (device cuda) instead")
    args = parser.parse_args()
    if args.project:
        project(args)
        return

    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(str(args.model), device="cuda").half()
    load_seconds = time.perf_counter() - started
    texts = load_texts(args.texts)
    sample = texts[: args.sample]
    results: dict[str, object] = {
        "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "texts": len(texts), "sample": len(sample), "model_load_s": round(load_seconds, 2),
        "mean_chars": round(sum(map(len, sample)) / len(sample), 1),
    }
    print(json.dumps(results), flush=True)

    def encode(items: list[str], batch: int) -> np.ndarray:
        return model.encode(items, batch_size=batch, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)

    encode(sample[:4096], 512)  # warm-up: kernels, allocator, tokenizer
    torch.cuda.synchronize()
    rates: dict[str, dict[str, object]] = {}
    for batch in (int(b) for b in args.batches.split(",")):
        runs = []
        for _ in range(args.repeats):
            torch.cuda.synchronize()
            t = time.perf_counter()
            encode(sample, batch)  # one call: sentence-transformers sorts the texts by length
            torch.cuda.synchronize()
            runs.append(len(sample) / (time.perf_counter() - t))
        rates[f"one call, batch {batch}"] = {"median": round(statistics.median(runs)), "runs": [round(r) for r in runs]}
        print(batch, rates[f"one call, batch {batch}"], flush=True)
    # As a build calls it (vector_cache.embed_missing): longest first, in calls of `commit` texts.
    ordered = sorted(sample, key=len, reverse=True)
    for commit, batch in ((256, 256), (256, 1024), (8192, 1024), (16384, 2048)):
        runs = []
        for _ in range(args.repeats):
            torch.cuda.synchronize()
            t = time.perf_counter()
            for i in range(0, len(ordered), commit):
                encode(ordered[i:i + commit], batch)
            torch.cuda.synchronize()
            runs.append(len(ordered) / (time.perf_counter() - t))
        key = f"calls of {commit}, batch {batch}"
        rates[key] = {"median": round(statistics.median(runs)), "runs": [round(r) for r in runs]}
        print(key, rates[key], flush=True)
    results["rates"] = rates
    results["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)

    if args.export:
        items = texts[: args.export]
        t = time.perf_counter()
        vectors = encode(items, 1024)
        torch.cuda.synchronize()
        export: dict[str, object] = {"n": len(items), "seconds": round(time.perf_counter() - t, 2),
                                     "rate": round(len(items) / (time.perf_counter() - t))}
        results["export"] = export
        codes, scales = quantise(vectors.astype(np.float32))
        per_file = 40_000
        for number, i in enumerate(range(0, len(codes), per_file)):
            np.save(args.out / f"vectors_{number}.npy", codes[i:i + per_file])
        np.save(args.out / "scales.npy", scales)
        back = codes.astype(np.float32) * scales.astype(np.float32)[:, None]
        back /= np.linalg.norm(back, axis=1, keepdims=True)
        export["int8_cosine_min"] = float((back * vectors).sum(1).min())
    (args.out / "gpu.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def project(args: argparse.Namespace) -> None:
    """Rates of minutes.embed.SentenceTransformerEmbedder on cuda, as `minutes index --device cuda` runs it."""
    import torch

    from minutes.embed import SentenceTransformerEmbedder

    texts = load_texts(args.texts)
    sample = texts[: args.sample]
    embedder = SentenceTransformerEmbedder(device="cuda")
    results: dict[str, object] = {"gpu": torch.cuda.get_device_name(0), "sample": len(sample)}
    embedder.encode(sample[:4096], 512)
    transformer: Any = embedder._model[0]  # sentence-transformers types it as a torch Module
    t = time.perf_counter()
    transformer.tokenizer(sample, truncation=True, max_length=256, padding=False)
    results["tokenise_all_per_s"] = round(len(sample) / (time.perf_counter() - t))
    t = time.perf_counter()
    embedder._model.encode(sample, batch_size=1024, normalize_embeddings=True, show_progress_bar=False)
    torch.cuda.synchronize()
    results["sentence_transformers_encode_per_s"] = round(len(sample) / (time.perf_counter() - t))
    print(json.dumps(results), flush=True)
    ordered = sorted(sample, key=len, reverse=True)
    rates = {}
    for commit, batch in ((len(sample), 256), (len(sample), 512), (len(sample), 1024), (256, 256),
                          (4096, 512), (8192, 1024), (16384, 1024)):
        runs = []
        for _ in range(args.repeats):
            torch.cuda.synchronize()
            t = time.perf_counter()
            for i in range(0, len(ordered), commit):
                embedder.encode(ordered[i:i + commit], batch)
            torch.cuda.synchronize()
            runs.append(len(ordered) / (time.perf_counter() - t))
        key = f"calls of {commit}, batch {batch}"
        rates[key] = {"median": round(statistics.median(runs)), "runs": [round(r) for r in runs]}
        print(key, rates[key], flush=True)
    t = time.perf_counter()
    embedder.encode(texts, 1024)
    torch.cuda.synchronize()
    results["all_texts"] = {"n": len(texts), "per_s": round(len(texts) / (time.perf_counter() - t))}
    results["rates"] = rates
    results["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    (args.out / "gpu-project.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
