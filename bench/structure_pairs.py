"""Question/passage pairs made from real council papers' own structure, for bench/finetune.py.

Real third-party data only (`../shared/data`, local use; never the seed corpus, which is
the evaluation): Kent County Council's Cabinet and Council PDFs and a seeded sample of
Cleveland City Record issues, read and chunked by Minutes itself (`minutes.ingest`,
`minutes.chunk`), so a positive is a passage exactly as it is embedded. Pairs:

- a heading (an agenda item's title, a report's section heading) -> the first passage of its
  section (short headings such as "Background" carry the paper's title with them);
- a "RESOLVED"/"AGREED" decision -> the discussion passage just before it;
- a Cleveland ordinance's title ("An emergency ordinance authorizing ...") -> its first section.

Each pair gets one hard negative: the passage of the same paper (else of the whole set) most
like the query by TF-IDF cosine, other than the positive and its neighbours. (The QMSum pairs
get theirs from the hybrid search; these papers have no base-model index: embedding them
would cost as much CPU as the training.)
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minutes.chunk import chunk_document
from minutes.embed import embedding_text
from minutes.records import Document, DocumentInfo, Passage

KENT = "kent-cc/documents"
CLEVELAND = "cleveland-city-record/city_record_1996_2019_txt.tar.xz"
MIN_WORDS = 25  # a positive shorter than this is a list label or a page footer, not an answer
_PROSE = re.compile(r"[a-z]{3,}[,.;]?")

_HEADING = re.compile(r"^\s*(?:(?:\d{1,3}(?:\.\d{1,2})*|[A-Z])[.)]?\s+)?(?P<title>[A-Z][A-Za-z0-9 ,&'’()/:-]{6,110}?)"
                      r"\s*(?:\(Item[^)]*\))?\s*$")
_GENERIC = re.compile(r"^(apologies|declarations? of interest|minutes of the|contents|glossary|appendix|appendices|"
                      r"contact details|background documents|item \d|page \d|agenda|present|from|to|answer|"
                      r"subject|summary)\b", re.IGNORECASE)
_RESOLVED = re.compile(r"\b(?:RESOLVED|AGREED)\b")
_ORDINANCE = re.compile(r"Ord\. No\. \d+-\d+\.\s*\n(?:By [^\n]*(?:\n(?!An? )[^\n]*){0,6}\n)"
                        r"(?P<title>An? (?:emergency )?ordinance\b.*?)\n(?=Whereas|Be it ordained)", re.S | re.I)


@dataclass(frozen=True)
class Pair:
    query: str
    positive: int          # index into the passage list
    source: str            # "heading", "resolved", "ordinance"


def _words(text: str, limit: int = 40) -> str:
    return " ".join(text.split()[:limit])


def _is_heading(line: str) -> str | None:
    match = _HEADING.match(line)
    if not match:
        return None
    title = match.group("title").strip(" :-")
    words = title.split()
    capitalised = sum(w[:1].isupper() for w in words if len(w) > 3)
    if not 2 <= len(words) <= 12 or capitalised < max(1, len([w for w in words if len(w) > 3]) // 2):
        return None
    return None if _GENERIC.match(title) or ":" in title else title


def is_prose(text: str) -> bool:
    """Sentences, not a budget table or a form: mostly lower-case words, and full stops."""
    words = text.split()
    return len(words) >= MIN_WORDS and sum(bool(_PROSE.fullmatch(w)) for w in words) >= 0.6 * len(words) \
        and text.count(". ") >= 1


def paper_pairs(document: Document, passages: list[Passage], offset: int) -> list[Pair]:
    """Heading -> its section's first passage; RESOLVED -> the passage before it."""
    pairs: list[Pair] = []
    title = re.sub(r"^[\d/-]+\s*-\s*", "", document.title or "").strip()
    big = [i for i, p in enumerate(passages) if is_prose(p.text)]
    start = 0
    for line in document.text.split("\n"):
        end = start + len(line)
        heading = _is_heading(line)
        if heading:
            first = next((i for i in big if passages[i].char_start >= end), None)
            if first is not None and passages[first].char_start - end < 400:
                query = heading if len(heading.split()) >= 4 or not title else f"{title}: {heading}"
                pairs.append(Pair(query, offset + first, "heading"))
        start = end + 1
    for match in _RESOLVED.finditer(document.text):
        before = [i for i, p in enumerate(passages) if p.char_end <= match.start() and len(p.text.split()) >= MIN_WORDS]
        if before and match.start() - passages[before[-1]].char_end < 1500:
            sentence = re.split(r"(?<=[.;])\s", document.text[match.start():match.start() + 600])[0]
            if len(sentence.split()) >= 5:
                pairs.append(Pair(_words(sentence), offset + before[-1], "resolved"))
    return pairs


