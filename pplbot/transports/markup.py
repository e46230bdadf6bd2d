"""Render the core's light markup (`**bold**`, `_italic_`) for each kind of output."""

from __future__ import annotations

import html
import re

__all__ = ["numbered", "to_html", "to_plain"]

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w])_(?!\s)(.+?)(?<!\s)_(?![\w])", re.DOTALL)


def to_plain(text: str) -> str:
    return _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))


def to_html(text: str) -> str:
    """Escape everything, then turn the light markup into <b>/<i>; newlines stay newlines."""
    escaped = html.escape(text, quote=False)
    return _ITALIC.sub(r"<i>\1</i>", _BOLD.sub(r"<b>\1</b>", escaped))


def numbered(labels: list[str]) -> str:
    """Options as a numbered list, one per line."""
    return "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
