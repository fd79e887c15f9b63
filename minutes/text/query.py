"""The query language: what a person types, parsed into a backend-neutral `KeywordQuery`.

People may use "quoted phrases", OR between phrases, and -exclusions. Everything else they
type (stray quotes, colons, asterisks, NEAR, parentheses) is plain words. Each keyword engine
renders the parse in its own syntax (storage/sqlite_faiss/fts.py, storage/tantivy_index/,
storage/milvus/keyword.py), so no engine's syntax ever reaches it raw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words too common to select passages by themselves; phrases keep them.
STOPWORDS = frozenset("""
a about above after again all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here
hers him his how i if in into is it its itself just me more most my no nor not of off on once only or other
our ours out over own same she should so some such than that the their them then there these they this
those through to too under until up very was we were what when where which while who whom why will with
would you your yours said say says tell told discussed discuss discussion
summarize summarise summarized summarised summary discussing discussions discusses talk talks talked talking
think thinks thought thoughts opinion opinions view views mention mentioned mentions stated regarding
concerning towards toward whole overall anything something happened meeting meetings
""".split())  # the last lines: how questions are framed ("summarize the discussion about ..."), not their subject

_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class KeywordQuery:
    required: tuple[tuple[str, ...], ...]   # groups of phrases: a passage needs one phrase of every group
    optional: tuple[str, ...]               # plain words, any of which may match
    excluded: tuple[str, ...]               # words or phrases a passage must not contain

    @property
    def highlight_terms(self) -> tuple[str, ...]:
        """Words and phrases to mark in the results."""
        phrases = [p for group in self.required for p in group]
        return tuple(dict.fromkeys(phrases + list(self.optional)))


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def parse_query(text: str) -> KeywordQuery:
    required: list[list[str]] = []
    optional: list[str] = []
    excluded: list[str] = []
    join_next = False
    for match in _TOKEN.finditer(text):
        negated, phrase, bare = match.groups()
        if bare == "OR":
            join_next = bool(required)
            continue
        if phrase is not None:
            words = " ".join(_words(phrase))
            if not words:
                continue
            if negated:
                excluded.append(words)
            elif join_next:
                required[-1].append(words)
            else:
                required.append([words])
            join_next = False
            continue
        join_next = False
        if bare.startswith("-") and len(bare) > 1 and _words(bare[1:]):
            excluded.extend(_words(bare[1:]))
            continue
        optional.extend(w for w in _words(bare) if w not in STOPWORDS)
    if not required and not optional:  # a query of stopwords only still deserves keyword matches
        optional = [w for w in _words(text) if not any(w in e.split() for e in excluded)]
    return KeywordQuery(tuple(tuple(g) for g in required), tuple(dict.fromkeys(optional)),
                        tuple(dict.fromkeys(excluded)))
