"""The ``mneme`` commands, one module each: ``train``, ``eval``, ``bench``, ``plot``, ``ask``,
``generate``, ``translate``, ``data``, ``hopfield``, ``diagnose`` (``hopfield_capacity`` holds the
measurements and outputs of ``hopfield capacity``).

Layer 7 (DESIGN.md, "Layers"): each module declares its options as one frozen dataclass (fields
documented for ``--help``), with ``run(args) -> int`` and ``main(argv) -> int`` beside it
(``mneme.commands.parsing``); ``mneme.cli`` dispatches to ``main``. No other package of mneme
imports this one.
"""
