"""Extraction of PDF, Word and HTML files in a child process, with a time and a memory cap.

A reader in C (PDFium, libxml2) cannot be stopped halfway through a page from Python, and
a file that makes it allocate gigabytes would take the indexer with it. So the slow
readers run in one long-lived child process (started from multiprocessing's fork server,
so it carries no threads or model of the parent) whose address space is capped with
RLIMIT_AS; the parent waits at most `max_seconds` for each file. A file over either cap is
refused with the cap named, the child is replaced, and the next file goes on.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import resource
from pathlib import Path
from typing import Any

from minutes.errors import InputError
from minutes.ingest import limits as caps
from minutes.records import Document

_PRELOAD = ["minutes.ingest.sandbox", "minutes.ingest.pdf", "minutes.ingest.docx", "minutes.ingest.html"]


class ExtractionRefused(InputError):
    """A file over the time or memory cap (the message names the cap)."""


def failure_reason(exc: BaseException) -> str:
    reason = str(exc).strip() or type(exc).__name__
    return reason if isinstance(exc, ValueError) else f"{type(exc).__name__}: {reason}"


def _serve(conn: Any, memory_mb: int) -> None:
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            module, name, path, root, limits = conn.recv()
        except (EOFError, OSError):
            return
        reader = getattr(importlib.import_module(module), name)
        with caps.applying(limits) as notes:
            try:
                result: tuple[str, Any, list[str]] = ("ok", list(reader(Path(path), Path(root))), notes)
            except MemoryError:
                result = ("error", f"needed more than {memory_mb:,} MB of memory (max_extract_memory_mb); "
                                   "not indexed", notes)
            except Exception as exc:  # the parent reports it as the file's failure
                result = ("error", failure_reason(exc), notes)
        conn.send(result)


class Sandbox:
    """One child process that extracts files, replaced whenever a file breaks a cap."""

    def __init__(self) -> None:
        self._process: Any = None
        self._conn: Any = None
        self._memory_mb = 0

    def _start(self, memory_mb: int) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, memory_mb), daemon=True,
                                        name="minutes-extract")
        self._process.start()
        child.close()
        self._conn, self._memory_mb = parent, memory_mb

    def stop(self) -> None:
        if self._process is not None:
            self._conn.close()
            self._process.kill()
            self._process.join(5)
            self._process = self._conn = None

    def extract(self, reader: Any, path: Path, root: Path, limits: caps.Limits) -> tuple[list[Document], list[str]]:
        """The reader's documents and the caps' notes; raises ExtractionRefused or ValueError."""
        if self._process is None or not self._process.is_alive() or self._memory_mb != limits.max_memory_mb:
            self.stop()
            self._start(limits.max_memory_mb)
        self._conn.send((reader.__module__, reader.__qualname__, str(path), str(root), limits))
        if not self._conn.poll(limits.max_seconds):
            self.stop()
            raise ExtractionRefused(f"extraction took longer than {limits.max_seconds:g} s "
                                    "(max_seconds_per_file); not indexed")
        try:
            status, value, notes = self._conn.recv()
        except (EOFError, OSError):
            self._process.join(5)
            code = self._process.exitcode
            self.stop()
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            raise ExtractionRefused(f"the extraction process died ({how}); the file probably needs more than "
                                    f"{limits.max_memory_mb:,} MB of memory (max_extract_memory_mb); "
                                    "not indexed") from None
        if status != "ok":
            raise ValueError(value)
        return value, notes


def enabled() -> bool:
    """Off only when MINUTES_EXTRACT_IN_PROCESS=1 (debugging a reader with a debugger)."""
    return os.environ.get("MINUTES_EXTRACT_IN_PROCESS") != "1"
