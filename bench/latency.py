"""Query latency, index kinds, RAM and start-up at 10k, 100k and 1M passages.

    .venv/bin/python -m bench.latency prepare --sizes 10k,100k,1m   # corpora and index folders
    .venv/bin/python -m bench.latency kinds   --sizes 10k,100k,1m   # flat / HNSW / IVF-SQ8 / IVF-PQ
    .venv/bin/python -m bench.latency search  --sizes 10k,100k,1m   # whole search, open time
    .venv/bin/python -m bench.latency server  --sizes 10k,100k,1m   # server RSS and start-up
    .venv/bin/python -m bench.latency stages  --sizes 100k,1m       # where a search spends its time

Corpora: Cleveland City Record issues, oldest first, chunked by our chunker, plus the seed
corpus (so the dev questions still have their answers at every size). The first 160,000
Cleveland passages carry real MiniLM vectors, embedded on a lent H100 by
bench/gpu_embed.py and brought back as int8 (cosine to the fp32 original >= 0.999); the seed
corpus is embedded here. Beyond 160k (only the 1M corpus) each passage gets a real vector
plus Gaussian noise (cosine about 0.94 to it), and past the end of the Record (816k
passages) issues are indexed a second time under `zcopy/`. The build itself is the real
pipeline (`build_index`), fed from the vector cache. Everything is written under .bench/perf/.
Runs are pinned to the machine's 2 cores; search uses 1 torch thread, as the server does.
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import time
from pathlib import Path

import numpy as np

from bench.common import (
    CORPUS,
    SCRATCH,
    cleveland_paths,
    dir_size,
    load_questions,
    machine,
    mark_current,
    percentiles,
    rss_bytes,
)
from tests.support.embedders import CachedOnly

PERF = SCRATCH / "perf"
GPU_TEXTS = SCRATCH.parent / ".gpu" / "texts.jsonl.xz"
ISSUES = {"10k": 15, "100k": 168, "1m": 1493}  # issues (oldest first) that give about 10k, 100k, 1M passages
NOISE = 0.35  # norm of the perturbation added to a real unit vector for synthetic passages
KINDS_TO_COMPARE = ["flat", "ivf-sq8", "ivf-pq", "hnsw"]
MODE = ["hybrid"]  # search step: the searcher's mode (hybrid, or semantic for the vector side alone)
QMSUM_QUESTIONS = SCRATCH.parent.parent / "shared" / "eval" / "qmsum-train.jsonl"


def real_vectors() -> tuple[dict[str, int], np.ndarray]:
    """GPU-embedded vectors of the first 160k Cleveland passages, by embedding text."""
    codes = np.concatenate([np.load(p) for p in sorted(PERF.glob("vectors_*.npy"))])
    scales = np.load(PERF / "scales.npy").astype(np.float32)
    vectors = codes.astype(np.float32) * scales[:, None]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with lzma.open(GPU_TEXTS, "rt") as handle:
        row_of = {json.loads(line): i for i, line in enumerate(handle)}
    return row_of, vectors


def corpus_root(size: str) -> Path:
    """A folder of links: Cleveland issues (ids as in .bench/cleveland), the seed corpus, copies."""
    root = PERF / f"corpus-{size}"
    if root.exists():
        return root
    issues = cleveland_paths()
    wanted = ISSUES[size]
    links = [(p, Path(p.parent.name) / p.name) for p in issues[:wanted]]
    for source, name in links:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(source)
    for source in issues[: max(0, wanted - len(issues))]:
        # A second printing: the build skips identical content, so the copy gets a first line of its own.
        copy = root / "zcopy" / source.parent.name / source.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text("Second printing (benchmark copy)\n" + source.read_text(errors="replace"))
    (root / "seed").mkdir(parents=True)
    for md in CORPUS.glob("*.md"):
        if md.name.lower() != "readme.md":
            (root / "seed" / md.name).symlink_to(md.resolve())
    return root


def prepare(size: str) -> None:
    import hashlib

    from minutes.build import BuildReport, VectorCache, build_index, collect, info_of
    from minutes.chunk import chunk_document
    from minutes.embed import embedding_text, load_embedder

    root = corpus_root(size)
    index_dir = PERF / f"index-{size}"
    started = time.perf_counter()
    documents = collect([root], BuildReport())
    texts, seed = [], []
    for document in documents:
        for passage in chunk_document(document):
            texts.append(embedding_text(passage, info_of(document)))
            seed.append(document.path is not None and "/seed/" in document.path)
    print(f"{size}: {len(documents)} documents, {len(texts)} passages, chunked in "
          f"{time.perf_counter() - started:.0f}s", flush=True)
    row_of, real = real_vectors()
    rng = np.random.default_rng(0)
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    seed_rows = [i for i, s in enumerate(seed) if s]
    synthetic = 0
    for i, text in enumerate(texts):
        row = row_of.get(text)
        if row is not None:
            vectors[i] = real[row]
        elif not seed[i]:
            noise = rng.standard_normal(384).astype(np.float32) * (NOISE / np.sqrt(384))
            vector = real[rng.integers(len(real))] + noise
            vectors[i] = vector / np.linalg.norm(vector)
            synthetic += 1
    model = load_embedder("minilm", threads=2)
    vectors[seed_rows] = model.encode([texts[i] for i in seed_rows], batch_size=32)
    print(f"{size}: {len(texts) - synthetic - len(seed_rows)} real GPU vectors, {len(seed_rows)} seed vectors "
          f"embedded here, {synthetic} synthetic", flush=True)
    index_dir.mkdir(parents=True, exist_ok=True)
    cache = VectorCache(index_dir / "cache.sqlite", "minilm", 384)
    hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    for i in range(0, len(texts), 10_000):
        cache.put(list(zip(hashes[i:i + 10_000], vectors[i:i + 10_000], strict=True)))
    cache.close()
    np.save(PERF / f"vectors-{size}.npy", vectors.astype(np.float16))
    started = time.perf_counter()
    report = build_index([root], index_dir, CachedOnly())
    meta = {"size": size, "documents": report.documents, "passages": report.passages,
            "synthetic": synthetic, "build_seconds": round(time.perf_counter() - started, 1),
            "machine": machine()}
    (PERF / f"prepared-{size}.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta), flush=True)


def query_texts(n: int = 200) -> list[str]:
    """Real questions: the 20 dev questions, then QMSum's, in file order."""
    questions = [q["question"] for q in load_questions()]
    questions += [json.loads(line)["question"] for line in QMSUM_QUESTIONS.read_text().splitlines()[: n]]
    return questions[:n]


