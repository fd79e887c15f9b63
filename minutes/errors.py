"""Errors a person can fix, each with a message that says how.

Everything Minutes raises on purpose derives from `MinutesError`; the CLI prints it as one
line and exits 1, the web layer answers it as a 4xx/5xx with the message. Anything else is a
programming error and keeps its traceback.
"""

from __future__ import annotations


class MinutesError(Exception):
    """Base of every error Minutes raises on purpose."""


class IndexProblem(MinutesError, RuntimeError):
    """The index is missing, damaged or was built differently (the message says how to fix it)."""


class IndexMissing(IndexProblem):
    pass


class IndexMismatch(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class BuildError(MinutesError, RuntimeError):
    """A build failed; the previous index still serves."""


class QueryError(MinutesError, ValueError):
    """A query that cannot be searched; the message says what to change."""


class ModelError(MinutesError, RuntimeError):
    """The embedding model cannot be loaded."""


class DateError(MinutesError, ValueError):
    """A date that is not ISO 8601 (YYYY, YYYY-MM or YYYY-MM-DD, or an interval)."""


class InputError(MinutesError, ValueError):
    """A file or response that cannot be read (reported and skipped, never fatal to a run)."""