def ordinance_pairs(document: Document, passages: list[Passage], offset: int) -> list[Pair]:
    pairs = []
    for match in _ORDINANCE.finditer(document.text):
        body = next((i for i, p in enumerate(passages) if p.char_start >= match.end() - 10
                     and len(p.text.split()) >= MIN_WORDS), None)
        if body is not None:
            pairs.append(Pair(_words(match.group("title")), offset + body, "ordinance"))
    return pairs


def kent_documents(shared: Path, cache: Path) -> list[Document]:
    from minutes.ingest import IngestOptions, load_documents

    found = load_documents([shared / "data" / KENT], IngestOptions(cache_path=cache))
    return [d for d in found if isinstance(d, Document)]


def cleveland_documents(shared: Path, issues: int, seed: int) -> list[Document]:
    """A seeded sample of the weekly issues (2010 on: the older scans are noisier)."""
    with tarfile.open(shared / "data" / CLEVELAND, "r:xz") as tar:
        names = sorted(m.name for m in tar.getmembers() if m.name.endswith(".txt") and m.name[:4] >= "2010")
        wanted = {names[i] for i in np.random.default_rng(seed).permutation(len(names))[:issues]}
        out = []
        for member in tar:
            if member.name in wanted:
                text = tar.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
                out.append(Document(f"cleveland/{member.name}", text, title=f"City Record {Path(member.name).stem}",
                                    council="Cleveland City Council"))
    return sorted(out, key=lambda d: d.document_id)


def structure_pairs(shared: Path, cache: Path, issues: int, seed: int) -> tuple[list[str], list[str], list[Pair]]:
    """(embedding texts of every passage, their document ids, the pairs)."""
    texts: list[str] = []
    docs: list[str] = []
    pairs: list[Pair] = []
    for document, make in ([(d, paper_pairs) for d in kent_documents(shared, cache)]
                           + [(d, ordinance_pairs) for d in cleveland_documents(shared, issues, seed)]):
        passages = chunk_document(document)
        info = DocumentInfo(document.document_id, document.title, document.council, document.committee,
                            document.item, None, None, (), None)
        pairs += make(document, passages, len(texts))
        texts += [embedding_text(p, info) for p in passages]
        docs += [document.document_id] * len(passages)
    # A query made more than once (a form's field, a running header) says nothing about its passage.
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p.query.lower()] = counts.get(p.query.lower(), 0) + 1
    return texts, docs, [p for p in pairs if counts[p.query.lower()] == 1 and not p.query.startswith("Subject:")]


def tfidf_negatives(queries: list[str], positives: list[int], texts: list[str], docs: list[str]) -> list[int]:
    """For each query, the most similar passage of the same paper (else of all) that is not its answer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectoriser = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2).fit(texts)
    P, Q = vectoriser.transform(texts), vectoriser.transform(queries)
    by_doc: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        by_doc.setdefault(d, []).append(i)
    out = []
    for n, positive in enumerate(positives):
        candidates = [i for i in by_doc[docs[positive]] if abs(i - positive) > 1] or \
                     [i for i in range(len(texts)) if docs[i] != docs[positive]]
        scores = (P[candidates] @ Q[n].T).toarray().ravel()
        out.append(candidates[int(np.argmax(scores))])
    return out
