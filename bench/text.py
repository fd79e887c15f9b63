"""Cost of the shared text rules on real passages: sentence splitting and highlighting.

    .venv/bin/python -m bench.text            # seed corpus + Kent papers (../shared), 5 runs
    .venv/bin/python -m bench.text --runs 10

The answer cuts every passage it may quote into sentences (`minutes.text.sentences`, nupunkt),
and every hit on a page is highlighted (`minutes.features.highlight`, Snowball stems). Prints
milliseconds per passage (median of the runs) and, when pysbd is installed, the same sentence
split by pysbd for comparison (the splitter the proposal named; not a dependency).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.common import CORPUS, SHARED, machine, median
from minutes.chunk import chunk_document
from minutes.features.highlight import highlight_spans, query_terms
from minutes.ingest import load_documents
from minutes.records import Document
from minutes.text.sentences import sentence_spans

KENT = SHARED / "data" / "kent-cc" / "documents"


def passages(paths: list[Path]) -> list[str]:
    return [p.text for d in load_documents(paths) if isinstance(d, Document) for p in chunk_document(d)]


def per_passage_ms(texts: list[str], work, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        for text in texts:
            work(text)
        samples.append((time.perf_counter() - started) * 1000 / len(texts))
    return round(median(samples), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    texts = passages([CORPUS, KENT])
    terms = query_terms("council tax policies for short breaks")
    row: dict[str, object] = {
        "passages": len(texts), "mean_chars": round(sum(map(len, texts)) / len(texts)),
        "sentences_ms": per_passage_ms(texts, sentence_spans, args.runs),
        "highlight_ms": per_passage_ms(texts, lambda t: highlight_spans(t, terms), args.runs),
    }
    try:
        import pysbd
    except ImportError:
        pass
    else:
        segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
        row["pysbd_sentences_ms"] = per_passage_ms(texts, segmenter.segment, args.runs)
    row["machine"] = machine()
    print(json.dumps(row))


if __name__ == "__main__":
    main()
