"""External memory: memory networks that read (and later write) a memory outside the controller.

``memn2n``: End-To-End Memory Network (Sukhbaatar et al. 2015).
"""

from mneme.memory.memn2n import (
    MemN2N,
    MemN2NConfig,
    MemN2NTrace,
    QASizes,
    build_memn2n,
    memn2n_reference,
    position_encoding,
)

__all__ = [
    "MemN2N",
    "MemN2NConfig",
    "MemN2NTrace",
    "QASizes",
    "build_memn2n",
    "memn2n_reference",
    "position_encoding",
]
