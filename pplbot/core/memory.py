"""Give memory that building freed back to the operating system.

CPython and the Rust libraries (tokenizers, lingua) allocate through the C library's malloc,
which keeps freed memory for reuse instead of returning it; after a build that allocated much
and freed most of it (the index, a detector's models) that shows as resident memory nobody uses.
glibc's `malloc_trim` returns it; elsewhere (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import lru_cache

__all__ = ["release_freed_memory"]


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_freed_memory() -> None:
    """Return freed heap memory to the OS (a millisecond or two; never changes any result)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
