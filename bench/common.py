"""Helpers shared by the benchmarks: data paths, the machine line, percentiles, nDCG.

Benchmarks write scratch files under `.bench/` (git-ignored) and print Markdown rows
for docs/benchmarks.md. Timing figures are medians of several runs; nothing here is a test.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tests.support import server as support_server

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SCRATCH = ROOT / ".bench"
CLEVELAND_TAR = SHARED / "data" / "cleveland-city-record" / "city_record_1996_2019_txt.tar.xz"
CLEVELAND_DIR = SCRATCH / "cleveland"
SEEDS_DEV = SHARED / "eval" / "seeds-dev.jsonl"
CORPUS = ROOT / "corpus"


def cleveland_paths() -> list[Path]:
    """The 1,221 weekly issues as text files, oldest first (unpacked into .bench/ once)."""
    if not CLEVELAND_DIR.exists():
        CLEVELAND_DIR.mkdir(parents=True)
        subprocess.run(["tar", "-xJf", str(CLEVELAND_TAR), "-C", str(CLEVELAND_DIR)], check=True)
    return sorted(CLEVELAND_DIR.rglob("*.txt"))


def machine() -> str:
    """One line: CPU, cores, load averages and the date, printed beside every figure."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{cpu}, {os.cpu_count()} cores, load {load}, {stamp}"


def percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "n": float(len(a))}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.start


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (default: this one), from /proc."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# --- relevance: nDCG@10 with binary relevance (a passage is relevant if it holds a gold quote)

_DASHES = dict.fromkeys(map(ord, "\u2013\u2014\u2012\u2015"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    return " ".join(text.split()).lower()


def load_questions(path: Path = SEEDS_DEV) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def relevant(text: str, quotes: list[str]) -> bool:
    norm = normalise_text(text)
    return any(normalise_text(q) in norm for q in quotes)


def ndcg_at_k(ranked_texts: list[str], quotes: list[str], n_relevant: int, k: int = 10) -> float:
    """nDCG@k from binary gains; the ideal ranking puts min(n_relevant, k) relevant passages first."""
    gains = [1.0 if relevant(t, quotes) else 0.0 for t in ranked_texts[:k]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(n_relevant, k)))
    return float(dcg / ideal) if ideal else 0.0


def iter_cleveland_texts(limit: int | None = None, paths: list[Path] | None = None
                         ) -> Iterator[str]:
    """Embedding texts of Cleveland passages, exactly as the build embeds them, in file order."""
    from minutes.build import info_of
    from minutes.chunk import chunk_document
    from minutes.embed import embedding_text
    from minutes.ingest.text import read_text_document

    count = 0
    for path in paths or cleveland_paths():
        document = next(iter(read_text_document(path, CLEVELAND_DIR)))
        info = info_of(document)
        for passage in chunk_document(document):
            yield embedding_text(passage, info)
            count += 1
            if limit is not None and count >= limit:
                return


def mark_current(index_dir: Path) -> None:
    """Let today's code open a benchmark index built by an older chunker (same storage format).

    The perf indexes are built from vector caches keyed by the texts of the chunker they were
    made with (the GPU-embedded City Record vectors); re-chunking would orphan those vectors.
    Search cost depends on the passage count and the text volume, not on where passages were
    cut, so the benchmarks re-stamp the manifest (scratch data under .bench/) and say so.
    """
    from minutes.chunk import CHUNKER_VERSION
    from minutes.storage.base import FORMAT_VERSION

    manifest_path = index_dir / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format", 1) != FORMAT_VERSION:
        raise RuntimeError(f"{index_dir}: storage format {manifest.get('format')}; run `prepare` again")
    if manifest["chunker_version"] != CHUNKER_VERSION:
        print(f"{index_dir}: built by chunker {manifest['chunker_version']}, opened as {CHUNKER_VERSION} "
              "(benchmark index; see bench/common.py:mark_current)", flush=True)
        manifest.setdefault("built_by_chunker", manifest["chunker_version"])
        manifest["chunker_version"] = CHUNKER_VERSION
        manifest_path.write_text(json.dumps(manifest, indent=2))


def start_server(index_dir: Path, port: int | None = None, timeout: float = 120.0
                 ) -> tuple[subprocess.Popen[bytes], str, float]:
    """`minutes serve --no-build` on loopback; (process, base URL, seconds until /healthz answered 200).

    The launcher is the tests' own (tests/support/server.py); the server log (without the
    per-request lines) goes to .bench/server.log.
    """
    mark_current(index_dir)
    SCRATCH.mkdir(exist_ok=True)
    server = support_server.start_server(index_dir, SCRATCH / "server.log", access_log=False, port=port,
                                         timeout=timeout)
    return server.process, server.url, server.startup_seconds


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
