"""Train the shipped relevance models from the QMSum train meetings that tuning may see.

One command, seeded (from the repository root; needs the indexes of bench/relevance.py,
which it builds when absent):

    .venv/bin/python -m bench.train            # writes minutes/models/query-adapter.npy, fusion.json
                                              # and .bench/relevance/train.json (the figures)
    .venv/bin/python -m bench.train --finetune # fine-tunes MiniLM itself: minutes/models/minilm-committee/
                                              # (bench/finetune.py, its options after --finetune)

What it trains (docs/benchmarks.md, "Learned relevance"):

1. A query adapter: a 384x384 matrix applied to the query vector before the cosine search
   (passage vectors and indexes unchanged), trained with a softmax over every passage of the
   training meetings (each question's gold passages against all others: the hardest
   negatives there are), across the corpus and within the question's meeting, pulled
   towards the identity. Pairs: the QMSum questions of the training meetings and their
   gold passages, and each meeting's topic list (topic -> the turns it spans).
2. Learned fusion: a linear scorer over the candidate features of `minutes.search.learned`,
   trained listwise (softmax over each search's candidates) on the same questions, with
   the adapter in place.
3. A learned floor: a logistic regression over per-search features, trained on questions
   asked of indexes that hold their meeting (answerable) and of indexes that do not.

Never trained on: the held-out third of the meetings (`bench/relevance.py:held_out`), the
seed questions, `bench/offtopic.txt`. Epochs and thresholds are chosen on a validation fifth
of the training meetings (`inner_val`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.learned_search import Adapted
from bench.relevance import (
    BENCH,
    QMSUM_CORPUS,
    SHARED,
    ensure_index,
    ensure_qmsum_corpus,
    held_out,
)
from minutes.embed import ADAPTER_PATH, QueryAdapter, load_embedder
from minutes.evaluate import Question, load_questions, normalise
from minutes.records import Filters
from minutes.search.hybrid import Searcher, Tuning
from minutes.search.learned import (
    CANDIDATE_FEATURES,
    FUSION_PATH,
    FloorModel,
    LearnedModels,
    LinearScorer,
)
from minutes.storage import open_index
from tests.support.embedders import CachedEmbedder

SEED = 16
COMMITTEE = ("qmsum-education_", "qmsum-covid_")


def inner_val(document_id: str) -> bool:
    """A fifth of the training meetings, kept back to choose epochs and thresholds."""
    return hashlib.sha256(f"{document_id}:val".encode()).digest()[0] % 5 == 0


def training_questions() -> list[Question]:
    questions = load_questions([SHARED / "eval" / "qmsum-train.jsonl"])
    return [q for q in questions if q.document and not held_out(q.document)]


def topic_questions() -> list[tuple[Question, list[str]]]:
    """Each training meeting's topics as questions; gold = the first words of the turns they span."""
    out = []
    for path in sorted((SHARED / "data" / "qmsum" / "train").glob("*.json")):
        document = f"qmsum-{path.stem}"
        if held_out(document):
            continue
        meeting = json.loads(path.read_text())
        turns = meeting["meeting_transcripts"]
        for n, topic in enumerate(meeting["topic_list"]):
            quotes = []
            for start, end in topic["relevant_text_span"]:
                for turn in turns[int(start):int(end) + 1]:
                    words = turn["content"].split()
                    if len(words) >= 8:
                        quotes.append(" ".join(words[:12]))
            if quotes:
                out.append((Question(f"{document}-topic-{n}", topic["topic"], tuple(quotes), document), quotes))
    return out


def passage_table(index) -> tuple[np.ndarray, list[str], list[str]]:  # type: ignore[no-untyped-def]
    """(vectors, document id, normalised text) of every passage, by passage id (the local backend)."""
    rows = index.sql("SELECT p.id, d.document_id, p.text FROM passages p JOIN documents d ON d.doc = p.doc "
                     "ORDER BY p.id")
    assert [r[0] for r in rows] == list(range(len(rows))), "passage ids are not the vector rows"
    vectors = index.vectors.vectors(list(range(len(rows))))
    return vectors, [r[1] for r in rows], [normalise(r[2]) for r in rows]


