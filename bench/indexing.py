"""Indexing throughput on the CPU, the pipeline's overhead over the model, and embedding options.

    .venv/bin/python -m bench.indexing pipeline [--issues 1] [--runs 3]
    .venv/bin/python -m bench.indexing options  [--texts 256] [--runs 3]
    .venv/bin/python -m bench.indexing memory   [--sizes 10k,100k]   # after python -m bench.latency prepare

`pipeline`: the whole build (`build_index`: read, chunk, embed, SQLite + FTS5, FAISS) of the
first Cleveland City Record issues with an empty vector cache, against the model's raw
encode rate for the very same texts (one `encode` call, as sentence-transformers sorts by
length itself). The overhead is (build seconds - seconds inside `encode`) / encode seconds;
peak RSS is read after each build.

`options`: bulk encode rate and single-query latency for torch thread counts, for batches cut
from length-sorted texts against batches in document order, and for int8 dynamic
quantisation of the model's Linear layers; each option's nDCG@10 on the dev questions
(../shared/eval/seeds-dev.jsonl over the seed corpus; binary relevance: a passage is
relevant when it contains a gold quote) is measured by building the seed index with it.

GPU figures come from bench/gpu_embed.py on a lent H100 (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import (
    CORPUS,
    ROOT,
    SCRATCH,
    cleveland_paths,
    iter_cleveland_texts,
    load_questions,
    machine,
    median,
    ndcg_at_k,
    relevant,
)

OUT = SCRATCH / "perf"


class Timed:
    """Wraps an embedder and adds up the seconds spent inside `encode`."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.seconds = inner, 0.0
        self.name, self.dimension, self.floor = inner.name, inner.dimension, inner.floor

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.encode(texts, batch_size=batch_size)
        finally:
            self.seconds += time.perf_counter() - started


