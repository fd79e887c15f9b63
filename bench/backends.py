"""The local index against Milvus standalone: the same ~100k passages and queries, in one run.

Usage: nice -n 10 .venv/bin/python -m bench.backends [--issues 168] [--queries 200] [--seconds 20]

Passages: the first 168 Cleveland City Record issues (oldest first) plus the seed corpus,
chunked by our chunker (71,860 passages with this commit's chunker). Vectors: the deterministic `hashing` embedder
(256-d, derived from each text's words): no cache of real 384-d vectors for this corpus is
on this machine. Milvus is the 2.3 standalone server from the `milvus` package on loopback,
in the mixed set-up (`?keyword=local`: 2.3 has no BM25) with an HNSW index (M 16,
efConstruction 200, ef 64); the local index picks its own kind by size (IVF-SQ8 here).

Measured, for each: build time; an incremental build after 1% of the passages change (two
issues rewritten); p50/p95 of the whole hybrid search (keyword + vectors + fusion + passage
fetch, k = 10); recall@10 of the vector side against exact search; QPS with 1 and 8 client
threads (fixed time each). Writes .bench/backends.json and prints Markdown rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CORPUS, SCRATCH, cleveland_paths, load_questions, machine, percentiles
from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.records import Filters
from minutes.search.hybrid import Searcher
from minutes.storage import open_backend
from minutes.storage.base import IndexReader
from minutes.storage.milvus.standalone import StandaloneMilvus

OUT = SCRATCH / "backends.json"


def corpus(root: Path, issues: int) -> Path:
    papers = root / "papers"
    papers.mkdir()
    for path in cleveland_paths()[:issues]:
        shutil.copy(path, papers / path.name)
    for path in CORPUS.iterdir():
        shutil.copy(path, papers / path.name)
    return papers


def change_one_percent(papers: Path, passages: int) -> int:
    """Rewrite whole issues (every passage of each changes) until about 1% of the passages have."""
    changed, target = 0, passages // 100
    for path in sorted(papers.glob("*.txt"), reverse=True):  # the newest issues: the usual edit
        text = path.read_text(errors="replace")
        path.write_text(text.replace(" the ", " the revised "))
        changed += max(1, len(text) // 1200)  # about one passage per 1,200 characters in the Record
        if changed >= target:
            break
    return changed


def queries(reader: IndexReader, count: int) -> list[str]:
    """The 20 dev questions, then passages' own first sentences (seeded choice)."""
    texts = [q["question"] for q in load_questions()]
    rng = np.random.default_rng(7)
    ids = rng.choice(reader.manifest.passages, size=count - len(texts), replace=False).tolist()
    stored = reader.passages.passages(ids)
    texts += [" ".join(stored[i].passage.text.split()[:12]) for i in ids]
    return texts


def latency(searcher: Searcher, texts: list[str]) -> dict[str, float]:
    samples = []
    for text in texts:
        started = time.perf_counter()
        searcher.search(text, 10)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def qps(searcher: Searcher, texts: list[str], clients: int, seconds: float) -> float:
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        i = n
        while time.perf_counter() < stop:
            searcher.search(texts[i % len(texts)], 10)
            done[n] += 1
            i += clients
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def recall(reader: IndexReader, local: IndexReader, everything: np.ndarray,
           vectors: np.ndarray) -> dict[str, float]:
    """recall@10 of the vector side against exact search over every passage.

    Passages are compared by place (document, ordinal): ids are backend-chosen (positions
    locally, content keys on Milvus), places are the same in both."""
    found = []
    for vector in vectors:
        exact_ids = np.argsort(-(everything @ vector), kind="stable")[:10].tolist()
        exact = set(local.passages.places(exact_ids).values())
        _, ids = reader.vectors.search(vector, 10, Filters(include_procedural=True))
        got = set(reader.passages.places([int(i) for i in ids.tolist()]).values())
        found.append(len(exact & got) / 10)
    return {"recall@10": float(np.mean(found))}


def measure(name: str, reader: IndexReader, local: IndexReader, texts: list[str], seconds: float,
            everything: np.ndarray, embedder: HashingEmbedder) -> dict[str, Any]:
    searcher = Searcher(reader, embedder)
    latency(searcher, texts[:20])  # warm: caches, loaded segments
    result: dict[str, Any] = {"latency_ms": latency(searcher, texts)}
    result |= recall(reader, local, everything, embedder.encode(texts))
    result["qps_1"] = qps(searcher, texts, 1, seconds)
    result["qps_8"] = qps(searcher, texts, 8, seconds)
    print(name, json.dumps(result), flush=True)
    return result


def written(result: dict[str, Any]) -> str:
    """'; rows written: ...' for a backend that reports what an incremental build wrote."""
    rows = result.get("written") or {}
    return "; rows written: " + ", ".join(f"{count:,} {kind}" for kind, count in rows.items()) if rows else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=168)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    embedder = HashingEmbedder()
    result: dict[str, Any] = {"machine": machine(), "vectors": "hashing (256-d, text-derived; no real-vector cache)"}
    with tempfile.TemporaryDirectory(prefix="bench-backends-", dir=SCRATCH if SCRATCH.exists() else None) as tmp:
        root = Path(tmp)
        papers = corpus(root, args.issues)
        with StandaloneMilvus(root / "milvus") as server:
            url = f"{server.url}/bench?keyword=local&index=HNSW"
            backends = {"local": (root / "local", None), "milvus": (root / "milvus-index", url)}
            builds: dict[str, dict[str, float]] = {}
            for name, (index_dir, backend_url) in backends.items():
                started = time.perf_counter()
                report = build_index([papers], index_dir, embedder, backend=open_backend(index_dir, backend_url))
                builds[name] = {"build_s": time.perf_counter() - started, "passages": report.passages}
                print(name, "built", builds[name], flush=True)
            readers = {name: open_backend(d, u).open() for name, (d, u) in backends.items()}
            local = readers["local"]
            everything = local.vectors.vectors(range(local.manifest.passages))
            texts = queries(local, args.queries)
            for name, reader in readers.items():
                result[name] = builds[name] | {"kind": reader.manifest.backend.get("vector_index")}
                result[name] |= measure(name, reader, local, texts, args.seconds, everything, embedder)
            changed = change_one_percent(papers, local.manifest.passages)
            for name, (index_dir, backend_url) in backends.items():
                started = time.perf_counter()
                report = build_index([papers], index_dir, embedder, backend=open_backend(index_dir, backend_url))
                result[name] |= {"incremental_s": time.perf_counter() - started, "re_embedded": report.embedded,
                                 "changed_about": changed, "written": report.written}
                print(name, "incremental", result[name]["incremental_s"], report.embedded, report.written,
                      flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(f"\n{result['machine']}; vectors: {result['vectors']}\n")
    print("| backend | passages | vector index | build s | incremental (1%) s | p50 / p95 ms | recall@10 | "
          "QPS 1 client | QPS 8 clients |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("local", "milvus"):
        r = result[name]
        print(f"| {name} | {r['passages']:,} | {r['kind']} | {r['build_s']:.0f} | {r['incremental_s']:.0f} "
              f"({r['re_embedded']:,} re-embedded{written(r)}) | "
              f"{r['latency_ms']['p50']:.0f} / {r['latency_ms']['p95']:.0f} | "
              f"{r['recall@10']:.3f} | {r['qps_1']:.1f} | {r['qps_8']:.1f} |")


if __name__ == "__main__":
    main()
