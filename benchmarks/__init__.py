"""Benchmark harness for shapkit: games with known Shapley values, methods, metrics.

Run everything with ``python -m benchmarks.run`` (add ``--quick`` for a smoke run).

Layout (imports point down this list; ``python docs/module_picture.py benchmarks``):

* ``run``: the command line and the list of sections;
* ``sections.accuracy``, ``sections.speed``, ``sections.time_to_accuracy``,
  ``sections.coldstart``: one section each (its measurement run, console tables, markdown);
* ``verify``: ``--verify``, every method on a d=6 unanimity game;
* ``settings``: the section sizes and the context each section gets;
* ``target``, ``speed``, ``coldstart``: the time-to-accuracy walk, the speed timing and the
  cold-start child processes (``coldstart`` is also ``python -m benchmarks.coldstart``);
* ``comparison``: paired differences and verdicts against the anchors;
* ``runs``: one scored run of a method on a game, its warm-up, the one-thread context;
* ``report``: markdown tables, console tables, the report file; ``machine``: the machine
  description;
* ``games``, ``methods``, ``metrics``: the games with exact values, the methods compared
  (shapkit's and the anchors), the error metrics and timers.

Separate scripts, each writing its own section of docs/benchmarks.md: ``proxy``,
``trees``, ``selection``, ``scale``.
"""
