"""Keyword engines side by side: SQLite FTS5 (exact, and with Minutes' old pruning) against tantivy.

    nice .venv/bin/python bench/keyword.py --sizes 100k,1m          # prints the Markdown table
    nice .venv/bin/python bench/keyword.py --sizes 100k --json out.json
    nice .venv/bin/python bench/keyword.py --serve-index 100k          # a whole index for bench/load.py
    nice .venv/bin/python bench/keyword.py --stages 100k               # CPU of the whole search, by step

Passages: Cleveland City Record issues (../shared/data/cleveland-city-record), oldest first, cut
by Minutes' chunker, each issue a document of "Cleveland City Council" dated by its file name;
past the end of the Record (about 816k passages) issues are taken a second time as copies with
their own document ids (as bench/latency.py does), so 1M passages repeat some text. Written once
to .bench/keyword/<size>/passages.sqlite (git-ignored).

Questions: a fixed seeded sample (seed 13) of 200 questions from ../shared/eval/qmsum-train.jsonl
and seeds-dev.jsonl, parsed by `minutes.text.query.parse_query` as `minutes search` parses them
(stop words out; the OR of the content words), top 100, no filter: the hybrid search's keyword
call. Not Cleveland questions: the words are ordinary English, which is what costs.

Engines (one process, the same passages, the same parsed questions):
- `fts5 exact`: bm25(passages_fts, 1.0, 0.3) over every passage the query selects, as Minutes
  searched before pruning (schema and tokenizer of the old index.sqlite).
- `fts5 pruned`: the same after Minutes' pruning (plain words in over 5% of passages dropped) and
  the 40,000-postings budget (rarest words kept while their passages add up to it), word counts
  cached as the server cached them. Recall@10 against `fts5 exact` says what the budget cost.
- `tantivy`: `TantivyKeywordIndex.search` (exact bm25, text 1.0 + heading 0.3, block-max WAND).
- `tantivy + score_also`: the same call with 100 candidate ids to score, as the hybrid search makes.

Each round runs every question on every engine, the engine order rotating per question, so
machine noise hits all alike; a query's figure is the median of its CPU times (process_time) over
the rounds; p50/p95/p99 are over questions. Build: FTS5 'rebuild' of the passages table, or
tantivy from the same rows (read, add, commit, merge), wall time. Size: the FTS5 tables (dbstat)
or the tantivy folder. RSS: a fresh process that opens one engine and runs every question once
(VmRSS after, and the process's own baseline before opening). nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import CLEVELAND_DIR, SCRATCH, SHARED, cleveland_paths, dir_size, machine, percentiles  # noqa: E402
from minutes.records import Filters  # noqa: E402
from minutes.storage.sqlite_faiss.fts import match_expression  # noqa: E402
from minutes.text.query import KeywordQuery, parse_query  # noqa: E402

WORK = SCRATCH / "keyword"
SIZES = {"10k": 10_000, "100k": 100_000, "300k": 300_000, "1m": 1_000_000}
COUNCIL = "Cleveland City Council"
TOP = 100
PRUNE_SHARE, PRUNE_MIN_PASSAGES, POSTINGS = 0.05, 1000, 40_000  # Minutes' Tuning before tantivy
ENGINES = ["fts5 exact", "fts5 pruned", "tantivy", "tantivy + score_also"]

SCHEMA = """
CREATE TABLE passages (id INTEGER PRIMARY KEY, document_id TEXT NOT NULL, date TEXT NOT NULL, kind TEXT NOT NULL,
                       heading TEXT NOT NULL, text TEXT NOT NULL);
"""
FTS = """
CREATE VIRTUAL TABLE passages_fts USING fts5(
    text, heading, content='passages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
INSERT INTO passages_fts(passages_fts) VALUES ('rebuild');
"""


# --- passages and questions


def passages_db(size: str) -> Path:
    """The size's passages (id from 0), chunked once."""
    from minutes.chunk import chunk_document
    from minutes.ingest.text import read_text_document

    path = WORK / size / "passages.sqlite"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    wanted, count, started = SIZES[size], 0, time.perf_counter()
    with sqlite3.connect(partial) as db:
        db.executescript(SCHEMA)
        issues = cleveland_paths()
        copy = 0
        while count < wanted:
            for issue in issues:
                document = next(iter(read_text_document(issue, CLEVELAND_DIR)))
                suffix = f"-copy{copy}" if copy else ""
                rows = [(count + i, f"cleveland-{issue.stem}{suffix}", issue.stem, p.kind, p.heading, p.text)
                        for i, p in enumerate(chunk_document(document))][: wanted - count]
                db.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?)", rows)
                count += len(rows)
                if count >= wanted:
                    break
            copy += 1
    partial.rename(path)
    print(f"{size}: {count} passages chunked in {time.perf_counter() - started:.0f}s", flush=True)
    return path


