"""Read knowledge/**/*.yaml from disk into Documents that remember line numbers."""

from __future__ import annotations

import hashlib
from pathlib import Path as FsPath

import yaml

from pplbot.core.documents import Document, Path
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.loading import parse_knowledge

__all__ = [
    "bundled_knowledge_dir",
    "load_knowledge",
    "parse_texts",
    "read_document",
    "read_documents",
    "read_texts",
    "version_of",
]

_STR_TAG = "tag:yaml.org,2002:str"
# libyaml's parser (PyYAML's C extension) is 15-20 times faster; the pure-Python one reads the same
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


def bundled_knowledge_dir() -> FsPath:
    """The knowledge base shipped with pplbot (installed inside the package, or the repo's)."""
    here = FsPath(__file__).resolve().parent
    for candidate in (here / "knowledge", here.parent / "knowledge"):
        if candidate.is_dir():
            return candidate
    return here.parent / "knowledge"


def knowledge_files(directory: FsPath) -> list[FsPath]:
    return sorted(p for p in directory.rglob("*.y*ml") if p.is_file() and p.suffix in {".yaml", ".yml"})


def read_document(path: FsPath, display: str | None = None) -> Document:
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Document(name, None, syntax_error=f"cannot read file: {exc}", syntax_line=1)
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> Document:
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return Document(name, None, syntax_error=f"YAML syntax error: {problem}", syntax_line=line)
    if node is None:
        return Document(name, None, lines={(): 1})
    lines: dict[Path, int] = {}
    raw: dict[Path, str] = {}
    constructor = yaml.SafeLoader("")
    duplicates: list[tuple[Path, int]] = []

    def walk(n: yaml.Node, path: Path) -> object:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out: dict[str, object] = {}
            merged: list[yaml.Node] = []
            for key_node, value_node in n.value:
                if key_node.tag == _MERGE_TAG:  # "<<: *anchor" copies the keys of another mapping
                    merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                    continue
                key = str(key_node.value)
                if key in out:
                    duplicates.append(((*path, key), key_node.start_mark.line + 1))
                out[key] = walk(value_node, (*path, key))
            for source in merged:
                if isinstance(source, yaml.MappingNode):
                    for key_node, value_node in source.value:
                        if str(key_node.value) not in out:
                            out[str(key_node.value)] = walk(value_node, (*path, str(key_node.value)))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(n.value)]
        if n.tag == _STR_TAG:  # what the constructor returns for a plain string, without its dispatch
            return str(n.value)
        raw[path] = str(n.value)
        return constructor.construct_object(n, deep=True)

    try:
        data = walk(node, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return Document(name, None, syntax_error=f"YAML error: {exc}", syntax_line=line)
    doc = Document(name, data, lines, raw)
    if duplicates:
        path, line = duplicates[0]
        return Document(name, None, syntax_error=f"duplicate key {path[-1]!r}", syntax_line=line)
    return doc


def read_documents(directory: FsPath) -> list[Document]:
    base = directory.parent
    docs = []
    for path in knowledge_files(directory):
        try:
            display = str(path.relative_to(base))
        except ValueError:
            display = str(path)
        docs.append(read_document(path, display))
    return docs


def read_texts(directory: FsPath) -> dict[str, str]:
    """Every knowledge file's text, by display name ("knowledge/faq/x.yaml")."""
    texts = {}
    for path in knowledge_files(directory):
        name = str(path.relative_to(directory.parent))
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            texts[name] = f"\0unreadable: {exc}"
    return texts


def version_of(texts: dict[str, str]) -> str:
    """The knowledge-base version: a hash of every file's name and text."""
    digest = hashlib.sha256()
    for name, text in sorted(texts.items()):
        digest.update(f"{name}\0{text}\0".encode())
    return digest.hexdigest()[:12]


def parse_texts(texts: dict[str, str]) -> KnowledgeBase:
    """Validate file texts (already read) into a KnowledgeBase; raises KnowledgeError."""
    return parse_knowledge([parse_yaml(text, name) for name, text in sorted(texts.items())], version=version_of(texts))


def load_knowledge(directory: FsPath) -> KnowledgeBase:
    """Read and validate a knowledge directory; raises KnowledgeError with every problem."""
    return parse_texts(read_texts(directory))
