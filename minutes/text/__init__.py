"""Text rules every layer shares: the query language, "the same word" (stemming), sentences."""