def questions(count: int = 200, seed: int = 13) -> list[tuple[str, KeywordQuery]]:
    lines = []
    for name in ("qmsum-train.jsonl", "seeds-dev.jsonl"):
        lines += [json.loads(line)["question"] for line in (SHARED / "eval" / name).read_text().splitlines()
                  if line.strip()]
    chosen = random.Random(seed).sample(sorted(set(lines)), count)
    return [(text, parse_query(text)) for text in chosen if parse_query(text).optional]


# --- builds


def build_fts(size: str) -> dict[str, float]:
    path = WORK / size / "fts5.sqlite"
    if path.exists() and (WORK / size / "fts5.json").exists():
        return json.loads((WORK / size / "fts5.json").read_text())
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(f"ATTACH '{passages_db(size)}' AS src")
        db.executescript(SCHEMA)
        db.execute("INSERT INTO passages SELECT * FROM src.passages")
        db.commit()
        db.execute("DETACH src")
        started = time.perf_counter()
        db.executescript(FTS)
        db.commit()
        seconds = time.perf_counter() - started
        size_bytes = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'passages_fts%'").fetchone()[0]
    facts = {"build_s": seconds, "index_bytes": float(size_bytes)}
    (WORK / size / "fts5.json").write_text(json.dumps(facts))
    return facts


def build_tantivy(size: str) -> dict[str, float]:
    from minutes.storage.tantivy_index import TantivyWriter

    folder = WORK / size / "tantivy"
    facts_path = WORK / size / "tantivy.json"
    if folder.exists() and facts_path.exists():
        return json.loads(facts_path.read_text())
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    started = time.perf_counter()
    with sqlite3.connect(passages_db(size)) as db, TantivyWriter(folder) as writer:
        for pid, document_id, day, kind, heading, text in db.execute("SELECT * FROM passages ORDER BY id"):
            when = date.fromisoformat(day)
            writer.add(pid, text, heading, COUNCIL, None, document_id, when, when, False, kind)
        writer.commit()
    facts = {"build_s": time.perf_counter() - started, "index_bytes": float(dir_size(folder))}
    facts_path.write_text(json.dumps(facts))
    return facts


# --- the engines' searches


class Fts5:
    def __init__(self, size: str) -> None:
        self.db = sqlite3.connect(f"file:{WORK / size / 'fts5.sqlite'}?mode=ro&immutable=1", uri=True)
        self.passages = self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
        self.counts: dict[str, tuple[int, int]] = {}

    def search(self, query: KeywordQuery, limit: int = TOP) -> list[int]:
        match = match_expression(query)
        if match is None:
            return []
        rows = self.db.execute("SELECT rowid, bm25(passages_fts, 1.0, 0.3) s FROM passages_fts "
                               "WHERE passages_fts MATCH ? ORDER BY s LIMIT ?", [match, limit])
        return [row[0] for row in rows]

    def count(self, word: str, cap: int) -> int:
        count, counted_to = self.counts.get(word, (None, 0))
        if count is None or cap >= count > counted_to:
            count = self.db.execute("SELECT count(*) FROM (SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? "
                                    "LIMIT ?)", [f'"{word}"', cap + 1]).fetchone()[0]
            self.counts[word] = (count, cap)
        return count

    def pruned(self, query: KeywordQuery) -> KeywordQuery:
        """Minutes' `Searcher._pruned` before tantivy (share 0.05, budget 40,000 postings)."""
        if query.required or len(query.optional) < 2:
            return query
        cap = int(PRUNE_SHARE * self.passages)
        if cap < PRUNE_MIN_PASSAGES:
            return query
        counts = {word: self.count(word, cap) for word in query.optional}
        keep = [w for w in query.optional if counts[w] <= cap] or [min(query.optional, key=counts.__getitem__)]
        total, within = 0, set[str]()
        for word in sorted(keep, key=counts.__getitem__):
            total += counts[word]
            if within and total > POSTINGS:
                break
            within.add(word)
        return replace(query, optional=tuple(w for w in keep if w in within))


