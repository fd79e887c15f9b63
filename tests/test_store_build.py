import json
import os
from pathlib import Path

import pytest

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.errors import BuildError, IndexCorrupt, IndexMismatch, IndexMissing
from minutes.search.hybrid import Searcher
from minutes.storage import current_build
from minutes.storage.sqlite_faiss import open_local

from .conftest import CORPUS


def test_build_writes_manifest_and_swaps_in(tmp_path: Path, embedder: HashingEmbedder) -> None:
    report = build_index([CORPUS], tmp_path, embedder)
    build = current_build(tmp_path)
    assert build == report.build_dir
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["model"] == "hashing" and manifest["dimension"] == embedder.dimension
    assert manifest["documents"] == 5 and manifest["passages"] == report.passages > 50
    assert manifest["chunker_version"] and manifest["built_at"]
    index = open_local(tmp_path)
    assert index.vectors.count() == report.passages
    assert index.sql("SELECT count(*) FROM passages")[0][0] == report.passages


def test_unchanged_rebuild_embeds_nothing(tmp_path: Path, embedder: HashingEmbedder) -> None:
    first = build_index([CORPUS], tmp_path, embedder)
    second = build_index([CORPUS], tmp_path, embedder)
    assert first.embedded == first.passages and second.embedded == 0 and second.reused == second.passages
    assert second.build_dir != first.build_dir


def test_changed_document_reembeds_only_what_changed(tmp_path: Path, embedder: HashingEmbedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for source in CORPUS.glob("*.md"):
        (corpus / source.name).write_text(source.read_text())
    first = build_index([corpus], tmp_path / "index", embedder)
    path = corpus / "001_fa3d991d0e00bf66.md"
    path.write_text(path.read_text() + "\n\nRESOLVED – that a new paragraph about school transport be noted.\n")
    (corpus / "002_da68318a5e23e408.md").unlink()
    second = build_index([corpus], tmp_path / "index", embedder)
    assert 1 <= second.embedded <= 3
    assert second.documents == first.documents - 1
    assert open_local(tmp_path / "index").passages.document("002_da68318a5e23e408") is None


def test_failed_build_leaves_previous_index_serving(fresh_index_dir: Path, embedder: HashingEmbedder) -> None:
    before = current_build(fresh_index_dir)

    def explode() -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        build_index([CORPUS], fresh_index_dir, embedder, after_embedding=explode)
    assert current_build(fresh_index_dir) == before
    result = Searcher(open_local(fresh_index_dir), embedder).search("short breaks")
    assert result.hits


def test_no_documents_is_an_error_and_keeps_the_old_index(fresh_index_dir: Path, tmp_path: Path,
                                                          embedder: HashingEmbedder) -> None:
    before = current_build(fresh_index_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BuildError, match="no documents could be read"):
        build_index([empty], fresh_index_dir, embedder)
    with pytest.raises(BuildError, match="no such file or folder"):
        build_index([tmp_path / "absent"], fresh_index_dir, embedder)
    assert current_build(fresh_index_dir) == before


def test_duplicate_ids_are_reported(tmp_path: Path, embedder: HashingEmbedder) -> None:
    (tmp_path / "a.md").write_text('---\ndocument_id: "same"\n---\nfirst text')
    (tmp_path / "b.md").write_text('---\ndocument_id: "same"\n---\nsecond text')
    report = build_index([tmp_path], tmp_path / "index", embedder)
    assert report.documents == 1
    assert len(report.problems) == 1 and "duplicate document_id 'same'" in report.problems[0].reason


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="minutes index"):
        open_local(tmp_path)


def test_mismatched_model_asks_for_rebuild(seed_index_dir: Path) -> None:
    class OtherModel(HashingEmbedder):
        name = "other"

    with pytest.raises(IndexMismatch, match="rebuild"):
        Searcher(open_local(seed_index_dir), OtherModel())


def test_old_chunker_version_asks_for_rebuild(fresh_index_dir: Path, embedder: HashingEmbedder) -> None:
    manifest_path = current_build(fresh_index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["chunker_version"] = "0"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="older version of Minutes.*rebuild"):
        Searcher(open_local(fresh_index_dir), embedder)


@pytest.mark.parametrize("damaged", ["vectors.faiss", "manifest.json", "index.sqlite"])
def test_corrupt_files_are_named(fresh_index_dir: Path, embedder: HashingEmbedder, damaged: str) -> None:
    path = current_build(fresh_index_dir) / damaged
    os.chmod(path, 0o644)
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(IndexCorrupt, match=damaged):
        Searcher(open_local(fresh_index_dir), embedder).search("short breaks")


def test_old_builds_are_pruned(tmp_path: Path, embedder: HashingEmbedder) -> None:
    for _ in range(4):
        build_index([CORPUS], tmp_path, embedder)
    builds = [p for p in (tmp_path / "builds").iterdir() if p.is_dir()]
    assert len(builds) == 2 and current_build(tmp_path) in builds
