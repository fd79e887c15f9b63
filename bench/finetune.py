"""Experiment: fine-tune all-MiniLM-L6-v2 itself on the training meetings, time-boxed, on the CPU.

    .venv/bin/python bench/finetune.py [--pairs 600] [--minutes 25]

MultipleNegativesRankingLoss (sentence-transformers) over (question, gold passage, hard
negative) triples: the QMSum questions of the training meetings (never the held-out third),
each gold passage as the model embeds it (`embedding_text`), and as hard negative the best
passage of the same meeting that Minutes' hybrid search ranks above the gold one and that
holds no gold quote. Then the held-out committee meetings are indexed with the tuned model
and scored within their documents (document scope needs only the meeting's own passages),
beside the same index built with the packaged model. Writes `.bench/relevance/finetune.json`;
the weights stay in `.bench/` (an experiment, not shipped: docs/benchmarks.md says why).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from relevance import BENCH, QMSUM_CORPUS, CachedEmbedder, ensure_index, held_out, run_group  # noqa: E402
from train import SEED, gold_ids, passage_table, subset_index, training_questions  # noqa: E402

from minutes.embed import SentenceTransformerEmbedder, embedding_text, load_embedder  # noqa: E402
from minutes.evaluate import load_questions  # noqa: E402
from minutes.records import Filters  # noqa: E402
from minutes.search.hybrid import Searcher, Tuning  # noqa: E402
from minutes.storage.sqlite_faiss.store import INFO_COLUMNS, open_index, row_to_info, row_to_passage  # noqa: E402

COMMITTEE = ("qmsum-education_", "qmsum-covid_")


def triples(index, questions, searcher: Searcher, limit: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    _, docs, texts = passage_table(index)
    by_doc: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        by_doc.setdefault(d, []).append(i)
    rows = {r["id"]: r for r in index.sql(
        "SELECT p.id, p.ordinal, p.char_start, p.char_end, p.kind, p.text, p.heading, p.page, "
        f"{INFO_COLUMNS} FROM passages p JOIN documents d ON d.doc = p.doc")}

    def embedded(pid: int) -> str:
        return embedding_text(row_to_passage(rows[pid]), row_to_info(rows[pid]))

    out = []
    rng = random.Random(SEED)
    questions = list(questions)
    rng.shuffle(questions)
    for q in questions:
        gold = gold_ids(q, docs, texts, by_doc)
        if not gold:
            continue
        hits = searcher.search(q.question, 20, Filters(document=q.document)).hits
        ranked = [int(r[0]) for h in hits for r in index.sql(
            "SELECT p.id FROM passages p JOIN documents d ON d.doc = p.doc WHERE d.document_id = ? AND p.ordinal = ?",
            [h.passage.document_id, h.passage.ordinal])]
        negatives = [pid for pid in ranked if pid not in gold]
        if not negatives:
            continue
        out.append((q.question, embedded(rng.choice(gold)), embedded(negatives[0])))
        if len(out) >= limit:
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--minutes", type=float, default=25.0, help="stop training after this long")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    base = load_embedder("minilm")
    index = open_index(ensure_index("qmsum", [QMSUM_CORPUS], base))
    cached = CachedEmbedder(base)
    questions = training_questions()
    cached.warm([q.question for q in questions])
    data = triples(index, [q for q in questions if q.document and q.document.startswith(COMMITTEE)] +
                   [q for q in questions if q.document and not q.document.startswith(COMMITTEE)],
                   Searcher(index, cached), args.pairs)
    log: dict = {"pairs": len(data), "threads": args.threads, "batch": args.batch}

    tuned = SentenceTransformerEmbedder()
    model = tuned._model
    model.train()
    loss_fn = MultipleNegativesRankingLoss(model)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-5)
    started, seen = time.perf_counter(), 0
    for start in range(0, len(data), args.batch):
        batch = data[start:start + args.batch]
        features = [model.tokenize([t[i] for t in batch]) for i in range(3)]
        loss = loss_fn(features, None)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        seen += len(batch)
        elapsed = (time.perf_counter() - started) / 60
        print(f"{seen} pairs, loss {float(loss):.3f}, {elapsed:.1f} min", file=sys.stderr, flush=True)
        if elapsed > args.minutes:
            break
    model.eval()
    log["trained_pairs"] = seen
    log["train_minutes"] = round((time.perf_counter() - started) / 60, 2)
    log["minutes_per_1000_pairs"] = round(log["train_minutes"] / seen * 1000, 1)
    tuned.name = "minilm-finetuned"
    model.save(str(BENCH / "minilm-finetuned"))

    # Held-out committee meetings, scored within their documents, packaged model against tuned.
    held = sorted({p.stem for p in QMSUM_CORPUS.glob("*.md") if p.stem.startswith(COMMITTEE) and held_out(p.stem)})
    from relevance import SHARED

    asked = [q for q in load_questions([SHARED / "eval" / "qmsum-train.jsonl"]) if q.document in held]
    for name, embedder in (("packaged", base), ("finetuned", tuned)):
        started = time.perf_counter()
        sub = open_index(subset_index(f"held-committee-{name}", held, embedder))
        log[f"{name}_index_s"] = round(time.perf_counter() - started, 1)
        query_side = CachedEmbedder(embedder)
        for mode in ("semantic", "hybrid"):
            log[f"{name}_{mode}"] = run_group(Searcher(sub, query_side), asked, Tuning(mode=mode), True)
    (BENCH / "finetune.json").write_text(json.dumps(log, indent=2))
    print(json.dumps(log, indent=2))


if __name__ == "__main__":
    main()
