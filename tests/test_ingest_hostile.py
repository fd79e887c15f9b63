"""Hostile files at ingestion (issue 17): tiny files with huge costs are capped or refused and
reported per file; YAML aliases are refused; Word zip bombs are refused from the zip directory;
front matter is trusted only in the user's own files; encodings decode; symbolic links out of
the folder are not followed; the extraction cache holds the text of the bytes it hashed.
All files are generated here.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from minutes.chunk import chunk_document
from minutes.ingest import READERS, VERSIONS, IngestOptions, Problem, load_documents
from minutes.ingest.limits import Limits
from minutes.records import Document
from tests.pdfmaker import make_pdf


def load(paths: list[Path], **options: object) -> tuple[list[Document], list[Problem]]:
    items = list(load_documents(paths, IngestOptions(**options)))  # type: ignore[arg-type]
    return [i for i in items if isinstance(i, Document)], [i for i in items if isinstance(i, Problem)]


def repeated_page_pdf(times: int) -> bytes:
    """One page listed `times` times in the page tree: a small file with a huge page count."""
    data = make_pdf([["Repeated page about the library budget and opening hours."]])
    match = re.search(rb"/Kids \[(\d+ 0 R)\] /Count 1", data)
    assert match
    return data.replace(match.group(0), b"/Kids [" + b" ".join([match.group(1)] * times) + b"] /Count %d" % times)


# ---------------------------------------------------------------- 6: caps on pages, characters, passages


def test_a_page_listed_thousands_of_times_is_capped_at_max_pages(tmp_path: Path) -> None:
    (tmp_path / "repeat.pdf").write_bytes(repeated_page_pdf(20_000))
    assert (tmp_path / "repeat.pdf").stat().st_size < 200_000
    docs, problems = load([tmp_path], limits=Limits(max_pages=100))
    assert len(docs) == 1 and len(docs[0].page_starts) == 100
    assert len(chunk_document(docs[0])) <= 100
    assert [(p.kind, p.reason) for p in problems if "max_pages" in p.reason] == [
        ("gap", "capped: the first 100 of 20,000 pages indexed (max_pages)")]


def test_characters_and_passages_per_document_are_capped(tmp_path: Path) -> None:
    sentence = "The committee discussed the library budget and agreed the opening hours for next year. "
    (tmp_path / "long.md").write_text(sentence * 2_000)  # ~178,000 characters, ~100 passages
    (tmp_path / "wide.md").write_text("\n\n".join(f"Heading {n}:\n\n{sentence * 30}" for n in range(60)))
    docs, problems = load([tmp_path], limits=Limits(max_chars=50_000, max_passages=12))
    by_name = {Path(d.path or "").name: d for d in docs}
    assert len(by_name["long.md"].text) <= 50_000
    assert all(len(chunk_document(d)) <= 12 for d in docs)
    reasons = {(Path(p.source).name, p.reason.split(" of ")[0]) for p in problems if p.kind == "gap"}
    assert ("long.md", "capped: the first 50,000") in reasons
    assert ("wide.md", "capped: the first 12") in reasons


def _sleeping_reader(path: Path, root: Path) -> Iterator[Document]:
    time.sleep(60)
    yield Document(document_id="never", text="never")


def _hungry_reader(path: Path, root: Path) -> Iterator[Document]:
    hoard = bytearray(3 << 30)  # 3 GiB: over the test's 1 GiB cap
    yield Document(document_id=path.stem, text=f"allocated {len(hoard)} bytes")


@pytest.mark.parametrize(("reader", "limits", "reason"), [
    (_sleeping_reader, Limits(max_seconds=1.5), "extraction took longer than 1.5 s (max_seconds_per_file)"),
    (_hungry_reader, Limits(max_memory_mb=1024), "1,024 MB of memory (max_extract_memory_mb)"),
])
def test_time_and_memory_caps_refuse_a_file_and_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      reader: object, limits: Limits, reason: str) -> None:
    monkeypatch.setitem(READERS, ".hostile", reader)  # type: ignore[arg-type]
    monkeypatch.setitem(VERSIONS, ".hostile", "test-1")
    (tmp_path / "a.hostile").write_bytes(b"anything")
    make_pdf([["A normal report on the library budget."]], tmp_path / "b.pdf")
    docs, problems = load([tmp_path], limits=limits)
    assert [Path(d.path or "").name for d in docs] == ["b.pdf"]  # the next file went on
    failed = [p for p in problems if p.kind == "failed"]
    assert len(failed) == 1 and failed[0].source.endswith("a.hostile") and reason in failed[0].reason, failed


# ---------------------------------------------------------------- 6: zip bombs and YAML alias bombs


def test_a_docx_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    body = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    package_ns = "http://schemas.openxmlformats.org/package/2006"
    with zipfile.ZipFile(tmp_path / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as package:  # a valid package
        package.writestr("[Content_Types].xml", f'<?xml version="1.0"?><Types xmlns="{package_ns}/content-types">'
                         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                         'relationships+xml"/><Override PartName="/word/document.xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        package.writestr("_rels/.rels", f'<?xml version="1.0"?><Relationships xmlns="{package_ns}/relationships">'
                         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                         'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        package.writestr("word/document.xml", body + b" " * (20 << 20) + b"</w:body></w:document>")
    assert (tmp_path / "bomb.docx").stat().st_size < 100_000
    docs, problems = load([tmp_path])
    assert docs == []
    assert len(problems) == 1 and "refused as a zip bomb" in problems[0].reason, problems


LAUGHS = "\n".join(["a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']"]
                   + [f"{chr(98 + n)}: &{chr(98 + n)} [{','.join(['*' + chr(97 + n)] * 9)}]" for n in range(5)])


def test_yaml_alias_bombs_are_refused(tmp_path: Path) -> None:
    (tmp_path / "papers").mkdir()
    (tmp_path / "bomb.md").write_text(f"---\ntitle: Budget\n{LAUGHS}\n---\nThe budget was agreed.\n")
    (tmp_path / "papers" / "minutes.yaml").write_text(f"council: Testshire\n{LAUGHS}\n")
    (tmp_path / "papers" / "fine.md").write_text("The library hours were agreed.\n")
    docs, problems = load([tmp_path])
    reasons = {Path(p.source).name: p.reason for p in problems if p.kind == "failed"}
    assert "aliases (*name) are not allowed" in reasons["bomb.md"]
    assert "aliases (*name) are not allowed" in reasons["minutes.yaml"]
    assert [Path(d.path or "").name for d in docs] == ["fine.md"]


# ---------------------------------------------------------------- 7: front matter only from the user's own files


def test_a_listed_text_paper_cannot_claim_another_identity(tmp_path: Path) -> None:
    papers = tmp_path / "meeting" / "documents"
    papers.mkdir(parents=True)
    (tmp_path / "minutes.yaml").write_text("council: Testshire Council\n")
    (tmp_path / "meeting" / "item.md").write_text("---\ndocument_id: real-item\ncouncil: Testshire Council\n"
                                                  "---\nThe real item text.\n")
    (papers / "notes.txt").write_text("---\ndocument_id: real-item\ncouncil: Evil Council\n"
                                      "source_url: http://evil.example/\n---\nThe paper text.\n")
    (papers / "metadata.json").write_text(json.dumps([{"filename": "notes.txt", "title": "Notes",
                                                       "url": "https://council.example/documents/s1/notes.txt"}]))
    docs, _problems = load([tmp_path])
    ids = {d.document_id: d for d in docs}
    assert sorted(ids) == ["meeting/documents/notes", "real-item"]
    paper = ids["meeting/documents/notes"]
    assert (paper.council, paper.source_url) == ("Testshire Council", "https://council.example/documents/s1/notes.txt")
    assert "The paper text." in paper.text and ids["real-item"].text.strip() == "The real item text."


# ---------------------------------------------------------------- 8: encodings


def test_encodings_decode_and_a_bom_does_not_hide_front_matter(tmp_path: Path) -> None:
    front = "---\ntitle: Budget £5m\n---\nThe council agreed savings of £5m in 2024–25.\n"
    (tmp_path / "cp1252.txt").write_bytes("The council agreed savings of £5m this year, after a long "
                                          "debate about the library budget.\n".encode("cp1252"))
    (tmp_path / "utf16.md").write_bytes(codecs.BOM_UTF16_LE + front.encode("utf-16-le"))
    (tmp_path / "bom.md").write_bytes(codecs.BOM_UTF8 + front.encode("utf-8"))
    docs = {Path(d.path or "").name: d for d in load([tmp_path])[0]}
    assert "£5m" in docs["cp1252.txt"].text and "\ufffd" not in docs["cp1252.txt"].text
    for name in ("utf16.md", "bom.md"):
        assert docs[name].title == "Budget £5m", name
        assert docs[name].text == "The council agreed savings of £5m in 2024–25.\n", name


# ---------------------------------------------------------------- 8: symbolic links and skipped folders


def test_symbolic_links_out_of_the_folder_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Outsidetoken from a file outside the corpus.\n")
    corpus = tmp_path / "corpus"
    (corpus / ".git").mkdir(parents=True)
    (corpus / ".git" / "notes.md").write_text("Hiddentoken.\n")
    (corpus / "paper.md").write_text("The library budget was agreed.\n")
    os.symlink(outside / "secret.txt", corpus / "link.txt")
    os.symlink(outside, corpus / "linked-folder")
    os.symlink(corpus / "paper.md", corpus / "inside.md")  # a link within the folder is fine
    docs, problems = load([corpus])
    assert not [d for d in docs if "Outsidetoken" in d.text or "Hiddentoken" in d.text]
    skipped = {Path(p.source).name: p.reason for p in problems if p.kind == "skipped"}
    assert skipped["link.txt"].startswith("symbolic link out of the folder")
    assert skipped["linked-folder"].startswith("symbolic link to a folder")
    assert skipped[".git"] == "hidden folder; not indexed"
    assert any(p.kind == "duplicate" and p.source.endswith("paper.md") for p in problems)


# ---------------------------------------------------------------- 8: the cache hashes the bytes it extracts


def test_the_extraction_cache_holds_the_text_of_the_bytes_it_hashed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    paper = tmp_path / "papers" / "report.pdf"
    first = make_pdf([["Version one of the report: Alphaword."]], paper)
    second = make_pdf([["Version two of the report: Betaword."]])
    real_read = Path.read_bytes

    def read_then_swap(self: Path) -> bytes:  # the file is replaced just after it was read
        data = real_read(self)
        if self == paper:
            paper.write_bytes(second)
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_swap)
    cache = tmp_path / "extracted.sqlite"
    docs, _ = load([tmp_path / "papers"], cache_path=cache)
    assert "Alphaword" in docs[0].text  # the text of the bytes that were hashed
    monkeypatch.setattr(Path, "read_bytes", real_read)
    paper.write_bytes(first)
    docs, _ = load([tmp_path / "papers"], cache_path=cache)
    assert "Alphaword" in docs[0].text and "Betaword" not in docs[0].text


def test_the_index_command_reports_caps_and_skips_per_file(tmp_path: Path) -> None:
    """Through `minutes index`: the caps come from the settings (environment), and the summary
    lists the cut and the skipped link with their files."""
    from click.testing import CliRunner

    from minutes.cli import cli

    corpus = tmp_path / "corpus"
    make_pdf([[f"Page {n} of the library budget report."] for n in range(1, 21)], corpus / "report.pdf")
    os.symlink("/etc/passwd", corpus / "passwd.txt")
    result = CliRunner().invoke(cli, ["--index-dir", str(tmp_path / "index"), "index", str(corpus)],
                                env={"MINUTES_MODEL": "hashing", "MINUTES_MAX_PAGES": "5"})
    assert result.exit_code == 0, result.output
    assert "capped: the first 5 of 20 pages indexed (max_pages)" in result.stderr
    assert "skipped (not read: links, hidden folders): 1" in result.stderr
    assert "symbolic link out of the folder (to /etc/passwd); not followed" in result.stderr


def test_build_from_settings_applies_the_caps_of_its_settings(tmp_path: Path) -> None:
    """Caps given in code, not only in the environment, reach the ingest (build_from_settings)."""
    from minutes.build import build_from_settings
    from minutes.settings import Settings

    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "long.md").write_text("---\ntitle: Long\n---\n" + " ".join(f"word{i}" for i in range(5000)) + "\n")
    report = build_from_settings(Settings(index_dir=tmp_path / "index", model="hashing", max_passages=2), [papers])
    assert report.passages == 2
    assert any("max_passages" in p.reason for p in report.problems)
