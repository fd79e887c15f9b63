"""Faults: a full disk or read-only index folder during a build, a damaged index at start-up,
and searches running while rebuilds swap the index in.

A SIGKILL during indexing is covered by the ingestion tests (tests/test_crash*.py).
The write errors below are the ones a real full or read-only filesystem raises; they were
checked on a small tmpfs (docs/reliability.md) and are injected here so the suite needs no mount.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.errors import BuildError
from minutes.settings import Settings
from minutes.storage import current_build, open_backend, open_index
from minutes.storage.sqlite_errors import SqliteWriteError

from .conftest import CORPUS

REBUILD_HINT = "minutes index --rebuild"


def disk_full(*_args: Any, **_kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def read_only(*_args: Any, **_kwargs: Any) -> Any:
    raise OSError(errno.EROFS, os.strerror(errno.EROFS))


def sqlite_full(*_args: Any, **_kwargs: Any) -> Any:
    raise SqliteWriteError("database or disk is full")  # what the writers raise for sqlite3's error


def faiss_full(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("Error in void faiss::write_index(...): write error in vectors.faiss: 49107 != 113664 "
                       "(No space left on device)")


def sqlite_read_only(*_args: Any, **_kwargs: Any) -> Any:
    raise SqliteWriteError("unable to open database file")


class FaultyWriter:
    """A real writer whose `step` raises `fault` (what a backend's writer raises when the disk fails)."""

    def __init__(self, real: Any, step: str, fault: Any) -> None:
        self.real, self.step, self.fault = real, step, fault

    def __getattr__(self, name: str) -> Any:
        return self.fault if name == self.step else getattr(self.real, name)


class FaultyBackend:
    """The real local backend, with a fault at one step of the writer interface."""

    def __init__(self, index_dir: Path, step: str, fault: Any) -> None:
        self.real, self.step, self.fault = open_backend(index_dir), step, fault

    def writer(self, dimension: int, **options: Any) -> Any:
        if self.step == "writer":
            self.fault()
        return FaultyWriter(self.real.writer(dimension, **options), self.step, self.fault)

    def publish(self, build: Any) -> None:
        if self.step == "publish":
            self.fault()
        self.real.publish(build)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


# (where the fault strikes, the step of the writer interface, the fault, words the error must contain)
WRITER_FAULTS = [
    ("new build (read-only)", "writer", read_only, "Read-only file system"),
    ("documents (disk full)", "add", sqlite_full, "database or disk is full"),
    ("keyword index (disk full)", "finish_passages", sqlite_full, "database or disk is full"),
    ("vectors (disk full)", "write_vectors", faiss_full, "No space left on device"),
    ("manifest and sync (disk full)", "finish", disk_full, "No space left on device"),
    ("publish (disk full)", "publish", disk_full, "No space left on device"),
]
# The local backend's own file operations and the vector cache, beneath the interface.
FILE_FAULTS = [
    ("vector cache (read-only)", "minutes.storage.vector_cache.VectorCache.__init__", sqlite_read_only,
     "unable to open database file"),
    ("vector cache (disk full)", "minutes.storage.vector_cache.VectorCache.put", sqlite_full,
     "database or disk is full"),
    ("fsync (disk full)", "minutes.storage.builds.os.fsync", disk_full, "No space left on device"),
    ("rename into place", "minutes.storage.builds.os.rename", read_only, "Read-only file system"),
    ("swap of current", "minutes.storage.builds.os.replace", disk_full, "No space left on device"),
]


def _assert_old_build_serves(index_dir: Path, before: Path) -> None:
    """The old build still serves, whole, and no half-written build is left behind."""
    assert current_build(index_dir) == before
    index = open_index(index_dir)
    assert index.passages.passages([0]) and index.vectors.count() == index.manifest.passages > 0
    assert [p.name for p in (index_dir / "builds").iterdir()] == [before.name]


@pytest.mark.parametrize(("where", "step", "fault", "words"), WRITER_FAULTS, ids=[f[0] for f in WRITER_FAULTS])
def test_writer_fault_leaves_the_old_index_serving(fresh_index_dir: Path, embedder: HashingEmbedder,
                                                   where: str, step: str, fault: Any, words: str) -> None:
    before = current_build(fresh_index_dir)
    assert before is not None
    with pytest.raises(BuildError) as error:
        build_index([CORPUS], fresh_index_dir, embedder, backend=FaultyBackend(fresh_index_dir, step, fault))
    message = str(error.value)
    assert words in message and "previous index is still serving" in message, message
    _assert_old_build_serves(fresh_index_dir, before)


@pytest.mark.parametrize(("where", "target", "fault", "words"), FILE_FAULTS, ids=[f[0] for f in FILE_FAULTS])
def test_file_fault_during_a_build_leaves_the_old_index_serving(
        fresh_index_dir: Path, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch,
        where: str, target: str, fault: Any, words: str) -> None:
    before = current_build(fresh_index_dir)
    assert before is not None
    if "VectorCache.put" in target:  # only a build that embeds something writes to the cache
        (fresh_index_dir / "cache.sqlite").unlink()
    monkeypatch.setattr(target, fault)
    with pytest.raises(BuildError) as error:
        build_index([CORPUS], fresh_index_dir, embedder)
    message = str(error.value)
    assert words in message and "previous index is still serving" in message, message
    monkeypatch.undo()
    _assert_old_build_serves(fresh_index_dir, before)


def test_cli_reports_a_full_disk_in_one_line(fresh_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minutes.cli import cli

    monkeypatch.setattr("minutes.storage.sqlite_faiss.writer.SqliteFaissWriter.add", sqlite_full)
    result = CliRunner().invoke(cli, ["--index-dir", str(fresh_index_dir), "index", str(CORPUS)],
                                env={"MINUTES_MODEL": "hashing"})
    assert result.exit_code == 1
    assert "Error: could not write the new index in" in result.output
    assert "database or disk is full; the previous index is still serving" in result.output
    assert "Traceback" not in result.output


def test_a_write_the_disk_dropped_is_caught_before_the_swap(fresh_index_dir: Path,
                                                            embedder: HashingEmbedder) -> None:
    """FAISS only warns when its final flush fails; the build reads its index back before publishing."""
    before = current_build(fresh_index_dir)
    backend = FaultyBackend(fresh_index_dir, "write_vectors", None)

    def writer(dimension: int, **options: Any) -> Any:
        real: Any = backend.real.writer(dimension, **options)

        def truncated(*args: Any) -> Any:
            facts = real.write_vectors(*args)
            path = real.path / "vectors.faiss"
            path.write_bytes(path.read_bytes()[:1000])
            return facts

        return FaultyWriter(real, "write_vectors", truncated)

    backend.writer = writer  # type: ignore[method-assign]
    with pytest.raises(BuildError, match="vectors.faiss"):
        build_index([CORPUS], fresh_index_dir, embedder, backend=backend)
    assert current_build(fresh_index_dir) == before


# A damaged file in the serving build: (file, how it is damaged)
DAMAGE = [
    ("vectors.faiss", b"not a faiss index"),
    ("vectors.faiss", None),  # missing
    ("manifest.json", b"{not json"),
    ("index.sqlite", b"SQLite format 3\x00" + b"\xff" * 5000),
    ("index.sqlite", b"garbage" * 100),
]


@pytest.mark.parametrize(("name", "content"), DAMAGE, ids=[f"{n}-{'missing' if c is None else c[:8]!r}"
                                                          for n, c in DAMAGE])
def test_damaged_index_at_start_up_answers_503_naming_the_file_and_the_fix(
        fresh_index_dir: Path, embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture,
        name: str, content: bytes | None) -> None:
    from minutes.web.app import create_app

    build = current_build(fresh_index_dir)
    assert build is not None
    target = build / name
    target.unlink()
    if content is not None:
        target.write_bytes(content)
    settings = Settings(index_dir=fresh_index_dir, model="hashing")
    with caplog.at_level("WARNING", logger="minutes"), TestClient(create_app(settings, embedder=embedder)) as client:
        for path in ("/healthz", "/api/search?q=budget", "/api/documents/anything"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            body = response.json()
            assert set(body) == {"ok", "error", "status"} and body["status"] == 503
            assert str(target) in body["error"] and REBUILD_HINT in body["error"], body
        page = client.get("/?q=budget")
        assert page.status_code == 503 and REBUILD_HINT in page.text and "Traceback" not in page.text
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert str(target) in logged and REBUILD_HINT in logged  # what `minutes serve` prints at start-up

    # The fix the message names works, and a running server picks it up without a restart.
    build_index([CORPUS], fresh_index_dir, embedder)


def test_serve_with_a_damaged_index_says_which_file_and_how_to_fix_it(fresh_index_dir: Path) -> None:
    """`minutes serve` itself: the start-up log names the file and the fix (the server still starts)."""
    import subprocess
    import sys

    from .conftest import ROOT
    from .support.server import free_port

    build = current_build(fresh_index_dir)
    assert build is not None
    (build / "vectors.faiss").write_bytes(b"not a faiss index")
    port = free_port()
    env = os.environ | {"MINUTES_INDEX_DIR": str(fresh_index_dir), "MINUTES_MODEL": "hashing",
                        "MINUTES_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "minutes", "serve", "--no-build"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ""
    try:
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while time.monotonic() < deadline and "Application startup complete" not in output:
            line = process.stdout.readline()
            if not line:
                break
            output += line
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert f"cannot read {build / 'vectors.faiss'}" in output and REBUILD_HINT in output, output
    assert "Traceback" not in output, output


# Concurrency: searches while rebuilds swap the index in.

def corpus_copy(target: Path, prefix: str) -> set[str]:
    """The seed corpus with every document_id prefixed, so each hit says which build it came from."""
    target.mkdir(parents=True)
    ids = set()
    for source in sorted(CORPUS.glob("*.md")):
        if source.name.lower() == "readme.md":
            continue
        text = source.read_text()
        assert text.startswith("---\n") and "\ndocument_id:" in text
        lines = []
        for line in text.split("\n"):
            if line.startswith("document_id:"):
                value = json.loads(line.split(":", 1)[1].split("#")[0].strip())
                ids.add(f"{prefix}{value}")
                line = f"document_id: {json.dumps(prefix + value)}"
            lines.append(line)
        (target / source.name).write_text("\n".join(lines))
    return ids


def test_searches_during_rebuilds_get_whole_answers_from_one_build(
        tmp_path: Path, embedder: HashingEmbedder) -> None:
    from minutes.web.app import create_app

    corpora = {label: (tmp_path / f"corpus-{label}", None) for label in ("a", "b")}
    ids = {label: corpus_copy(path, f"{label}-") for label, (path, _) in corpora.items()}
    index_dir = tmp_path / "index"
    built: dict[str, str] = {}  # build folder name -> corpus label
    report = build_index([corpora["a"][0]], index_dir, embedder)
    assert report.build_dir is not None
    built[report.build_dir.name] = "a"

    stop = threading.Event()
    problems: list[str] = []
    seen: Counter[str] = Counter()
    swaps = 0

    def rebuild() -> None:
        nonlocal swaps
        label = "b"
        while not stop.is_set():
            done = build_index([corpora[label][0]], index_dir, embedder)
            assert done.build_dir is not None
            built[done.build_dir.name] = label
            swaps += 1
            label = "a" if label == "b" else "b"

    responses: list[tuple[str, str, list[str]]] = []

    def search(client: TestClient, worker: int) -> None:
        queries = ["budget savings", "short breaks", "children's services", "Earned Autonomy funding"]
        n = 0
        while not stop.is_set():
            n += 1
            query = queries[(n + worker) % len(queries)]
            response = client.get("/api/search", params={"q": query, "k": 20})
            if response.status_code != 200:
                problems.append(f"{response.status_code}: {response.text}")
                continue
            hits = [hit["document_id"] for hit in response.json()["hits"]]
            responses.append((response.headers["x-minutes-index"], query, hits))
            if hits:
                document = client.get(f"/api/documents/{hits[0]}")
                if document.status_code != 200 and not (document.status_code == 404 and
                                                        document.headers.get("x-minutes-index") !=
                                                        response.headers["x-minutes-index"]):
                    problems.append(f"document {hits[0]}: {document.status_code} {document.text}")

    settings = Settings(index_dir=index_dir, model="hashing")
    with TestClient(create_app(settings, embedder=embedder)) as client:
        builder = threading.Thread(target=rebuild)
        workers = [threading.Thread(target=search, args=(client, i)) for i in range(4)]
        for thread in [builder, *workers]:
            thread.start()
        # Until enough swaps and searches happened (about 2 s here; longer on a busy machine).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (swaps >= 4 and len(responses) >= 100 and not problems):
            time.sleep(0.1)
        stop.set()
        for thread in [builder, *workers]:
            thread.join(timeout=60)

    assert not problems, problems[:5]
    assert swaps >= 3, f"only {swaps} rebuilds swapped in"
    for build_name, query, hits in responses:
        label = built[build_name]
        seen[label] += 1
        mixed = [h for h in hits if h not in ids[label]]
        assert not mixed, f"{query!r} answered by build {build_name} ({label}) holds hits of another: {mixed}"
    assert seen["a"] and seen["b"], seen  # both builds really served while the test ran
    assert len(responses) >= 50, len(responses)


def test_old_build_removed_under_a_running_server_keeps_serving(
        fresh_index_dir: Path, embedder: HashingEmbedder) -> None:
    """Old builds are pruned after swaps; a server holding one must not fail while the next opens."""
    from minutes.web.app import create_app

    with TestClient(create_app(Settings(index_dir=fresh_index_dir, model="hashing"), embedder=embedder)) as client:
        first = client.get("/api/search?q=budget")
        assert first.status_code == 200
        old = first.headers["x-minutes-index"]
        shutil.rmtree(fresh_index_dir / "builds" / old)  # what pruning does to an old build
        for _ in range(3):
            build_index([CORPUS], fresh_index_dir, embedder)
            response = client.get("/api/search?q=budget")
            assert response.status_code == 200 and response.headers["x-minutes-index"] != old


def test_a_damaged_new_build_does_not_replace_the_one_serving(
        fresh_index_dir: Path, embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture) -> None:
    """A build damaged after its swap (disk error, a person) is refused; the server keeps the old one."""
    from minutes.web.app import create_app

    with TestClient(create_app(Settings(index_dir=fresh_index_dir, model="hashing"), embedder=embedder)) as client:
        serving = client.get("/api/search?q=budget").headers["x-minutes-index"]
        report = build_index([CORPUS], fresh_index_dir, embedder)
        assert report.build_dir is not None and report.build_dir.name != serving
        (report.build_dir / "vectors.faiss").write_bytes(b"damaged after the swap")
        with caplog.at_level("ERROR", logger="minutes"):
            for _ in range(5):
                response = client.get("/api/search?q=budget")
                assert response.status_code == 200 and response.headers["x-minutes-index"] == serving
        refusals = [r for r in caplog.records if "cannot be opened; still serving" in r.getMessage()]
        assert len(refusals) == 1 and str(report.build_dir) in refusals[0].getMessage()  # logged once, not retried
        # The next good build is taken up as usual.
        assert build_index([CORPUS], fresh_index_dir, embedder).build_dir is not None
        assert client.get("/api/search?q=budget").headers["x-minutes-index"] not in (serving, report.build_dir.name)
        assert client.get("/healthz").status_code == 200


@pytest.mark.slow
def test_real_server_swaps_under_load_without_mixing(tmp_path: Path, embedder: HashingEmbedder) -> None:
    """The swap test against a real `minutes serve` (uvicorn, its own thread pool) on 127.0.0.1."""
    import urllib.request

    from .support.server import live_server

    corpora = {label: tmp_path / f"corpus-{label}" for label in ("a", "b")}
    ids = {label: corpus_copy(path, f"{label}-") for label, path in corpora.items()}
    index_dir = tmp_path / "index"
    built: dict[str, str] = {}
    first = build_index([corpora["a"]], index_dir, embedder)
    assert first.build_dir is not None
    built[first.build_dir.name] = "a"
    stop = threading.Event()
    problems: list[str] = []
    answers: list[tuple[str, list[str]]] = []
    with live_server(index_dir, tmp_path, {"MINUTES_MODEL": "hashing"}) as base:

        def search(worker: int) -> None:
            queries = ["budget+savings", "short+breaks", "Earned+Autonomy+funding", "children%27s+services"]
            n = 0
            while not stop.is_set():
                n += 1
                url = f"{base}/api/search?k=20&q={queries[(n + worker) % len(queries)]}"
                try:
                    with urllib.request.urlopen(url, timeout=30) as response:
                        hits = [h["document_id"] for h in json.loads(response.read())["hits"]]
                        answers.append((response.headers["X-Minutes-Index"], hits))
                except Exception as exc:  # every failure is a finding
                    problems.append(f"{url}: {exc}")

        workers = [threading.Thread(target=search, args=(i,)) for i in range(8)]
        try:
            for thread in workers:
                thread.start()
            label = "b"
            for _ in range(6):
                done = build_index([corpora[label]], index_dir, embedder)
                assert done.build_dir is not None
                built[done.build_dir.name] = label
                label = "a" if label == "b" else "b"
                time.sleep(0.3)
        finally:
            stop.set()
            for thread in workers:
                thread.join(timeout=60)
    assert not problems, problems[:5]
    assert len(answers) >= 50 and len({name for name, _ in answers}) >= 3
    for name, hits in answers:
        assert not [h for h in hits if h not in ids[built[name]]], (name, hits)