def gold_ids(question: Question, documents: list[str], texts: list[str], by_doc: dict[str, list[int]]) -> list[int]:
    quotes = [normalise(q) for q in question.relevant]
    return [i for i in by_doc.get(question.document or "", []) if any(q in texts[i] for q in quotes)]


# --- 1. the query adapter -------------------------------------------------------------

def train_adapter(queries: np.ndarray, gold: list[list[int]], docs: list[str], passages: np.ndarray,
                  passage_docs: list[str], train_rows: list[int], val_rows: list[int],
                  epochs: int, temperature: float, pull: float, log: dict) -> np.ndarray:
    import torch

    torch.manual_seed(SEED)
    train_passages = sorted({i for i, d in enumerate(passage_docs) if d in {docs[r] for r in train_rows}})
    P = torch.from_numpy(passages.astype(np.float32))
    Q = torch.from_numpy(queries.astype(np.float32))
    W = torch.nn.Parameter(torch.eye(passages.shape[1]))
    opt = torch.optim.Adam([W], lr=2e-3)
    doc_rows: dict[str, list[int]] = {}
    for i, d in enumerate(passage_docs):
        doc_rows.setdefault(d, []).append(i)
    position = {pid: n for n, pid in enumerate(train_passages)}
    P_train = P[train_passages]

    def loss_of(rows: list[int]) -> torch.Tensor:
        q = torch.nn.functional.normalize(Q[rows] @ W.T, dim=-1)
        scores = q @ P_train.T / temperature
        total = torch.zeros(())
        for n, r in enumerate(rows):
            pos = torch.tensor([position[p] for p in gold[r]])
            within = torch.tensor([position[p] for p in doc_rows[docs[r]]])
            s = scores[n]
            total = total + (torch.logsumexp(s, 0) - torch.logsumexp(s[pos], 0))
            total = total + (torch.logsumexp(s[within], 0) - torch.logsumexp(s[pos], 0))
        return total / len(rows) + pull * ((W - torch.eye(W.shape[0])) ** 2).sum()

    def val_mrr(matrix: np.ndarray) -> tuple[float, float]:
        q = queries[val_rows] @ matrix.T
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        corpus, within = [], []
        for n, r in enumerate(val_rows):
            s = passages @ q[n]
            wanted = set(gold[r])
            order = np.argsort(-s)[:10]
            corpus.append(next((1 / (k + 1) for k, i in enumerate(order) if i in wanted), 0.0))
            rows_d = np.array(doc_rows[docs[r]])
            order_d = rows_d[np.argsort(-s[rows_d])[:10]]
            within.append(next((1 / (k + 1) for k, i in enumerate(order_d) if i in wanted), 0.0))
        return float(np.mean(corpus)), float(np.mean(within))

    rng = np.random.default_rng(SEED)
    best = (sum(val_mrr(np.eye(W.shape[0]))), 0, np.eye(W.shape[0], dtype=np.float32))
    log["adapter_val"] = [{"epoch": 0, "mrr_corpus": round(val_mrr(best[2])[0], 4),
                           "mrr_document": round(val_mrr(best[2])[1], 4)}]
    for epoch in range(1, epochs + 1):
        order = rng.permutation(train_rows).tolist()
        for start in range(0, len(order), 64):
            opt.zero_grad()
            loss = loss_of(order[start:start + 64])
            loss.backward()
            opt.step()
        matrix = W.detach().numpy().copy()
        corpus, within = val_mrr(matrix)
        log["adapter_val"].append({"epoch": epoch, "loss": round(float(loss.detach()), 4),
                                   "mrr_corpus": round(corpus, 4), "mrr_document": round(within, 4)})
        print(f"adapter epoch {epoch}: val MRR@10 (cosine alone) corpus {corpus:.4f} document {within:.4f}",
              file=sys.stderr)
        if corpus + within > best[0]:
            best = (corpus + within, epoch, matrix)
    log["adapter_best_epoch"] = best[1]
    return best[2]


