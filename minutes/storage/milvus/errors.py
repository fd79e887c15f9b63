"""Milvus refusing or not answering, as errors that say so (a 503 from the web layer, one line in the CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from minutes.errors import IndexMissing


class MilvusUnavailable(IndexMissing):
    """The Milvus server cannot be reached or refused a read: no index can be served now."""


@contextmanager
def answering(what: str) -> Iterator[None]:
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise MilvusUnavailable(f"Milvus did not answer a read of {what}: {exc.message}") from None
