"""Sentence spans: the one sentence splitter (the answer quotes these sentences).

nupunkt does the cutting: the Punkt algorithm with a model trained on legal and official
English, so "No. 12", "para. 3.2", "Mr. J. Smith", "e.g." and "5 p.m." do not end a sentence;
council titles it does not know are added below. Chosen over pysbd (the proposal's pick), which
has had no release since 2021, cuts after "Cllr." and "para." unless its abbreviation class is
patched, and took 16.6 ms a passage against nupunkt's 0.2 ms on the Kent papers (`python -m
bench.text`). nupunkt is MIT, has no dependencies and gives exact character offsets.

A line break always ends a sentence: bullets, table rows and headings are lines of their own.
"""

from __future__ import annotations

import threading

from nupunkt import load_default_model

# Abbreviations in committee papers that the model does not already know.
COUNCIL_ABBREVIATIONS = ["cllr", "cllrs", "cttee", "dept", "depts", "admin", "encl", "supp"]
# Ordinary words the model learnt as abbreviations from legal text; in papers they end sentences
# ("... where it is safe to do so. Targeted work ...", "... council tax. The Panel ...").
NOT_ABBREVIATIONS = ["all", "an", "art", "at", "can", "car", "day", "in", "me", "ok", "or", "so", "tax", "week"]

_tokenizer = load_default_model()  # a private instance: changing its abbreviations changes no one else's
_tokenizer.add_abbreviations(COUNCIL_ABBREVIATIONS)
for _word in NOT_ABBREVIATIONS:
    _tokenizer.remove_abbreviation(_word)
_lock = threading.Lock()  # its decision caches are shared state; a split takes well under a millisecond


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence of `text`, trimmed of surrounding space; never across lines."""
    spans = []
    line_start = 0
    for line in text.split("\n"):
        if line.strip():
            with _lock:
                pieces = list(_tokenizer.span_tokenize(line))
            for start, end in pieces:
                piece = line[start:end]
                start += len(piece) - len(piece.lstrip())
                end -= len(piece) - len(piece.rstrip())
                if end > start:
                    spans.append((line_start + start, line_start + end))
        line_start += len(line) + 1
    return spans
