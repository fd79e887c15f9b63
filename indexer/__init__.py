"""Minutes indexer: a plain library (no web imports) that reads, chunks, embeds, stores and searches."""

__version__ = "0.1.0"
