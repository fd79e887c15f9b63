"""Every setting, declared once with its default and help text.

The CLI, the environment (MINUTES_*) and tests all feed this one object.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINUTES_", extra="ignore")

    index_dir: Path = Field(Path("index"), description="Folder that holds the index (builds, cache, `current`).")
    corpus: list[Path] = Field([Path("corpus")], description="Files or folders indexed when no PATH is given.")
    model: str = Field("minilm", description="Embedding model: `minilm` (all-MiniLM-L6-v2), `minilm-int8` (the same, "
                                             "int8-quantised, CPU only, 2-3x faster) or `hashing` (tests).")
    device: str = Field("cpu", description="Device for embedding while indexing: `cpu` or `cuda`.")
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per model batch while indexing.")
    query_threads: int = Field(1, ge=1, le=64,
                               description="Torch threads per query in the server; 1 avoids oversubscribing cores.")
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the web server listens on.")
    public_url: str | None = Field(None, pattern=r"^https?://[^\s]+$",
                                   description="The site's public address, for links in exported citations "
                                               "(behind a proxy); default: the address of each request.")
    rate_limit: int = Field(0, ge=0, le=1_000_000,
                            description="Requests per minute per client IP before the server answers 429 "
                                        "(with Retry-After); 0 turns the limit off. For public deployments.")
    max_url_bytes: int = Field(32_768, ge=256, le=1_048_576,
                               description="Longest request address (path and query string) in bytes; "
                                           "longer ones get 414. Room for an export of 100 chosen passages.")
    max_body_bytes: int = Field(1_048_576, ge=0, le=1 << 30,
                                description="Largest request body in bytes; larger ones get 413.")
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