def open_engines(size: str) -> dict[str, object]:
    from minutes.storage.tantivy_index import open_keyword_index

    fts = Fts5(size)
    keyword = open_keyword_index(WORK / size / "tantivy")
    candidates = random.Random(1).sample(range(fts.passages), 100)
    filters = Filters()
    return {
        "fts5 exact": lambda q: fts.search(q),
        "fts5 pruned": lambda q: fts.search(fts.pruned(q)),
        "tantivy": lambda q: [pid for pid, _ in keyword.search(q, filters, TOP).ranked],
        "tantivy + score_also": lambda q: [pid for pid, _ in
                                           keyword.search(q, filters, TOP, score_also=candidates).ranked],
    }


def run(size: str, rounds: int) -> dict[str, dict[str, float]]:
    engines = open_engines(size)
    asked = questions()
    names = list(engines)
    times: dict[str, list[list[float]]] = {name: [[] for _ in asked] for name in names}
    results: dict[str, list[list[int]]] = {name: [[] for _ in asked] for name in names}
    for round_ in range(rounds):
        for i, (_, query) in enumerate(asked):
            shift = (i + round_) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.process_time()
                found = engines[name](query)  # type: ignore[operator]
                times[name][i].append(time.process_time() - started)
                results[name][i] = found
        print(f"{size}: round {round_ + 1}/{rounds} done", flush=True)
    exact = results["fts5 exact"]
    out: dict[str, dict[str, float]] = {}
    for name in names:
        per_query = [statistics.median(t) * 1000 for t in times[name]]
        recall = statistics.mean(len(set(found[:10]) & set(truth[:10])) / min(10, len(truth))
                                 for found, truth in zip(results[name], exact, strict=True) if truth)
        out[name] = percentiles(per_query) | {"top10_vs_exact": recall}
    return out


