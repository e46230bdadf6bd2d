"""A parsed knowledge file as plain data, with the line of every value for error messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Document", "Path", "format_path"]

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML file read from disk.

    `data` is what the file holds (dicts, lists, scalars); `lines` maps a path such as
    ("entries", 3, "answer") to its 1-based line; `raw` holds the source text of scalars that
    YAML did not read as strings (so a message can say that `yes` became a boolean).
    """

    file: str
    data: object
    lines: Mapping[Path, int] = field(default_factory=dict)
    raw: Mapping[Path, str] = field(default_factory=dict)
    syntax_error: str | None = None
    syntax_line: int = 0

    def line(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
