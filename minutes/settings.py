"""Every setting, declared once with its default and help text.

The CLI, the environment (MINUTES_*) and tests all feed this one object. The web server's own
settings (host, port, limits) extend it in minutes/web/settings.py.
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