def rss(size: str, engine: str) -> dict[str, float]:
    """VmRSS of a fresh process before opening `engine` and after running every question once."""
    result = subprocess.run([sys.executable, __file__, "--rss-of", size, engine], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_rss(size: str, engine: str) -> None:
    from bench.common import rss_bytes

    before = rss_bytes()
    search = open_engines(size)[engine]
    for _, query in questions():
        search(query)  # type: ignore[operator]
    print(json.dumps({"before_mb": before / 2**20, "after_mb": rss_bytes() / 2**20}))


class StandInVectors:
    """MiniLM's identity (so the server loads the real model for queries) with a seeded random unit
    vector per passage: the whole search's cost without hours of embedding on 2 cores. Relevance
    of such an index means nothing; its CPU per search is what bench/load.py measures."""

    name, dimension, floor = "minilm", 384, 0.30

    def encode(self, texts: list[str], batch_size: int = 64):  # type: ignore[no-untyped-def]
        import hashlib

        import numpy as np

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
            out[i] = vector / np.linalg.norm(vector)
        return out


def serve_index(size: str) -> Path:
    """`.bench/keyword/<size>/index`: a real build (tantivy keywords, FAISS) of the first Record
    issues that give about `size` passages (past the Record's end, issues again as copies, as in
    `passages_db`), with stand-in passage vectors; for bench/load.py and `--stages`."""
    from minutes.build import build_index

    index_dir = WORK / size / "index"
    corpus = WORK / size / "issues"
    if not corpus.exists():
        corpus.mkdir(parents=True)
        total, wanted, copy = 0, SIZES[size], 0
        with sqlite3.connect(passages_db(size)) as db:
            counts = dict(db.execute("SELECT document_id, count(*) FROM passages GROUP BY document_id"))
        while total < wanted:
            folder = corpus / f"copy{copy}" if copy else corpus
            folder.mkdir(exist_ok=True)
            for issue in cleveland_paths():
                total += counts.get(f"cleveland-{issue.stem}" + (f"-copy{copy}" if copy else ""), 0)
                if copy:  # a copy must differ in its bytes: the build indexes identical files once
                    (folder / f"{issue.stem}.txt").write_bytes(issue.read_bytes() + f"\n\n(copy {copy})\n".encode())
                else:  # a hard link: the folder walk refuses symbolic links that leave the folder
                    os.link(issue, folder / f"{issue.stem}.txt")
                if total >= wanted:
                    break
            copy += 1
    report = build_index([corpus], index_dir, StandInVectors())  # type: ignore[arg-type]
    print(f"{index_dir}: {report.passages} passages, {report.seconds:.0f}s", flush=True)
    return index_dir


def stages(size: str, rounds: int = 3) -> dict[str, dict[str, float]]:
    """CPU per whole hybrid search on the `--serve-index` build, in process, one thread and the
    ONNX query model (as the server): with the query embedding, without it (embedded beforehand),
    the query embedding alone on ONNX Runtime and on torch, and the keyword call alone; medians
    over rounds, percentiles over the questions."""
    import torch

    from minutes.embed import load_embedder, query_encoder
    from minutes.search.hybrid import Searcher
    from minutes.storage import open_index

    torch.set_num_threads(1)
    searcher = Searcher(open_index(WORK / size / "index"), load_embedder("minilm", threads=1, onnx_queries=True))
    on_torch = load_embedder("minilm", threads=1)
    asked = [text for text, _ in questions()]
    prepared = [searcher.prepare(text) for text in asked]
    for query in prepared:
        query.vector  # noqa: B018  (embedded now, outside the timing)
    steps = {
        "whole search (embedding included)": lambda i: searcher.search(asked[i], 10),
        "whole search, query embedded beforehand": lambda i: searcher.search(prepared[i], 10),
        "query embedding alone (ONNX Runtime, as the server)": lambda i: query_encoder(searcher.embedder)([asked[i]]),
        "query embedding alone (torch)": lambda i: query_encoder(on_torch)([asked[i]]),
        "keyword call alone (tantivy, top 100)": lambda i: searcher.index.keyword.search(
            prepared[i].parsed, Filters(), 100),
    }
    times: dict[str, list[list[float]]] = {name: [[] for _ in asked] for name in steps}
    for _ in range(rounds):
        for i in range(len(asked)):
            for name, step in steps.items():
                started = time.process_time()
                step(i)
                times[name][i].append(time.process_time() - started)
    return {name: percentiles([statistics.median(t) * 1000 for t in per]) for name, per in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,1m")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rss-of", nargs=2, metavar=("SIZE", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--stages", metavar="SIZE", help="only time the whole search on the --serve-index build")
    parser.add_argument("--serve-index", metavar="SIZE",
                        help="only build a whole index of SIZE passages (stand-in vectors) for bench/load.py")
    args = parser.parse_args()
    if args.rss_of:
        return measure_rss(*args.rss_of)
    if args.serve_index:
        serve_index(args.serve_index)
        return None
    if args.stages:
        figures = stages(args.stages)
        print(f"\n### whole search at {args.stages} ({machine()})\n")
        print("| step | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|")
        for name, f in figures.items():
            print(f"| {name} | {f['p50']:.1f} | {f['p95']:.1f} | {f['p99']:.1f} |")
        return None
    report: dict[str, object] = {"machine": machine(), "command": " ".join(sys.argv)}
    for size in args.sizes.split(","):
        passages_db(size)
        builds = {"fts5": build_fts(size), "tantivy": build_tantivy(size)}
        print(f"{size}: builds {builds}", flush=True)
        figures = run(size, args.rounds)
        memory = {name: rss(size, name) for name in ("fts5 exact", "tantivy")}
        report[size] = {"builds": builds, "queries": figures, "rss": memory, "machine": machine()}
        print(f"\n### {size} passages ({machine()})\n")
        print("| engine | p50 ms | p95 ms | p99 ms | top-10 = exact FTS5 | build s | index MB | RSS MB (base) |")
        print("|---|---|---|---|---|---|---|---|")
        for name, f in figures.items():
            build = builds["fts5" if name.startswith("fts5") else "tantivy"]
            mem = memory.get(name)
            print(f"| {name} | {f['p50']:.1f} | {f['p95']:.1f} | {f['p99']:.1f} | {f['top10_vs_exact']:.3f} | "
                  f"{build['build_s']:.0f} | {build['index_bytes'] / 2**20:.0f} | "
                  + (f"{mem['after_mb']:.0f} ({mem['before_mb']:.0f}) |" if mem else "|"), flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
