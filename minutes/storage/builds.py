"""Publishing for backends that keep each build in a folder: `builds/<id>` and a `current` link.

    current -> builds/<id>     symlink to the build that serves; replaced in one atomic rename
    builds/<id>/               a finished build, never modified again
    builds/.tmp-<time>-<pid>/  a build being written; removed when it fails, pruned when its
                               process is gone (SIGKILL cannot be caught)

A failed or killed build therefore leaves the previous index serving.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from minutes.errors import BuildError

KEEP_BUILDS = 2  # the serving build and the one before it


class BuildFolders:
    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.builds = self.index_dir / "builds"

    def current(self) -> Path | None:
        """The folder `current` points at, or None (the link may point at a pruned folder)."""
        link = self.index_dir / "current"
        if not link.is_symlink() and not link.exists():
            return None
        return link.resolve()

    def new_temporary(self) -> Path:
        try:
            self.builds.mkdir(parents=True, exist_ok=True)
            tmp = self.builds / f".tmp-{_stamp()}-{os.getpid()}"
            tmp.mkdir()
        except OSError as exc:
            raise BuildError(f"cannot create a new build in {self.builds}: {exc.strerror or exc}; "
                             "the previous index is still serving") from None
        return tmp

    def finalise(self, tmp: Path) -> Path:
        """Sync every file of `tmp`, then rename it to its final name (not yet published)."""
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
        final = self.builds / _stamp()
        os.rename(tmp, final)
        return final

    def publish(self, build_dir: Path) -> None:
        """Point `current` at `build_dir` in one atomic rename, then prune old builds."""
        temporary = self.index_dir / f".current-{os.getpid()}"
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        temporary.symlink_to(build_dir.relative_to(self.index_dir))
        os.replace(temporary, self.index_dir / "current")
        _fsync_dir(self.index_dir)
        self.prune()

    def discard(self, build_dir: Path) -> None:
        if self.current() != build_dir.resolve():
            shutil.rmtree(build_dir, ignore_errors=True)

    def prune(self) -> None:
        serving = self.current()
        finished = sorted((p for p in self.builds.iterdir() if p.is_dir() and not p.name.startswith(".")),
                          key=lambda p: p.name, reverse=True)
        for old in finished[KEEP_BUILDS:]:
            if old != serving:
                shutil.rmtree(old, ignore_errors=True)
        for leftover in self.builds.glob(".tmp-*"):  # builds that were killed before they finished
            if leftover.is_dir() and not _owner_alive(leftover):
                shutil.rmtree(leftover, ignore_errors=True)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _owner_alive(tmp_dir: Path) -> bool:
    try:
        pid = int(tmp_dir.name.split("-")[-1])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
