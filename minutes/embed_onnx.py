"""Query vectors through ONNX Runtime: the same MiniLM weights at about a third of torch's CPU.

A search embeds one short question, and torch's eager kernels spend most of that on
per-operator overhead (at one thread: 15.7 ms a question in torch, 5.8 ms here; see
docs/benchmarks.md, "Query embedding"). The transformer is exported from the weights already
loaded, in memory, once per process: nothing is written to disk, and the vectors are the
torch model's (checked on a probe at start-up; they differ by about 2e-7). Mean pooling and
unit length are done here as sentence-transformers' Pooling and Normalize modules do them.

sentence-transformers' own ONNX backend needs `optimum-onnx`, whose releases do not install
beside transformers 5, hence the export with torch.onnx.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np

from minutes.errors import ModelError

log = logging.getLogger("minutes")

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBE = "  Was the short breaks consultation agreed by the Cabinet in March?"
MOST_DIFFERENT = 1e-4  # largest element-wise difference from torch's vector that is accepted


class OnnxQueryEncoder:
    """Embeds questions with an ONNX Runtime session built from a sentence-transformers model."""

    def __init__(self, model: Any, threads: int = 1) -> None:
        import onnxruntime
        import torch

        transformer = model[0]
        self.tokenizer, self.max_length = transformer.tokenizer, model.max_seq_length
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(_export(transformer.auto_model, self._tokens([PROBE]), torch),
                                                    options, providers=["CPUExecutionProvider"])
        expected = model.encode([PROBE], normalize_embeddings=True, convert_to_numpy=True)[0]
        difference = float(np.abs(self.encode([PROBE])[0] - expected).max())
        if difference > MOST_DIFFERENT:
            raise ModelError(f"the ONNX query model differs from the torch model by {difference:.2g}")

    def _tokens(self, texts: list[str]) -> dict[str, np.ndarray]:
        # sentence-transformers strips each text before tokenising; so must we, or vectors drift
        tokens = self.tokenizer([text.strip() for text in texts], padding=True, truncation=True,
                                max_length=self.max_length, return_tensors="np")
        return {name: np.asarray(tokens[name], dtype=np.int64) for name in INPUTS}

    def encode(self, texts: list[str]) -> np.ndarray:
        tokens = self._tokens(texts)
        hidden = self.session.run(None, tokens)[0]
        mask = tokens["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _export(bert: Any, example: dict[str, np.ndarray], torch: Any) -> bytes:
    class LastHidden(torch.nn.Module):  # keyword arguments: BertModel's positional order changed in transformers 5
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "hidden")}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side branches: shapes are dynamic axes
        torch.onnx.export(LastHidden().eval(), tuple(torch.from_numpy(example[name]) for name in INPUTS), buffer,
                          input_names=list(INPUTS), output_names=["hidden"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    return buffer.getvalue()


def onnx_query_encoder(model: Any, threads: int) -> OnnxQueryEncoder | None:
    """The ONNX encoder, or None (queries stay on torch) where it cannot be built here."""
    try:
        return OnnxQueryEncoder(model, threads)
    except ImportError as exc:
        log.warning("queries are embedded with torch: ONNX Runtime is not installed (%s)", exc)
    except Exception as exc:  # noqa: BLE001 - any failure to export or check keeps the torch path, which is correct
        log.warning("queries are embedded with torch: the ONNX query model could not be built (%s)", exc)
    return None