# --- 2. learned fusion ------------------------------------------------------------------

@dataclass
class Recorded:
    """One search's candidates as the learned models saw them, with their labels."""

    query: str
    features: np.ndarray
    query_features: np.ndarray
    extra: dict = field(default_factory=dict)


LEARNED = Tuning(fusion="learned")


def sample_of(questions: list[Question], count: int) -> list[Question]:
    """A seeded sample, in the questions' order (searches cost ~0.1-0.7 s each on 2 busy cores)."""
    chosen = np.random.default_rng(SEED).permutation(len(questions))[:count]
    return [questions[i] for i in sorted(chosen)]


def record(searcher: Searcher, questions: list[Question], scoped: bool) -> list[Recorded]:
    """Search each question with the learned fusion of `searcher.models`, keeping its features;
    a candidate's label: it holds a gold quote."""
    out = []
    for n, q in enumerate(questions, 1):
        if n % 200 == 0:
            print(f"  recorded {n} of {len(questions)} searches", file=sys.stderr, flush=True)
        searcher.recorder = []
        searcher.search(q.question, 10, Filters(document=q.document if scoped else None), tuning=LEARNED)
        if searcher.recorder:
            _, scored, query_features = searcher.recorder[-1]
            quotes = [normalise(x) for x in q.relevant]
            labels = np.array([any(x in normalise(c.text) for x in quotes) for c in scored.candidates])
            out.append(Recorded(q.question, scored.features, query_features,
                                {"labels": labels, "document": q.document, "scoped": scoped}))
    searcher.recorder = None
    return out