def query_vectors() -> np.ndarray:
    """The benchmark queries embedded once by the real model (cached in .bench/perf)."""
    path = PERF / "queries.npy"
    if not path.exists():
        from minutes.embed import load_embedder

        np.save(path, load_embedder("minilm", threads=2).encode(query_texts(), batch_size=32))
    return np.load(path)


def in_domain_queries() -> np.ndarray:
    """200 real City Record passage vectors (GPU rows 159,800-159,999), outside the 10k and 100k corpora;
    inside the 1M one, where each query's own passage is left out of the comparison."""
    _, real = real_vectors()
    return real[159_800:160_000]


def time_searches(index, queries: np.ndarray, k: int, rounds: int = 3) -> tuple[dict[str, float], list[np.ndarray]]:
    from minutes.storage.sqlite_faiss.vectors import search_vectors

    for q in queries[:20]:
        search_vectors(index, q, k)  # warm the pages and caches
    samples, found = [], []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            _, ids = search_vectors(index, q, k)
            samples.append((time.perf_counter() - t) * 1000)
            found.append(ids)
    return percentiles(samples), found[: len(queries)]


def recall_at(found: list[np.ndarray], truth: list[np.ndarray], k: int = 10) -> float:
    pairs = zip(found, truth, strict=True)
    return float(np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in pairs]))


