"""Choose the hybrid fusion weights on the tuning meetings only (issue 13: tantivy's bm25).

    .venv/bin/python -m bench.fusion_grid [--semantic 0.35,0.5,0.7,1.0] [--neighbour 0.3,0.4,0.5]
                                          [--model minilm-committee]

For every pair (semantic_weight, neighbour_weight; keyword_weight stays 1.0, only the ratio
counts in the standardised fusion) it scores the final method on the dev split of
bench/relevance.py: QMSum questions of the meetings that are not held out, committee and
other, across the corpus and within the document, and seeds-dev with the distractors. Needs
the indexes of bench/relevance.py (built when absent). Prints one markdown row per pair; the
choice is the best mean MRR@10 over the five groups, then checked on the held-out third with
`python -m bench.relevance --set ...` (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics

from bench.relevance import QMSUM_CORPUS, ROOT, SHARED, ensure_index, ensure_qmsum_corpus, held_out, run_group
from bench.train import inner_val
from minutes.embed import load_embedder
from minutes.evaluate import load_questions
from minutes.search.hybrid import Searcher, Tuning
from minutes.storage import open_index
from tests.support.embedders import CachedEmbedder

COMMITTEE = ("qmsum-education_", "qmsum-covid_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--semantic", default="0.35,0.5,0.7,1.0")
    parser.add_argument("--neighbour", default="0.3,0.4,0.5")
    parser.add_argument("--model", default="minilm", help="minilm, or minilm-committee (bench/finetune.py)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = load_embedder(args.model, threads=2)
    suffix = "" if args.model == "minilm" else "-" + args.model.removeprefix("minilm-")
    ensure_qmsum_corpus()
    qmsum_index = open_index(ensure_index(f"qmsum{suffix}", [QMSUM_CORPUS], model))
    distractors = open_index(ensure_index(f"distractors{suffix}", [ROOT / "corpus", QMSUM_CORPUS], model))
    seeds = load_questions([SHARED / "eval" / "seeds-dev.jsonl"])
    dev = [q for q in load_questions([SHARED / "eval" / "qmsum-train.jsonl"]) if not held_out(q.document or "")]
    if args.model != "minilm":  # a fine-tuned model has seen the other training meetings' questions
        dev = [q for q in dev if inner_val(q.document or "")]
    committee = [q for q in dev if (q.document or "").startswith(COMMITTEE)]
    other = [q for q in dev if q not in committee]
    cached = CachedEmbedder(model)
    cached.warm([q.question for q in seeds + dev])
    groups = [("seeds-dev, distractors", distractors, seeds, False),
              ("committee corpus", qmsum_index, committee, False), ("committee document", qmsum_index, committee, True),
              ("other corpus", qmsum_index, other, False), ("other document", qmsum_index, other, True)]
    print("| semantic | neighbour | " + " | ".join(name for name, *_ in groups) + " | mean MRR@10 |")
    print("|---" * (len(groups) + 3) + "|")
    for semantic, neighbour in itertools.product(map(float, args.semantic.split(",")),
                                                 map(float, args.neighbour.split(","))):
        tuning = Tuning(semantic_weight=semantic, neighbour_weight=neighbour)
        mrr = [float(run_group(Searcher(index, cached), questions, tuning, scoped)["mrr@10"])
               for _, index, questions, scoped in groups]
        print(f"| {semantic} | {neighbour} | " + " | ".join(f"{m:.3f}" for m in mrr)
              + f" | {statistics.mean(mrr):.3f} |", flush=True)


if __name__ == "__main__":
    main()
