"""Render the core's light markup (`**bold**`, `_italic_`) for each kind of output."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["CONSOLE", "MATRIX", "TELEGRAM", "HintStyle", "hints", "numbered", "spans", "to_html", "to_plain"]

_HINT = re.compile(r"\[\[([a-z]+)(?: ([^\]]+))?\]\]")


@dataclass(frozen=True, slots=True)
class HintStyle:
    """How a network spells the bot's commands: `prefix` + name, and how to ask a question."""

    prefix: str  # "" in the terminal, "!" on Matrix, "/" on Telegram
    ask: str  # what comes before a question: "" in the terminal, "!ppl " on Matrix, "/ask " on Telegram


CONSOLE = HintStyle("", "")
MATRIX = HintStyle("!", "!ppl ")
TELEGRAM = HintStyle("/", "/ask ")


def hints(text: str, style: HintStyle) -> str:
    """Spell the core's command hints ([[quiz]], [[ask QUESTION]]) the way this network expects."""

    def spell(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2)
        if name == "ask" and rest:
            return f"{style.ask}{rest}" if style.ask else f'"{rest}"'
        return f"{style.prefix}{name}" + (f" {rest}" if rest else "")

    return _HINT.sub(spell, text)


_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w])_(?!\s)(.+?)(?<!\s)_(?![\w])", re.DOTALL)


def spans(text: str) -> list[tuple[str, bool, bool]]:
    """The text as (piece, bold, italic) runs. Italics are found inside each bold or plain run
    separately, so the markup always nests properly and plain text and HTML agree."""
    out: list[tuple[str, bool, bool]] = []
    for i, part in enumerate(_BOLD.split(text)):
        bold = i % 2 == 1
        for j, piece in enumerate(_ITALIC.split(part)):
            if piece:
                out.append((piece, bold, j % 2 == 1))
    return out


def to_plain(text: str) -> str:
    return "".join(piece for piece, _, _ in spans(text))


def to_html(text: str) -> str:
    """Escape everything, then turn the light markup into <b>/<i>; newlines stay newlines."""
    out = []
    for piece, bold, italic in spans(text):
        html_piece = html.escape(piece, quote=False)
        if italic:
            html_piece = f"<i>{html_piece}</i>"
        if bold:
            html_piece = f"<b>{html_piece}</b>"
        out.append(html_piece)
    return "".join(out)


def numbered(labels: list[str]) -> str:
    """Options as a numbered list, one per line."""
    return "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
