"""Support shared by the tests and the benchmarks (`python -m bench.NAME` runs from the root).

It lives beside the tests rather than in `minutes/` so that test code never ships in the wheel
and never appears in the library's import graph: only this checkout's tests and bench use it.

- `server`: `free_port`, `start_server` / `live_server` (a real `minutes serve` on loopback).
- `embedders`: stand-in embedders (`CachedOnly`, `CachedEmbedder`, `Filler`, `CountingEmbedder`).
"""