def kinds(size: str) -> None:
    """FAISS alone, per kind: build time, file size, latency of a k=100 search (the pool search.py asks for)."""
    import faiss

    from minutes.storage.sqlite_faiss import vectors as vector_index
    from minutes.storage.sqlite_faiss.vectors import build_vector_index

    faiss.omp_set_num_threads(1)  # a query runs on one thread in the server
    vectors = np.load(PERF / f"vectors-{size}.npy").astype(np.float32)
    questions, passages = query_vectors(), in_domain_queries()
    queries = np.concatenate([questions, passages])
    split = len(questions)
    rows: list[dict[str, object]] = []
    truth: list[np.ndarray] = []
    # In the 1M corpus the in-domain query passages are indexed themselves: leave each one's own copy out.
    own = [np.flatnonzero(vectors @ q > 1 - 1e-3) if size == "1m" else np.zeros(0, dtype=np.int64)
           for q in passages]

    def recalls(found: list[np.ndarray]) -> dict[str, float]:
        """recall@10 against exact search, for the questions and for the in-domain passages."""
        def drop_self(ids: list[np.ndarray]) -> list[np.ndarray]:
            return [i[~np.isin(i, own[n])] for n, i in enumerate(ids)]
        return {"recall@10_questions": round(recall_at(found[:split], truth[:split]), 3),
                "recall@10_passages": round(recall_at(drop_self(found[split:]), drop_self(truth[split:])), 3)}


    for kind in KINDS_TO_COMPARE:
        if kind == "hnsw" and len(vectors) > 200_000:
            rows.append({"kind": kind, "note": "not built: HNSW construction on 2 cores is too slow at this size"})
            continue
        faiss.omp_set_num_threads(2)  # building may use both cores
        t = time.perf_counter()
        index, _ = build_vector_index(vectors, 384, kind)
        build_s = time.perf_counter() - t
        faiss.omp_set_num_threads(1)
        path = PERF / f"kind-{size}-{kind}.faiss"
        faiss.write_index(index, str(path))
        del index
        t = time.perf_counter()
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if path.stat().st_size > 256 * 2**20 else 0)
        open_s = time.perf_counter() - t
        stats, found = time_searches(index, queries, 100)
        if kind == "flat":
            truth = found
        row = {"kind": kind, "passages": len(vectors), "build_s": round(build_s, 1), "open_s": round(open_s, 3),
               "file_mb": round(path.stat().st_size / 1e6, 1),
               "bytes_per_passage": round(path.stat().st_size / len(vectors)),
               "p50_ms": round(stats["p50"], 2), "p95_ms": round(stats["p95"], 2), "p99_ms": round(stats["p99"], 2),
               **recalls(found)}
        if kind.startswith("ivf"):
            ivf = faiss.extract_index_ivf(index)
            row["nlist"], row["nprobe"] = ivf.nlist, ivf.nprobe
            sweep = {}
            for share in (64, 32, 16, 8, 4):  # 1/64 .. 1/4 of the cells
                nprobe = max(1, ivf.nlist // share)
                ivf.nprobe = nprobe
                s, f = time_searches(index, queries, 100, rounds=1)
                sweep[f"1/{share} = {nprobe}"] = {**recalls(f), "p50_ms": round(s["p50"], 2),
                                                   "p95_ms": round(s["p95"], 2)}
            row["nprobe_sweep"] = sweep
        rows.append(row)
        print(json.dumps(row), flush=True)
        path.unlink()
    result = {"size": size, "machine": machine(), "rows": rows, "flat_below": vector_index.FLAT_BELOW}
    (PERF / f"kinds-{size}.json").write_text(json.dumps(result, indent=2))


def time_full_searches(searcher, queries: list[str], rounds: int) -> tuple[list[float], list[list]]:
    """Milliseconds of every whole search over `rounds` rounds, and the first round's hits."""
    samples, first_round = [], []
    for round_ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            result = searcher.search(q, 10)
            samples.append((time.perf_counter() - t) * 1000)
            if round_ == 0:
                first_round.append(result.hits)
    return samples, first_round


def dev_ndcg(searcher) -> float:
    """nDCG@10 of the dev questions (their answers lie in the seed corpus, present at every size)."""
    from bench.common import ndcg_at_k, relevant

    seed_texts = [row[0] for row in searcher.index.sql("SELECT p.text FROM passages p JOIN documents d "
                                                       "ON d.doc = p.doc WHERE d.path LIKE '%/seed/%'")]
    ndcgs = []
    for question in load_questions():
        n_relevant = sum(relevant(text, question["relevant"]) for text in seed_texts)
        hits = [h.passage.text for h in searcher.search(question["question"], 10).hits]
        ndcgs.append(ndcg_at_k(hits, question["relevant"], n_relevant))
    return round(float(np.mean(ndcgs)), 3)


def search(size: str) -> None:
    """The whole search (query embedding, FAISS, FTS5, fusion, passages) as the server runs it.

    With --mode semantic the keyword side (FTS5) is left out, to show what the vector side costs alone.
    """
    import faiss

    faiss.omp_set_num_threads(1)
    t = time.perf_counter()
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401
    import_s = time.perf_counter() - t
    from minutes.embed import load_embedder
    from minutes.search.hybrid import Searcher, Tuning
    from minutes.storage.sqlite_faiss import open_local

    t = time.perf_counter()
    embedder = load_embedder("minilm", threads=1)
    model_s = time.perf_counter() - t
    index_dir = PERF / f"index-{size}"
    mark_current(index_dir)
    opens = []
    for _ in range(3):
        t = time.perf_counter()
        index = open_local(index_dir)
        searcher = Searcher(index, embedder, Tuning(mode=MODE[0]) if MODE[0] != "hybrid" else None)
        opens.append(time.perf_counter() - t)
    queries = query_texts()
    for q in queries[:10]:
        searcher.search(q, 10)
    samples, first_hits = time_full_searches(searcher, queries, rounds=3)
    tops = [[h.passage.text for h in hits] for hits in first_hits]
    stats = percentiles(samples)
    # The same search over an exact flat index of the same vectors: recall@10 of the whole search.
    vectors = np.load(PERF / f"vectors-{size}.npy").astype(np.float32)
    exact = faiss.IndexFlatIP(384)
    exact.add(vectors)
    exact_searcher = Searcher(index.with_vectors(exact), embedder, searcher.tuning)
    exact_tops = [[h.passage.text for h in exact_searcher.search(q, 10).hits] for q in queries]
    overlap = [len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(tops, exact_tops, strict=True) if b]
    result = {"size": size, "mode": MODE[0], "passages": index.manifest.passages,
              "faiss_index": index.manifest.backend.get("vector_index"),
              "p50_ms": round(stats["p50"], 1), "p95_ms": round(stats["p95"], 1), "p99_ms": round(stats["p99"], 1),
              "queries": len(queries), "rounds": 3, "recall@10_vs_exact": round(float(np.mean(overlap)), 3),
              "ndcg@10_dev": dev_ndcg(searcher),
              "open_s_median": round(sorted(opens)[1], 3), "torch_import_s": round(import_s, 2),
              "model_load_s": round(model_s, 2),
              "index_mb": {"sqlite": round((index.path / "index.sqlite").stat().st_size / 1e6, 1),
                           "faiss": round((index.path / "vectors.faiss").stat().st_size / 1e6, 1),
                           "build_total": round(dir_size(index.path) / 1e6, 1)},
              "process_rss_mb": round(rss_bytes() / 1e6), "machine": machine()}
    suffix = "" if MODE[0] == "hybrid" else f"-{MODE[0]}"
    (PERF / f"search-{size}{suffix}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)


def stages(size: str) -> None:
    """Where a hybrid search spends its time: the Searcher's steps timed in place (40 questions)."""
    import faiss

    import minutes.search.hybrid as search_module
    from minutes.embed import load_embedder
    from minutes.search.hybrid import Searcher
    from minutes.storage.sqlite_faiss import open_local

    faiss.omp_set_num_threads(1)
    embedder = load_embedder("minilm", threads=1)
    mark_current(PERF / f"index-{size}")
    searcher = Searcher(open_local(PERF / f"index-{size}"), embedder)
    spent: dict[str, float] = {}

    def timed(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started
        setattr(owner, name, wrapper)

    timed(embedder, "encode", "query embedding")
    timed(search_module, "search_vectors", "FAISS")
    timed(searcher, "_keyword", "FTS5 keyword query")
    timed(searcher, "_fuse_scores", "FTS5 bm25 of the semantic candidates (_fuse_scores)")
    timed(searcher, "_hits", "passages and collapsing (_hits)")
    queries = query_texts(40)
    for q in queries[:10]:
        searcher.search(q, 10)
    spent.clear()
    started = time.perf_counter()
    for q in queries:
        searcher.search(q, 10)
    total = time.perf_counter() - started
    result = {"size": size, "queries": len(queries), "total_ms": round(total / len(queries) * 1000, 1),
              **{label: round(seconds / len(queries) * 1000, 1) for label, seconds in spent.items()},
              "machine": machine()}
    (PERF / f"stages-{size}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)


def seed_index() -> Path:
    """The seed corpus alone (111 passages): the 'empty index' baseline for RAM per passage."""
    from minutes.build import build_index

    index_dir = PERF / "index-seed"
    if not (index_dir / "current").exists():
        index_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(PERF / "index-10k" / "cache.sqlite", index_dir / "cache.sqlite")  # seed vectors are there
        build_index([CORPUS], index_dir, CachedOnly())
    return index_dir


def server_rss(index_dir: Path, warm_queries: list[str]) -> tuple[int, float]:
    """(RSS after start-up and the warm-up queries, seconds from launch to /healthz 200)."""
    import urllib.parse
    import urllib.request

    from bench.common import start_server, stop_server

    process, url, startup = start_server(index_dir)
    try:
        for q in warm_queries:
            with urllib.request.urlopen(f"{url}/api/search?q={urllib.parse.quote(q)}&k=10", timeout=60) as r:
                r.read()
        return rss_bytes(process.pid), startup
    finally:
        stop_server(process)


def server(size: str) -> None:
    """Server RSS with the index minus RSS with the seed-only index, per passage; start-up time."""
    queries = query_texts()
    base_rss, base_start = server_rss(seed_index(), queries)
    rss, starts = [], []
    for _ in range(2):
        r, s = server_rss(PERF / f"index-{size}", queries)
        rss.append(r)
        starts.append(s)
    meta = json.loads((PERF / f"prepared-{size}.json").read_text())
    passages = meta["passages"]
    result = {"size": size, "passages": passages, "rss_mb": round(max(rss) / 1e6),
              "empty_rss_mb": round(base_rss / 1e6),
              "bytes_per_passage": round((max(rss) - base_rss) / passages),
              "startup_s": [round(s, 2) for s in starts], "empty_startup_s": round(base_start, 2),
              "warm_queries": len(queries), "machine": machine()}
    (PERF / f"server-{size}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "kinds", "search", "server", "stages"])
    parser.add_argument("--sizes", default="10k,100k,1m")
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "semantic"], help="search step")
    parser.add_argument("--kinds", default="flat,ivf-sq8,ivf-pq,hnsw", help="kinds to compare (kinds step)")
    args = parser.parse_args()
    KINDS_TO_COMPARE[:] = args.kinds.split(",")
    MODE[0] = args.mode
    for size in args.sizes.split(","):
        steps = {"prepare": prepare, "kinds": kinds, "search": search, "server": server, "stages": stages}
        steps[args.step](size)


if __name__ == "__main__":
    main()
