"""Every setting, declared once with its default and help text.

The CLI, the environment (MINUTES_*) and tests all feed this one object. The web server's own
settings (host, port, limits) extend it in minutes/web/settings.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINUTES_", extra="ignore")

    backend: str = Field("local", description="Where the index lives: `local` (SQLite + FAISS in the index folder), "
                                              "`milvus://HOST:PORT[/PREFIX]` (a Milvus server; add `?keyword=local` "
                                              "for servers before 2.5) or `milvus-lite:PATH`.")
    ray: str | None = Field(None, description="Embed on Ray while indexing: a cluster address, or `local` for a "
                                              "Ray on 127.0.0.1; unset: embed in this process.")
    index_dir: Path = Field(Path("index"), description="Folder that holds the index (builds, cache, `current`).")
    corpus: list[Path] = Field([Path("corpus")], description="Files or folders indexed when no PATH is given.")
    model: str = Field("minilm", description="Embedding model: `minilm` (all-MiniLM-L6-v2), `minilm-int8` (the same, "
                                             "int8-quantised, CPU only, 2-3x faster), `minilm-tuned` (minilm with "
                                             "a learned query adapter; docs/benchmarks.md) or `hashing` (tests).")
    device: str = Field("cpu", description="Device for embedding while indexing: `cpu` or `cuda`.")
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per model batch while indexing.")
    query_threads: int = Field(1, ge=1, le=64,
                               description="Threads per query in the server; 1 avoids oversubscribing cores.")
    query_runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="How the server embeds questions: `onnx` (ONNX Runtime: the same vectors at about a "
                            "third of torch's CPU; a few seconds more at start-up) or `torch`.")
    reply_weight: float = Field(0.0, ge=0.0, le=2.0,
                                description="Share of a question passage's score given to the passage after it, "
                                            "its answer: for minutes of questions and answers (0.6 measured; "
                                            "docs/benchmarks.md, \"Answers after questions\"); 0: off.")
    # Caps on what one file may cost to ingest (issue 17); a file over one is cut or refused, and reported.
    max_pages: int = Field(3_000, ge=1, description="PDF pages read per file; later pages are not indexed.")
    max_chars: int = Field(10_000_000, ge=1_000,
                           description="Characters of text kept per document; the rest is not indexed.")
    max_passages: int = Field(10_000, ge=1, description="Passages kept per document; the rest are not indexed.")
    max_seconds_per_file: float = Field(120.0, gt=0, le=86_400,
                                        description="Seconds to extract one PDF, Word or HTML file before it "
                                                    "is refused.")
    max_extract_memory_mb: int = Field(4_096, ge=0,
                                       description="Memory (MB of address space) the extraction of one file "
                                                   "may use before it is refused; 0: no cap.")
