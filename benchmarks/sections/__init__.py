"""The sections of ``python -m benchmarks.run``, one module each.

Each section module has ``run(context) -> list[str]``: it runs its measurement, prints its
tables, adds what it skipped to ``context.skipped`` and returns its markdown parts for
docs/benchmarks.md. The list of sections and their order is in :mod:`benchmarks.run`.
"""
