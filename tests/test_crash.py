"""A build killed with SIGKILL mid-way leaves the previous index serving; the next run
completes, reusing the vectors the killed run had already committed."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.records import Filters
from minutes.search.hybrid import Searcher
from minutes.storage import current_build, open_index
from tests.conftest import CORPUS, ROOT

WORDS = ["council", "budget", "children", "transport", "libraries", "highways", "social", "care", "school",
         "reserves", "savings", "consultation", "housing", "planning", "waste", "recycling", "parking", "adult",
         "health", "scrutiny", "cabinet", "member", "report", "decision", "capital", "revenue", "grant", "funding",
         "contract", "procurement", "tender", "district"]


def _papers(folder: Path, documents: int = 20, paragraphs: int = 40) -> None:
    rng = random.Random(4)
    folder.mkdir(parents=True)
    for number in range(documents):
        body = "\n\n".join(" ".join(rng.choice(WORDS) for _ in range(95)) + "." for _ in range(paragraphs))
        (folder / f"paper-{number:03}.md").write_text(f"---\ntitle: Paper {number}\ncouncil: Testshire\n---\n{body}\n")


def _rows(index_dir: Path, cache: str = "cache.sqlite", table: str = "vectors") -> int:
    try:
        conn = sqlite3.connect(f"file:{index_dir / cache}?mode=ro", uri=True, timeout=0.1)
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _vectors(index_dir: Path) -> int:
    return _rows(index_dir)


def _minutes(index_dir: Path, *paths: Path) -> list[str]:
    return [sys.executable, "-c", "from minutes.cli import main; main()", "--index-dir", str(index_dir), "index",
            *map(str, paths)]


def test_sigkill_during_embedding_leaves_the_old_index_serving(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index([CORPUS], index_dir, HashingEmbedder())
    serving = current_build(index_dir)
    before = _vectors(index_dir)
    papers = tmp_path / "papers"
    _papers(papers)
    env = {**os.environ, "MINUTES_MODEL": "hashing", "PYTHONPATH": str(ROOT)}

    process = subprocess.Popen(_minutes(index_dir, CORPUS, papers), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _vectors(index_dir) < before + 256:  # the first batch of new vectors is committed: embedding
        assert process.poll() is None, "the build finished before it could be killed; give it more to embed"
        assert time.monotonic() < deadline, "the build never started embedding"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    # the old build still serves, and answers
    assert current_build(index_dir) == serving
    index = open_index(index_dir)
    assert index.manifest.documents == 5
    hits = Searcher(index, HashingEmbedder()).search("short breaks", 5, Filters()).hits
    assert hits and all(not h.document.document_id.startswith("paper-") for h in hits)
    index.close()

    # the next run completes, reusing what the killed one had embedded
    done = subprocess.run(_minutes(index_dir, CORPUS, papers), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    embedded, reused = map(int, re.search(r"\((\d+) embedded, (\d+) reused\)", done.stdout).groups())  # type: ignore[union-attr]
    assert reused >= before + 256 and embedded > 0
    assert current_build(index_dir) != serving
    index = open_index(index_dir)
    assert index.manifest.documents == 25
    assert not list((index_dir / "builds").glob(".tmp-*"))  # no half-written build left behind
    index.close()


@pytest.mark.slow
def test_sigkill_during_pdf_extraction(tmp_path: Path) -> None:
    """Killed while reading PDFs: the old index serves; the next run reuses what was extracted."""
    from tests.pdfmaker import make_pdf

    index_dir = tmp_path / "index"
    build_index([CORPUS], index_dir, HashingEmbedder())
    serving = current_build(index_dir)
    papers = tmp_path / "papers"
    rng = random.Random(7)
    for number in range(150):
        make_pdf([[" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(40)] for _ in range(4)],
                 papers / f"paper-{number:03}.pdf")
    env = {**os.environ, "MINUTES_MODEL": "hashing", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(_minutes(index_dir, CORPUS, papers), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _rows(index_dir, "extracted.sqlite", "extracted") < 5:
        assert process.poll() is None, "the build got past extraction before it could be killed"
        assert time.monotonic() < deadline, "the build never started extracting"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert current_build(index_dir) == serving
    assert open_index(index_dir).manifest.documents == 5
    extracted = _rows(index_dir, "extracted.sqlite", "extracted")
    assert 5 <= extracted < 150
    done = subprocess.run(_minutes(index_dir, CORPUS, papers), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "read 155 files: indexed 155 documents" in done.stdout
    assert open_index(index_dir).manifest.documents == 155
