"""The query side of `minilm-tuned` for the benches, over an index built with `minilm`.

`minilm-tuned` has passage vectors identical to `minilm`'s, so the benches measure its query
adapter on their `minilm` indexes (no second build of 9,311 passages): this wrapper keeps the
inner model's name for the index's compatibility check and puts each query through the
adapter, as `minutes.embed.AdaptedEmbedder.encode_query` does.
"""

from __future__ import annotations

import numpy as np

from minutes.embed import QueryAdapter


class Adapted:
    def __init__(self, inner, adapter: QueryAdapter | None) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.adapter = inner, adapter
        self.name, self.dimension, self.floor = inner.name, inner.dimension, inner.floor

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.inner.encode(texts, batch_size)
        return vectors if self.adapter is None else self.adapter(vectors)
