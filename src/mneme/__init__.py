"""mneme: neural sequence models with memory, and the benchmark that compares them.

The four kinds of memory: internal state (``mneme.cells``), attention (``mneme.attention``),
external memory (``mneme.memory``) and associative memory (``mneme.associative``).
"""

__version__ = "0.2.0"

from mneme.errors import MnemeError, UserError

__all__ = ["MnemeError", "UserError", "__version__"]
