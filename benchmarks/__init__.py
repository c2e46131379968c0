"""Benchmark harness for shapkit: games with known Shapley values, methods, metrics.

Run everything with ``python -m benchmarks.run`` (add ``--quick`` for a smoke run).
"""
