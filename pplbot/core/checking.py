"""Reading typed values out of a parsed knowledge file while collecting every problem."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pplbot.core.documents import Document, Path, format_path
from pplbot.errors import Issue

__all__ = ["Checker"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_YAML11 = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "empty (null)",
}


class Checker:
    """Collects issues for one document while reading typed values out of it."""

    def __init__(self, doc: Document, issues: list[Issue]) -> None:
        self.doc = doc
        self.issues = issues

    def issue(self, path: Path, message: str) -> None:
        self.issues.append(Issue(self.doc.file, self.doc.line(path), format_path(path), message))

    def text(self, value: object, path: Path, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, str):
            self.issue(path, "must be a non-empty string")
        elif type(value) in _YAML11 and path in self.doc.raw:
            self.issue(
                path,
                f"must be a string, but YAML read {self.doc.raw[path]!r} as {_YAML11[type(value)]}; put it in quotes",
            )
        else:
            self.issue(path, "must be a non-empty string")
        return None

    def texts(self, value: object, path: Path, *, minimum: int = 1) -> tuple[str, ...]:
        if value is None and minimum == 0:
            return ()
        if not isinstance(value, list):
            self.issue(path, "must be a list of strings")
            return ()
        out = [self.text(item, (*path, i)) for i, item in enumerate(value)]
        good = tuple(s for s in out if s is not None)
        if len(value) < minimum:
            self.issue(path, f"must have at least {minimum} item{'s' if minimum > 1 else ''}")
        return good

    def mapping(self, value: object, path: Path, allowed: Sequence[str]) -> dict[str, object] | None:
        if not isinstance(value, dict):
            self.issue(path, "must be a mapping (key: value)")
            return None
        for key in value:
            if key not in allowed:
                hint = _closest(key, allowed)
                more = f" (did you mean {hint!r}?)" if hint else ""
                self.issue((*path, key), f"unknown key{more}; allowed: {', '.join(allowed)}")
        return value

    def ident(self, value: object, path: Path) -> str | None:
        s = self.text(value, path)
        if s is not None and not _ID.match(s):
            self.issue(path, "must use lowercase letters, digits and '-' only")
            return None
        return s


def _closest(key: str, allowed: Sequence[str]) -> str | None:
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    found = process.extractOne(key, allowed, scorer=Levenshtein.normalized_similarity)
    return str(found[0]) if found and found[1] >= 0.5 else None
