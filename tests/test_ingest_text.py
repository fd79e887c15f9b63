from pathlib import Path

import pytest

from minutes.ingest import Problem, load_documents
from minutes.ingest.text import FrontMatterError, split_front_matter

from .conftest import CORPUS


def test_corpus_documents_carry_their_metadata() -> None:
    docs = {d.document_id: d for d in load_documents([CORPUS]) if not isinstance(d, Problem)}
    assert len(docs) == 5
    staffs = docs["004_67b7388c9a981ec9"]
    assert staffs.council == "Staffordshire County Council"
    assert staffs.source_url == "https://moderngov.staffordshire.gov.uk/mgAi.aspx?ID=84777"
    assert staffs.date is not None and staffs.date.text == "2019-11-07"
    stockport = docs["000_fc91bc6c358244ac"]
    assert stockport.source_url is None
    assert len(stockport.see_also) == 2
    assert stockport.text.startswith("Agenda item")


def test_document_without_front_matter_gets_id_from_path(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "note.txt").write_text("Minutes: the committee agreed.")
    [doc] = list(load_documents([tmp_path]))
    assert not isinstance(doc, Problem)
    assert doc.document_id == "sub/note"
    assert doc.council is None


def test_qmsum_style_front_matter(tmp_path: Path) -> None:
    (tmp_path / "m.md").write_text('---\ntitle: "T"\ncouncil: "C"\ndocument_id: "qmsum-x"\n---\n\n**A:** hello .\n')
    [doc] = list(load_documents([tmp_path]))
    assert not isinstance(doc, Problem)
    assert (doc.document_id, doc.title, doc.council) == ("qmsum-x", "T", "C")


@pytest.mark.parametrize(("content", "reason"), [
    ("---\ntitle: [unclosed\n---\ntext", "not valid YAML"),
    ("---\ntitle: x\ntext without end", "never closed"),
    ("---\n- a\n- b\n---\ntext", "must be a mapping"),
    ("---\ndate: \"2019-13-01\"\n---\ntext", "not a real date"),
    ("---\ndate: 2019-13-01\n---\ntext", "not valid YAML"),
    ("   \n\n", "document is empty"),
])
def test_bad_files_are_reported_and_skipped(tmp_path: Path, content: str, reason: str) -> None:
    (tmp_path / "bad.md").write_text(content)
    (tmp_path / "good.md").write_text("Some minutes.")
    items = list(load_documents([tmp_path]))
    problems = [i for i in items if isinstance(i, Problem)]
    documents = [i for i in items if not isinstance(i, Problem)]
    assert [d.document_id for d in documents] == ["good"]
    assert len(problems) == 1 and problems[0].source.endswith("bad.md") and reason in problems[0].reason


def test_split_front_matter_keeps_body_exact() -> None:
    meta, body = split_front_matter("---\na: 1\n---\nline one\n\nline two\n")
    assert meta == {"a": 1}
    assert body == "line one\n\nline two\n"
    with pytest.raises(FrontMatterError):
        split_front_matter("---\na: [\n---\n")
