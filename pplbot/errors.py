"""The one error hierarchy of pplbot.

    PplbotError
     ├── ConfigError        a setting is missing or invalid (names the setting)
     ├── KnowledgeError     the knowledge base has problems (carries every Issue)
     └── StoreError         the state store is unavailable or corrupt

User input never raises: unknown text, bad answers and floods are ordinary replies.
These exceptions are for start-up problems and faults of the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ConfigError", "Issue", "KnowledgeError", "PplbotError", "StoreError"]


class PplbotError(Exception):
    """Base of every error pplbot raises on purpose."""


class ConfigError(PplbotError):
    """A setting is missing or invalid."""


class StoreError(PplbotError):
    """The state store failed (unavailable, corrupt, locked)."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a knowledge file: where it is and what is wrong."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class KnowledgeError(PplbotError):
    """The knowledge base could not be loaded; `issues` lists every problem."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))