def pipeline(args: argparse.Namespace) -> dict[str, object]:
    import torch

    from minutes.build import build_index
    from minutes.embed import load_embedder

    torch.set_num_threads(2)
    issues = cleveland_paths()[: args.issues]
    texts = list(iter_cleveland_texts(paths=issues))
    embedder = load_embedder("minilm", threads=2)
    embedder.encode(texts[:64], batch_size=64)  # warm-up
    raw, builds, inside, peaks = [], [], [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        embedder.encode(texts, batch_size=64)
        raw.append(time.perf_counter() - started)
        work = Path(tempfile.mkdtemp(prefix="indexing-", dir=OUT))
        timed = Timed(embedder)
        started = time.perf_counter()
        report = build_index(issues, work / "index", timed, batch_size=64)
        builds.append(time.perf_counter() - started)
        inside.append(timed.seconds)
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        shutil.rmtree(work)
        assert report.passages == len(texts), (report.passages, len(texts))
    encode_s, build_s, inside_s = median(raw), median(builds), median(inside)
    return {"step": "pipeline", "issues": len(issues), "passages": len(texts),
            "raw_encode_per_s": round(len(texts) / encode_s, 1), "pipeline_per_s": round(len(texts) / build_s, 1),
            "encode_inside_build_s": round(inside_s, 2), "build_s": round(build_s, 2),
            "raw_encode_s": round(encode_s, 2),
            "overhead_vs_encode_inside": round((build_s - inside_s) / inside_s, 3),
            "overhead_vs_raw_encode": round((build_s - encode_s) / encode_s, 3),
            "peak_rss_mb": round(max(peaks) / 1e6), "runs": args.runs, "machine": machine()}


def seed_ndcg(embedder) -> float:  # type: ignore[no-untyped-def]
    """nDCG@10 of the dev questions on the seed corpus indexed with `embedder`."""
    from minutes.build import build_index
    from minutes.search.hybrid import Searcher
    from minutes.storage.sqlite_faiss import open_local

    work = Path(tempfile.mkdtemp(prefix="seed-", dir=OUT))
    try:
        build_index([CORPUS], work / "index", embedder)
        index = open_local(work / "index")
        searcher = Searcher(index, embedder)
        texts = [row[0] for row in index.sql("SELECT text FROM passages")]
        scores = []
        for question in load_questions():
            n_relevant = sum(relevant(text, question["relevant"]) for text in texts)
            hits = [h.passage.text for h in searcher.search(question["question"], 10).hits]
            scores.append(ndcg_at_k(hits, question["relevant"], n_relevant))
        index.close()
        return float(np.mean(scores))
    finally:
        shutil.rmtree(work)


def options(args: argparse.Namespace) -> dict[str, object]:
    import torch

    from minutes.embed import load_embedder

    texts = list(iter_cleveland_texts(limit=args.texts))
    queries = [q["question"] for q in load_questions()]
    rows = []
    reference = None
    configs = [("threads=1", 1, False, True), ("threads=2", 2, False, True),
               ("threads=2, document order (no length buckets)", 2, False, False),
               ("threads=2, int8 dynamic quantisation", 2, True, True),
               ("threads=1, int8 dynamic quantisation", 1, True, True)]
    for label, threads, int8, bucketed in configs:
        embedder = load_embedder("minilm", threads=threads, int8=int8)
        torch.set_num_threads(threads)
        embedder.encode(texts[:32], batch_size=32)
        rates = []
        vectors = None
        for _ in range(args.runs):
            started = time.perf_counter()
            if bucketed:
                vectors = embedder.encode(texts, batch_size=32)
            else:  # batches of 32 in document order: each padded to its longest text
                vectors = np.concatenate([embedder.encode(texts[i:i + 32], batch_size=32)
                                          for i in range(0, len(texts), 32)])
            rates.append(len(texts) / (time.perf_counter() - started))
        single = []
        for _ in range(args.runs):
            for q in queries:
                started = time.perf_counter()
                embedder.encode([q])
                single.append((time.perf_counter() - started) * 1000)
        if reference is None:
            reference = vectors
        assert vectors is not None
        agreement = float(np.mean(np.sum(vectors * reference, axis=1)))
        row = {"option": label, "encode_per_s": round(median(rates), 1),
               "query_ms_p50": round(float(np.percentile(single, 50)), 1),
               "query_ms_p95": round(float(np.percentile(single, 95)), 1),
               "cosine_to_threads1": round(agreement, 4), "ndcg@10_dev": round(seed_ndcg(embedder), 3),
               "machine": machine()}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return {"step": "options", "texts": len(texts), "runs": args.runs, "rows": rows}


def memory(args: argparse.Namespace) -> dict[str, object]:
    """Peak RSS of a whole build of the latency benchmark's corpora, vectors from their caches.

    Each build runs in a child process (`python -m bench.memory_build`; `python -m bench.latency
    prepare` must have run), so its peak is its own; no model is loaded. Passages the prepared
    cache lacks (the chunker has changed since it was filled) get stand-in unit vectors from
    `Filler`, so a build still runs every stage; the row says how many.
    """
    import subprocess

    rows = []
    for size in args.sizes.split(","):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bench.memory_build", size], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        passages, filled, peak = (int(x) for x in done.stdout.split()[-3:])
        row = {"size": size, "passages": passages, "stand_in_vectors": filled, "peak_rss_mb": round(peak / 1e6),
               "seconds": round(time.perf_counter() - started, 1), "machine": machine()}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        per = (b["peak_rss_mb"] - a["peak_rss_mb"]) * 1e6 / (b["passages"] - a["passages"])
        return {"step": "memory", "rows": rows, "bytes_per_extra_passage": round(per)}
    return {"step": "memory", "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["pipeline", "options", "memory"])
    parser.add_argument("--sizes", default="10k,100k", help="prepared corpora to build (memory)")
    parser.add_argument("--issues", type=int, default=1, help="Cleveland issues to index (about 700 passages each)")
    parser.add_argument("--texts", type=int, default=256, help="texts per timed encode (options)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"pipeline": pipeline, "options": options, "memory": memory}[args.step](args)
    (OUT / f"indexing-{args.step}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
