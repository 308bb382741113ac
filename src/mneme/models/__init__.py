"""Models: any core composed with any sequence task, the task-facing models, and the recipes.

- ``sequence``: ``SequenceModel`` = input adapter + core + head, built for any (core, task) pair
  from the task's ``TaskInfo`` (``compose``).
- ``build``: what ``--model NAME`` means (a task-facing model, else a core composed with the task)
  and ``build_model``.
- ``recipes``: the training recipes as one table keyed by (task or family, model or family).
- ``lm``, ``seq2seq``: the task-facing language models and encoder-decoders (MemN2N, MemNN and
  the pointer network register beside their mechanisms).
"""

from mneme.models.sequence import SequenceModel, compose, composed_config

__all__ = ["SequenceModel", "compose", "composed_config"]
