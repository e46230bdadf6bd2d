"""Commands: "/name args" or "!name args" (Telegram's "/name@botname" too)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Command", "parse_command"]

_COMMAND = re.compile(r"^[/!]([A-Za-z][A-Za-z0-9_-]{0,31})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # lower-case, without prefix
    args: str  # the rest, stripped (may be empty or multi-line)


def parse_command(text: str) -> Command | None:
    """Return the command in `text`, or None when it is not one."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return Command(match.group(1).lower(), (match.group(2) or "").strip())
