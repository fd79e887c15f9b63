"""Benchmarks: run each as a module from the repository root, e.g. `.venv/bin/python -m bench.latency`.

Figures go to docs/benchmarks.md (and docs/reliability.md) with the machine, date and command.
`bench/gpu_embed.py` is the exception: it runs alone on a lent GPU machine (see its docstring).
"""
