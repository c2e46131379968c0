"""Numba kernels: pure functions over arrays, no Python objects inside.

Orchestration lives in plain Python modules (``games``, ``tabular``, ``estimators``).
"""
