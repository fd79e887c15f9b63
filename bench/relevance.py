"""Relevance benchmark: Minutes' hybrid search against keyword-only, semantic-only and plain RRF.

One command (from the repository root; the first run embeds the 9,311 passages, tens of
minutes on 2 busy CPU cores; later runs reuse the vector cache and take about 10 minutes):

    .venv/bin/python -m bench.relevance                 # prints the markdown tables
    .venv/bin/python -m bench.relevance --json out.json # and writes every figure as JSON

Setups (indexes are built with the library, `minutes.build.build_index`, into `.bench/`,
which git ignores; a rebuild happens only when the chunker, the embedding text or the sources
change, and the vector cache is shared by all of them):

1. `distractors`: the seed corpus (`corpus/`) plus all 162 QMSum train meetings as distractors,
   scored on `../shared/eval/seeds-dev.jsonl`.
2. `qmsum`: the QMSum train meetings alone, scored on `../shared/eval/qmsum-train.jsonl`, across
   the corpus and restricted to each question's document; committee meetings
   (`qmsum-education_*`, `qmsum-covid_*`) and the other meetings reported apart, and again for
   the held-out meetings alone (a fixed third of the meetings, chosen by a hash of their id,
   that tuning never looked at: see `held_out`).

Rows are the search modes of `minutes.search.hybrid.Tuning` (the same code path as `minutes search`
and the web page): `keyword`, `semantic`, `rrf` (plain RRF, k = 60, equal weights) and `hybrid`
(Minutes' final method, the default). Columns: Hit@10, MRR@10, QuoteRecall@10 scored by
`minutes.evaluate` (which agrees with `../shared/tools/eval_score.py`), and the median latency
of one search including the query embedding, timed on a sample of questions with the model at
one thread, as the server runs it.

The relevance floor is measured on an index of the seed corpus alone (`.bench/seeds`): the
share of the off-topic queries in `bench/offtopic.txt` answered "no results", and Hit@10 on
seeds-dev with the floor and with it switched off.

Learned methods (issue 16; trained by `bench/train.py` on the training meetings only) get
rows of their own beside these: `adapter` (the final method with the query adapter of
`minilm-tuned`), `fusion` (the adapter and the learned fusion of `minutes.search.learned`,
with the final method's cosine floor) and `learned` (the adapter, the learned fusion and the
learned floor). `committee` is the final method with `minilm-committee`, the model fine-tuned
by bench/finetune.py, on indexes of its own (`.bench/relevance/NAME-committee`: the first run
embeds the passages again with it). `--methods ''` leaves them out.

`--set name=value` overrides a field of the final method's `Tuning` (for experiments; tune
only with `--split dev`). `--setups` and `--modes` run a subset.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from minutes import chunk, embed
from minutes.build import build_index
from minutes.embed import ADAPTER_PATH, Embedder, QueryAdapter, load_embedder
from minutes.evaluate import Question, load_questions, score
from minutes.records import Filters
from minutes.search.hybrid import MODES, Searcher, Tuning
from minutes.search.learned import FUSION_PATH, LearnedModels, load_models
from minutes.storage import current_build, open_index
from tests.support.embedders import CachedEmbedder

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
BENCH = ROOT / ".bench" / "relevance"
QMSUM_CORPUS = BENCH / "qmsum-corpus"
OFFTOPIC = ROOT / "bench" / "offtopic.txt"
K = 10
LATENCY_SAMPLE = 30  # questions per group timed with the real, uncached query embedding
METHODS = ("adapter", "fusion", "learned", "committee")  # learned rows (issue 16), beside the Tuning modes
MINE = ("hybrid", *METHODS)  # Minutes' own rows; the others are baselines


def held_out(document_id: str) -> bool:
    """A fixed third of the QMSum meetings, never used for tuning."""
    return hashlib.sha256(document_id.encode()).digest()[0] % 3 == 0


def ensure_qmsum_corpus() -> None:
    if QMSUM_CORPUS.exists() and len(list(QMSUM_CORPUS.glob("*.md"))) >= 162:
        return
    subprocess.run([sys.executable, str(SHARED / "tools" / "qmsum_to_corpus.py"),
                    str(SHARED / "data" / "qmsum" / "train"), str(QMSUM_CORPUS)], check=True)


def _build_key(paths: list[Path], model: str) -> str:
    """What the index depends on: chunker, embedding text, model and the source files."""
    digest = hashlib.sha256()
    digest.update(inspect.getsource(chunk).encode())
    digest.update(inspect.getsource(embed.embedding_text).encode())
    digest.update(f"{model} {chunk.TARGET_WORDS} {chunk.MAX_WORDS} {KEYWORD}".encode())
    for path in paths:
        for file in sorted(Path(path).rglob("*")) if Path(path).is_dir() else [Path(path)]:
            if file.is_file():
                digest.update(f"{file.relative_to(path.parent)}:{file.stat().st_size}".encode())
    return digest.hexdigest()


KEYWORD = "tantivy"  # the keyword engine of the builds (--keyword fts5: as Minutes searched before tantivy)


def ensure_index(name: str, paths: list[Path], embedder: Embedder) -> Path:
    """Build `.bench/NAME` from `paths` unless an up-to-date build is there; all share one cache."""
    from minutes.storage.sqlite_faiss import SqliteFaissBackend

    index_dir = BENCH / (name if KEYWORD == "tantivy" else f"{name}-{KEYWORD}")
    index_dir.mkdir(parents=True, exist_ok=True)
    shared_cache = BENCH / "cache.sqlite"
    cache = index_dir / "cache.sqlite"
    if not cache.is_symlink():
        if cache.exists() and not shared_cache.exists():  # adopt a cache built before the link
            conn = sqlite3.connect(cache)
            conn.execute("PRAGMA journal_mode=DELETE")  # folds the write-ahead log into the file
            conn.close()
            cache.rename(shared_cache)
        cache.unlink(missing_ok=True)
        cache.symlink_to(Path("..") / "cache.sqlite")
    key = _build_key(paths, embedder.name)
    stamp = index_dir / "build-key"
    if current_build(index_dir) and stamp.exists() and stamp.read_text() == key:
        return index_dir
    print(f"building {index_dir} ...", file=sys.stderr)
    report = build_index(paths, index_dir, embedder, backend=SqliteFaissBackend(index_dir, keyword=KEYWORD))
    print(f"  {report.documents} documents, {report.passages} passages, {report.embedded} embedded, "
          f"{report.reused} reused, {report.seconds:.0f}s", file=sys.stderr)
    stamp.write_text(key)
    return index_dir


def run_group(searcher: Searcher, questions: list[Question], tuning: Tuning, scoped: bool
              ) -> dict[str, float | int]:
    runs = {}
    for q in questions:
        filters = Filters(document=q.document if scoped else None)
        runs[q.id] = [h.passage.text for h in searcher.search(q.question, K, filters, tuning=tuning).hits]
    return score(questions, runs, K).as_dict(K)


def median_latency_ms(searcher: Searcher, questions: list[Question], tuning: Tuning, scoped: bool) -> float:
    timings = []
    for q in questions[:LATENCY_SAMPLE]:
        filters = Filters(document=q.document if scoped else None)
        started = time.perf_counter()
        searcher.search(q.question, K, filters, tuning=tuning)
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1) if timings else 0.0


def parse_overrides(pairs: list[str]) -> dict[str, object]:
    fields = {f.name: f for f in dataclasses.fields(Tuning)}
    overrides: dict[str, object] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"--set: Tuning has no field '{name}'; fields: {', '.join(fields)}")
        default = getattr(Tuning(), name)
        overrides[name] = value if isinstance(default, str) else (None if value == "None" else float(value))
        if isinstance(default, int) and not isinstance(default, bool) and overrides[name] is not None:
            overrides[name] = int(float(value))
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", default="distractors,qmsum,floor")
    parser.add_argument("--modes", default=",".join(reversed(MODES)))
    parser.add_argument("--subsets", help="QMSum question groups to score, e.g. 'held-out committee' (default: all)")
    parser.add_argument("--methods", default=",".join(METHODS), help="learned rows (needs bench/train.py's files)")
    parser.add_argument("--split", choices=["all", "dev", "held"], default="all",
                        help="QMSum questions to score: all, the tuning meetings (dev) or the held-out ones")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency sample")
    parser.add_argument("--threads", type=int, default=2, help="torch threads while building indexes")
    parser.add_argument("--json", type=Path, help="write all figures here as JSON")
    parser.add_argument("--keyword", choices=["tantivy", "fts5"], default="tantivy",
                        help="keyword engine of the builds (fts5: with its pruning, as before tantivy)")
    args = parser.parse_args()
    global KEYWORD
    KEYWORD = args.keyword
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    setups, modes = args.setups.split(","), args.modes.split(",")
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"--methods: unknown {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
    adapter, models = learned_files() if set(methods) - {"committee"} else (None, None)
    final = Tuning(**parse_overrides(args.overrides))  # type: ignore[arg-type]
    tunings = {mode: (final if mode == "hybrid" else Tuning(mode=mode)) for mode in modes}

    torch.set_num_threads(args.threads)
    model = load_embedder("minilm")
    ensure_qmsum_corpus()
    index_dirs = {}
    if "qmsum" in setups:
        index_dirs["qmsum"] = ensure_index("qmsum", [QMSUM_CORPUS], model)
    if "distractors" in setups:
        index_dirs["distractors"] = ensure_index("distractors", [ROOT / "corpus", QMSUM_CORPUS], model)
    if "floor" in setups:
        index_dirs["seeds"] = ensure_index("seeds", [ROOT / "corpus"], model)
    tuned = load_embedder("minilm-committee") if "committee" in methods else None
    tuned_dirs = {}
    if tuned is not None:  # the fine-tuned model's own indexes of the same sources
        sources = {"qmsum": [QMSUM_CORPUS], "distractors": [ROOT / "corpus", QMSUM_CORPUS], "seeds": [ROOT / "corpus"]}
        tuned_dirs = {name: ensure_index(f"{name}-committee", sources[name], tuned) for name in index_dirs}
    torch.set_num_threads(1)  # queries run as the server runs them

    seeds = load_questions([SHARED / "eval" / "seeds-dev.jsonl"])
    qmsum = load_questions([SHARED / "eval" / "qmsum-train.jsonl"])
    if args.split != "all":
        qmsum = [q for q in qmsum if held_out(q.document or "") == (args.split == "held")]
    committee = [q for q in qmsum if (q.document or "").startswith(("qmsum-education_", "qmsum-covid_"))]
    other = [q for q in qmsum if q not in committee]
    held = [q for q in qmsum if held_out(q.document or "")] if args.split == "all" else []

    cached = CachedEmbedder(model)
    cached.warm([q.question for q in seeds + qmsum])
    tuned_cached = CachedEmbedder(tuned) if tuned is not None else None
    if tuned_cached is not None:
        tuned_cached.warm([q.question for q in seeds + qmsum])
    groups: list[tuple[str, str, str, list[Question], bool]] = []  # setup, subset, scope, questions, scoped
    if "distractors" in setups:
        groups.append(("distractors", "seeds-dev", "corpus", seeds, False))
    if "qmsum" in setups:
        for subset, chosen in (("committee", committee), ("other", other),
                               ("held-out committee", [q for q in held if q in committee]),
                               ("held-out other", [q for q in held if q in other])):
            if chosen and (args.subsets is None or subset in args.subsets.split(",")):
                for scope, scoped in (("corpus", False), ("document", True)):
                    groups.append(("qmsum", subset, scope, chosen, scoped))

    rows = []
    for setup, subset, scope, questions, scoped in groups:
        index = open_index(index_dirs[setup])
        searchers = {mode: (Searcher(index, cached), Searcher(index, model), tunings[mode]) for mode in modes}
        searchers.update({m: method_searchers(m, index, cached, model, adapter, models, final)
                          for m in methods if m != "committee"})
        if tuned is not None and tuned_cached is not None:
            tuned_index = open_index(tuned_dirs[setup])
            searchers["committee"] = (Searcher(tuned_index, tuned_cached), Searcher(tuned_index, tuned), final)
        for mode, (searcher, timed, tuning) in searchers.items():
            figures = run_group(searcher, questions, tuning, scoped)
            latency = None if args.no_latency or subset.startswith("held") else \
                median_latency_ms(timed, questions, tuning, scoped)
            rows.append({"setup": setup, "questions": subset, "scope": scope, "mode": mode, **figures,
                         "median_ms": latency})
            print(f"{setup:11} {subset:18} {scope:8} {mode:8} " + "  ".join(
                f"{k}={v}" for k, v in figures.items()) + f"  median_ms={latency}", file=sys.stderr)

    floor_rows = floor_figures(index_dirs, model, cached, seeds, final, [m for m in methods if m != "committee"],
                               adapter, models) if "floor" in setups else []
    if tuned_cached is not None and "floor" in setups:
        floor_rows += [dict(row, method="committee") for row in floor_figures(tuned_dirs, tuned_cached, tuned_cached,
                                                                              seeds, final)]
    print(render(rows, floor_rows, final, args))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "floor": floor_rows,
                                         "tuning": dataclasses.asdict(final)}, indent=2))


def learned_files() -> tuple[QueryAdapter, LearnedModels]:
    """The shipped query adapter and learned fusion/floor; a clear stop when they are absent."""
    missing = [str(p.relative_to(ROOT)) for p in (ADAPTER_PATH, FUSION_PATH) if not p.exists()]
    if missing:
        raise SystemExit(f"{', '.join(missing)} missing: run bench/train.py first (or --methods '')")
    return QueryAdapter.load(ADAPTER_PATH), load_models(FUSION_PATH)


def method_searchers(method: str, index, cached: CachedEmbedder, model: Embedder,  # type: ignore[no-untyped-def]
                     adapter: QueryAdapter | None, models: LearnedModels | None, final: Tuning,
                     use_floor: bool = True) -> tuple[Searcher, Searcher, Tuning]:
    """(searcher on cached query vectors, timed searcher on the real model, tuning) for a learned row."""
    from bench.learned_search import Adapted

    if method == "adapter":
        return Searcher(index, Adapted(cached, adapter)), Searcher(index, Adapted(model, adapter)), final
    if models is not None and (not use_floor or method == "fusion"):
        models = dataclasses.replace(models, floor=None)  # the cosine floor of the final method
    return (Searcher(index, Adapted(cached, adapter), models=models),
            Searcher(index, Adapted(model, adapter), models=models), dataclasses.replace(final, fusion="learned"))


def floor_figures(index_dirs: dict[str, Path], model: Embedder, cached: CachedEmbedder,
                  seeds: list[Question], final: Tuning, methods: list[str] = (),  # type: ignore[assignment]
                  adapter: QueryAdapter | None = None, models: LearnedModels | None = None
                  ) -> list[dict[str, object]]:
    """Off-topic queries answered "no results", and Hit@10 on seeds-dev with and without the floor."""
    offtopic = [line.strip() for line in OFFTOPIC.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    cached.warm(offtopic)
    rows: list[dict[str, object]] = []
    for name in ("seeds", "distractors"):
        if name not in index_dirs:
            continue
        index = open_index(index_dirs[name])
        searchers = [("hybrid", Searcher(index, cached), Searcher(index, cached), final)]
        for method in methods:
            searcher, _, tuning = method_searchers(method, index, cached, model, adapter, models, final)
            unfloored = method_searchers(method, index, cached, model, adapter, models, final, False)[0]
            searchers.append((method, searcher, unfloored, tuning))
        for method, searcher, unfloored, tuning in searchers:
            empty = sum(1 for q in offtopic if not searcher.search(q, K, tuning=tuning).hits)
            with_floor = run_group(searcher, seeds, tuning, False)
            without = run_group(unfloored, seeds, dataclasses.replace(tuning, floor=-1.0), False)
            rows.append({"index": name, "method": method, "offtopic": len(offtopic), "no_results": empty,
                         "share": round(empty / len(offtopic), 3), "hit_with_floor": with_floor[f"hit@{K}"],
                         "hit_without_floor": without[f"hit@{K}"], "mrr_with_floor": with_floor[f"mrr@{K}"],
                         "mrr_without_floor": without[f"mrr@{K}"]})
    return rows


def render(rows: list[dict[str, object]], floor_rows: list[dict[str, object]], final: Tuning,
           args: argparse.Namespace) -> str:
    out = [f"_{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `{' '.join(['python -m bench.relevance', *sys.argv[1:]])}`; "
           f"final method: `{final}`_", "",
           "| setup | questions | scope | n | method | Hit@10 | MRR@10 | QuoteRecall@10 | median ms |",
           "|---|---|---|---|---|---|---|---|---|"]
    names = {"keyword": "keyword only (bm25)", "semantic": "semantic only (cosine)",
             "rrf": "plain RRF (k=60)", "hybrid": "**Minutes (hybrid)**",
             "adapter": "**hybrid + query adapter**", "fusion": "**adapter + learned fusion**",
             "learned": "**adapter + learned fusion + learned floor**",
             "committee": "**hybrid with minilm-committee (fine-tuned)**"}
    for r in rows:
        ms = "" if r["median_ms"] is None else r["median_ms"]
        out.append(f"| {r['setup']} | {r['questions']} | {r['scope']} | {r['n']} | {names[str(r['mode'])]} | "
                   f"{r[f'hit@{K}']:.3f} | {r[f'mrr@{K}']:.3f} | {r[f'quote_recall@{K}']:.3f} | {ms} |")
    # The target: the final method against the best baseline row of each group, in MRR@10.
    out += ["", "| setup | questions | scope | best baseline | its MRR@10 | method | its MRR@10 | relative gain |",
            "|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple[object, ...], list[dict[str, object]]] = {}
    for r in rows:
        groups.setdefault((r["setup"], r["questions"], r["scope"]), []).append(r)
    for (setup, subset, scope), members in groups.items():
        mine = [r for r in members if r["mode"] in MINE]
        baselines = [r for r in members if r["mode"] not in MINE]
        if not mine or not baselines:
            continue
        best = max(baselines, key=lambda r: float(r[f"mrr@{K}"]))  # type: ignore[arg-type]
        b = float(best[f"mrr@{K}"])  # type: ignore[arg-type]
        for row in mine:
            m = float(row[f"mrr@{K}"])  # type: ignore[arg-type]
            gain = f"{(m - b) / b * 100:+.1f}%" if b else "n/a"
            out.append(f"| {setup} | {subset} | {scope} | {best['mode']} | {b:.3f} | {row['mode']} | {m:.3f} "
                       f"| {gain} |")
    if floor_rows:
        out += ["", "| index | method | off-topic queries | answered \"no results\" | seeds-dev Hit@10 with floor | "
                "without floor | MRR@10 with floor | without floor |", "|---|---|---|---|---|---|---|---|"]
        for f in floor_rows:
            out.append(f"| {f['index']} | {f['method']} | {f['offtopic']} | {f['no_results']} "  # type: ignore[arg-type]
                       f"({float(f['share']):.0%}) | "  # type: ignore[arg-type]
                       f"{f['hit_with_floor']} | {f['hit_without_floor']} | {f['mrr_with_floor']} | "
                       f"{f['mrr_without_floor']} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
