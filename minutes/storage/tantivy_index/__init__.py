"""Keyword retrieval on tantivy (Rust, block-max WAND): exact bm25 at a million passages.

A build's keyword index lives in its own folder of the build (`keyword/`), written by
`TantivyWriter` and committed before the build is published; `open_keyword_index` opens it
read-only as the seam's `KeywordIndex` (`TantivyKeywordIndex`). Figures: docs/benchmarks.md
("Keyword engines"), from bench/keyword.py.
"""

from minutes.storage.tantivy_index.reader import TantivyKeywordIndex, check_file, open_keyword_index
from minutes.storage.tantivy_index.schema import ANALYZER, tokens
from minutes.storage.tantivy_index.writer import KeywordWriteError, TantivyWriter

KEYWORD_DIR = "keyword"  # the keyword index's folder inside a build

__all__ = ["ANALYZER", "KEYWORD_DIR", "KeywordWriteError", "TantivyKeywordIndex", "TantivyWriter", "check_file",
           "open_keyword_index", "tokens"]
