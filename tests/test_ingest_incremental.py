"""Re-indexing is incremental: nothing changed → nothing extracted or embedded; a changed
file re-embeds only its own passages; a deleted file leaves the index. And bad options."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.ingest import IngestOptions
from minutes.storage.sqlite_faiss import open_local
from tests.pdfmaker import make_pdf


def _build(papers: Path, index_dir: Path) -> tuple[int, int, int, IngestOptions]:
    options = IngestOptions(council="Testshire County Council")
    report = build_index([papers], index_dir, HashingEmbedder(), ingest=options)
    return report.documents, report.embedded, report.reused, options


def test_unchanged_changed_and_deleted_files(tmp_path: Path) -> None:
    papers, index_dir = tmp_path / "papers", tmp_path / "index"
    make_pdf([["Libraries report", "Opening hours at Ashford library."], ["Mobile library routes."]],
             papers / "libraries.pdf")
    make_pdf([["Highways report", "Pothole repairs across the county."]], papers / "highways.pdf")
    (papers / "note.md").write_text("---\ntitle: Note\n---\nA note about the waste strategy.\n")
    documents, embedded, reused, _ = _build(papers, index_dir)
    assert (documents, reused) == (3, 0) and embedded > 0

    documents, embedded, reused, options = _build(papers, index_dir)
    assert (documents, embedded) == (3, 0) and reused > 0
    assert (options.stats.extracted, options.stats.from_cache) == (0, 2)  # the PDFs were not read again

    make_pdf([["Highways report", "Pothole repairs across the county, and a new cycle lane in Canterbury."]],
             papers / "highways.pdf")
    (papers / "libraries.pdf").unlink()
    documents, embedded, _, options = _build(papers, index_dir)
    assert documents == 2 and embedded == 1 and options.stats.extracted == 1
    titles = {row["title"] for row in open_local(index_dir).sql("SELECT title FROM documents")}
    assert titles == {"highways", "Note"}


@pytest.mark.parametrize(("args", "message"), [
    (["index", "x", "--committee-name", "full_council"], "'full_council' is not CODE=NAME"),
    (["index", "x", "--committee-name", "=County Council"], "'=County Council' is not CODE=NAME"),
    (["import", "moderngov", "democracy.example.gov.uk"], "'democracy.example.gov.uk' is not an http(s) URL"),
    (["import", "moderngov", "https://x.example", "--from", "2025-03", "--to", "2025-01"],
     "--from 2025-03-01 is after --to 2025-01-31"),
    (["import", "moderngov", "https://x.example", "--from", "March"], "'March' is not a date"),
])
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    from minutes.cli import cli

    result = CliRunner().invoke(cli, ["--index-dir", str(tmp_path / "index"), *args],
                                env={"MINUTES_MODEL": "hashing"})
    assert result.exit_code in (1, 2)
    assert message in result.output
