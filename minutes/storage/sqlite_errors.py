"""SQLite errors of the storage layer's writers as OSError, so nothing above storage needs
to know sqlite3: a full disk or a read-only folder reads the same from every backend."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class SqliteWriteError(OSError):
    """A SQLite write that failed (disk full, read-only file, damaged database)."""


def as_os_error(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as exc:
            raise SqliteWriteError(str(exc)) from exc
    return wrapper