def _mrr(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")[:10]
    return next((1 / (k + 1) for k, i in enumerate(order) if labels[i]), 0.0)


def train_scorer(train: list[Recorded], val: list[Recorded], epochs: int, l2: float, log: dict) -> LinearScorer:
    """Listwise: softmax over each search's candidates, the gold ones as the target, pulled
    towards today's fusion (the `fused` feature alone) by an L2 term whose weight, like the
    number of L-BFGS steps, is chosen on the validation meetings (MRR@10 over the pool)."""
    import torch

    torch.manual_seed(SEED)
    train = [r for r in train if r.extra["labels"].any()]
    stacked = np.concatenate([r.features for r in train])
    mean, scale = stacked.mean(0), stacked.std(0)
    scale[scale == 0] = 1.0
    X = [torch.from_numpy(((r.features - mean) / scale).astype(np.float64)) for r in train]
    Y = [torch.from_numpy(r.extra["labels"]) for r in train]
    start = np.zeros(len(CANDIDATE_FEATURES))
    start[CANDIDATE_FEATURES.index("fused")] = 1.0

    def val_score(weights: np.ndarray) -> float:
        return float(np.mean([_mrr(((r.features - mean) / scale) @ weights, r.extra["labels"]) for r in val]))

    best = (val_score(start), 0.0, 0, start)
    log["scorer_val"] = [{"l2": None, "steps": 0, "mrr_pool": round(best[0], 4)}]
    for pull in (l2 * 1000, l2 * 100, l2 * 10, l2):
        w0 = torch.from_numpy(start.copy())
        w = w0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([w], lr=0.5, max_iter=10, line_search_fn="strong_wolfe")

        def closure(opt=opt, w=w, w0=w0, pull=pull) -> torch.Tensor:  # type: ignore[no-untyped-def]
            opt.zero_grad()
            loss = torch.zeros((), dtype=torch.float64)
            for x, y in zip(X, Y, strict=True):
                s = x @ w
                loss = loss + torch.logsumexp(s, 0) - torch.logsumexp(s[y], 0)
            loss = loss / len(X) + pull * ((w - w0) ** 2).sum()
            loss.backward()
            return loss

        for step in range(1, max(epochs // 10, 1) + 1):
            opt.step(closure)
            weights = w.detach().numpy().copy()
            score = val_score(weights)
            log["scorer_val"].append({"l2": pull, "steps": step * 10, "mrr_pool": round(score, 4)})
            if score > best[0]:
                best = (score, pull, step * 10, weights)
    log["scorer_best"] = {"l2": best[1], "steps": best[2], "mrr_pool": round(best[0], 4)}
    print(f"scorer: val MRR@10 over the pool {log['scorer_val'][0]['mrr_pool']} -> {best[0]:.4f} "
          f"(l2 {best[1]}, {best[2]} L-BFGS iterations)", file=sys.stderr)
    return LinearScorer(mean, scale, best[3])


# --- 3. the learned floor -----------------------------------------------------------------

def train_floor(positive: list[np.ndarray], negative: list[np.ndarray], keep: float, log: dict) -> FloorModel:
    from sklearn.linear_model import LogisticRegression

    X = np.stack(positive + negative)
    y = np.array([1] * len(positive) + [0] * len(negative))
    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=SEED).fit((X - mean) / scale, y)
    floor = FloorModel(mean, scale, model.coef_[0], float(model.intercept_[0]), 0.5)
    p_pos = np.sort([floor.probability(x) for x in positive])
    threshold = float(p_pos[int((1 - keep) * len(p_pos))])  # keep this share of answerable questions
    p_neg = np.array([floor.probability(x) for x in negative])
    log["floor"] = {"positives": len(positive), "negatives": len(negative), "threshold": round(threshold, 4),
                    "negatives_refused": round(float((p_neg < threshold).mean()), 4)}
    return FloorModel(mean, scale, model.coef_[0], float(model.intercept_[0]), threshold)


def subset_index(name: str, documents: list[str], model) -> Path:  # type: ignore[no-untyped-def]
    """An index of some QMSum meetings (their vectors come from the shared cache)."""
    folder = BENCH / f"{name}-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{d}.md" for d in documents}
    for old in folder.glob("*.md"):
        if old.name not in wanted:
            old.unlink()
    for file in wanted:  # hard links: the ingester skips symbolic links
        link = folder / file
        if not link.exists():
            os.link(QMSUM_CORPUS / file, link)
    return ensure_index(name, [folder], model)


def main() -> None:
    if sys.argv[1:2] == ["--finetune"]:  # step 1 of issue 16 has its own module and options
        from bench.finetune import main as finetune

        sys.argv[1:2] = []
        return finetune()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter-epochs", type=int, default=12)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--pull", type=float, default=0.01, help="weight pulling the adapter towards the identity")
    parser.add_argument("--scorer-epochs", type=int, default=50, help="L-BFGS iterations per pull strength")
    parser.add_argument("--l2", type=float, default=1e-3, help="the weakest pull towards today's fusion tried")
    parser.add_argument("--reuse-records", action="store_true",
                        help="take the recorded searches from .bench/relevance/records.pkl (same adapter)")
    parser.add_argument("--fit-questions", type=int, default=300,
                        help="training questions (a seeded sample) searched for the fusion, per scope")
    parser.add_argument("--val-questions", type=int, default=100, help="validation questions searched, per scope")
    parser.add_argument("--floor-questions", type=int, default=200, help="questions (a seeded sample) for the floor")
    parser.add_argument("--keep", type=float, default=0.98, help="share of answerable questions the floor keeps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH / "train.json")
    parser.add_argument("--no-adapter", action="store_true")
    parser.add_argument("--model", default="minilm", help="embedding model (hashing: a quick dry run)")
    parser.add_argument("--models-dir", type=Path, default=ADAPTER_PATH.parent,
                        help="where the shipped files go (default: the package's models/)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    np.random.seed(SEED)
    log: dict = {"seed": SEED, "args": {k: str(v) for k, v in vars(args).items()}}
    model = load_embedder(args.model)
    suffix = "" if args.model == "minilm" else f"-{args.model}"
    adapter_path, fusion_path = args.models_dir / ADAPTER_PATH.name, args.models_dir / FUSION_PATH.name
    ensure_qmsum_corpus()
    index = open_index(ensure_index(f"qmsum{suffix}", [QMSUM_CORPUS], model))
    cached = CachedEmbedder(model)

    questions = training_questions()
    topics = [q for q, _ in topic_questions()]
    passages, passage_docs, texts = passage_table(index)
    by_doc: dict[str, list[int]] = {}
    for i, d in enumerate(passage_docs):
        by_doc.setdefault(d, []).append(i)
    pairs = [(q, gold_ids(q, passage_docs, texts, by_doc)) for q in questions + topics]
    pairs = [(q, g) for q, g in pairs if g]
    log["pairs"] = {"questions": sum(1 for q, _ in pairs if "-topic-" not in q.id),
                    "topics": sum(1 for q, _ in pairs if "-topic-" in q.id)}
    started = time.perf_counter()
    cached.warm([q.question for q, _ in pairs])
    log["query_embedding_s"] = round(time.perf_counter() - started, 1)
    queries = np.stack([cached.memo[q.question] for q, _ in pairs])  # type: ignore[misc]
    docs = [q.document or "" for q, _ in pairs]
    train_rows = [i for i, d in enumerate(docs) if not inner_val(d)]
    val_rows = [i for i, (q, _) in enumerate(pairs) if inner_val(docs[i]) and "-topic-" not in q.id]

    adapter = None
    if not args.no_adapter:
        started = time.perf_counter()
        matrix = train_adapter(queries, [g for _, g in pairs], docs, passages, passage_docs, train_rows, val_rows,
                               args.adapter_epochs, args.temperature, args.pull, log)
        log["adapter_minutes"] = round((time.perf_counter() - started) / 60, 2)
        log["adapter_minutes_per_1000_pairs"] = round(log["adapter_minutes"] / (len(train_rows) / 1000)
                                                      / max(args.adapter_epochs, 1), 3)
        adapter = QueryAdapter(matrix.astype(np.float16))
        adapter_path.parent.mkdir(parents=True, exist_ok=True)
        adapter.save(adapter_path)
        adapter = QueryAdapter.load(adapter_path)  # measure what ships (fp16)

    query_side = Adapted(cached, adapter)
    searcher = Searcher(index, query_side, models=LearnedModels.today(model.name))
    fit = sample_of([q for q in questions if not inner_val(q.document or "")], args.fit_questions)
    held = sample_of([q for q in questions if inner_val(q.document or "")], args.val_questions)
    started = time.perf_counter()
    saved = BENCH / f"records{suffix}.pkl"
    if args.reuse_records and saved.exists():
        train_records, val_records = pickle.loads(saved.read_bytes())
    else:
        train_records = record(searcher, fit, False) + record(searcher, fit, True)
        val_records = record(searcher, held, False) + record(searcher, held, True)
        saved.write_bytes(pickle.dumps((train_records, val_records)))
    log["record_s"] = round(time.perf_counter() - started, 1)
    scorer = train_scorer(train_records, val_records, args.scorer_epochs, args.l2, log)

    # The floor: every training question asked of an index that holds its meeting (answerable)
    # and of one that holds only meetings of the other kind (not answerable).
    train_docs = sorted({q.document for q in questions if q.document})
    committee_docs = [d for d in train_docs if d.startswith(COMMITTEE)]
    other_docs = [d for d in train_docs if not d.startswith(COMMITTEE)]
    models = LearnedModels(scorer, None, model.name)
    positive: list[np.ndarray] = []
    negative: list[np.ndarray] = []
    sample = sample_of(questions, args.floor_questions)
    for name, docs_in in (("train-committee", committee_docs), ("train-other", other_docs)):
        sub = Searcher(open_index(subset_index(name + suffix, docs_in, model)), query_side, models=models)
        for rec in record(sub, sample, False):
            assert rec.query_features is not None
            (positive if rec.extra["document"] in docs_in else negative).append(rec.query_features)
    floor = train_floor(positive, negative, args.keep, log)
    models = LearnedModels(scorer, floor, model.name)
    fusion_path.write_text(models.to_json())
    log["files"] = {str(p): p.stat().st_size for p in (adapter_path, fusion_path) if p.exists()}
    args.out.write_text(json.dumps(log, indent=2))
    print(json.dumps(log, indent=2))


if __name__ == "__main__":
    main()
