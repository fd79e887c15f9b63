"""Embedding on a Ray cluster: `minutes index --ray [ADDRESS]`.

`RayEmbedder` is an `Embedder` whose `encode` runs one Ray Data job: the texts go out in
blocks, a pool of actors (one a GPU where the cluster has GPUs, else CPU actors) each loads
the model once and embeds its batches, and the vectors come back in order. The build hands
it `texts_per_call` texts at a time, so a job's start-up (actors, model loads) is paid per
65k texts, not per model batch. The vectors are the ones the plain path makes (the same
model code runs in each actor; tests/test_embed_ray.py checks cosine 1.0).

Without ADDRESS a local Ray starts on 127.0.0.1 (no dashboard, usage stats off) and stops
with `close()`. With ADDRESS (`ray://head:10001` or `HOST:6379`) the cluster's workers need
Minutes installed (docs/scale.md).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from minutes.embed import load_embedder
from minutes.errors import ModelError

TEXTS_PER_CALL = 65_536


class _EmbedActor:
    """One Ray actor: the model, loaded once, embedding the batches it is given."""

    def __init__(self, model: str, device: str, batch_size: int, threads: int) -> None:
        self.embedder = load_embedder(model, device=device, threads=threads)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]], batch_size=self.batch_size)
        return {"row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32)}


class RayEmbedder:
    texts_per_call = TEXTS_PER_CALL

    def __init__(self, model: str, address: str | None = None, *, device: str = "cpu", actors: int | None = None,
                 batch_size: int = 64, threads_per_actor: int = 1) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not address:  # a local Ray: every address on loopback (read when ray is imported)
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError as exc:
            raise ModelError("--ray needs Ray: pip install 'minutes[ray]'") from exc
        if not address:  # Ray was imported before the variable was set: the same switch, read at call time
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = False
        local = load_embedder(model)  # the name and size; also fails early on an unknown model
        self.name, self.dimension = local.name, local.dimension
        self.floor: float = local.floor
        self.model, self.batch_size, self.threads = model, batch_size, threads_per_actor
        self._started_here = not ray.is_initialized()
        if self._started_here:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                loopback = {"PYTHONPATH": os.environ.get("PYTHONPATH", ""), "RAY_USAGE_STATS_ENABLED": "0",
                            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
                ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
                         num_cpus=os.cpu_count() or 1, runtime_env={"env_vars": loopback})
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        self.device = "cuda" if self.gpus and device in ("cpu", "cuda") else device
        cpus = int(resources.get("CPU", 1))
        self.actors = actors or (self.gpus or max(1, cpus // threads_per_actor))

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        import ray

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batch = batch_size or self.batch_size
        rows = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)],
                                   override_num_blocks=max(1, min(len(texts) // batch, self.actors * 4)))
        options: dict[str, Any] = {"num_gpus": 1} if self.gpus else {"num_cpus": self.threads}
        vectors = rows.map_batches(_EmbedActor, fn_constructor_kwargs={
            "model": self.model, "device": self.device, "batch_size": batch, "threads": self.threads},
            batch_size=batch * 4, batch_format="numpy", concurrency=min(self.actors, max(1, len(texts) // batch)),
            **options)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for part in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            out[part["row"]] = part["vector"]
        return out

    def close(self) -> None:
        import ray

        if self._started_here and ray.is_initialized():
            ray.shutdown()
