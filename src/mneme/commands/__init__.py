"""The commands behind ``mneme ask``, ``generate``, ``translate``, ``hopfield`` and ``diagnose``.

Layer 7 (DESIGN.md, "Layers"): these modules read stdin or command-level options and write user
files; ``mneme.cli`` parses argv and calls them. No other package of mneme imports this one.
"""
