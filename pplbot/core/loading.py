"""Validate plain knowledge data into a KnowledgeBase, collecting every problem first.

Each problem is an Issue `file:line: path: message`. A file holds FAQ `entries:`, the
`questionnaire:` (checked in quiz_loading.py) or the matcher's `vocabulary:`; all are checked
in one pass so moderators get one report for everything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType

from pplbot.core.checking import Checker
from pplbot.core.documents import Document, Path
from pplbot.core.knowledge import Entry, KnowledgeBase, Questionnaire
from pplbot.core.normalizing import words
from pplbot.core.quiz_loading import parse_questionnaire
from pplbot.core.vocabulary import LANGUAGES, Vocabulary
from pplbot.errors import Issue, KnowledgeError

__all__ = ["ANSWER_MAX_WORDS", "BARE_LEADS", "ENTRY_KEYS", "bare_lead", "parse_knowledge"]

ENTRY_KEYS = ("id", "questions", "answer", "more", "sources", "tags", "related")
ANSWER_MAX_WORDS = 120  # what a group chat sees; the rest goes to `more`
# First words that answer only one polarity of a question ("Yes", "No", "Generally not"), in the
# five languages: an answer states the rule instead, so it is true for every paraphrase.
BARE_LEADS = frozenset(
    """yes yeah yep no nope not either generally usually normally mostly typically
    si sí no generalmente normalmente usualmente habitualmente
    ja nein nee generell normalerweise meistens grundsätzlich üblicherweise
    oui non généralement generalement habituellement normalement
    sim não nao geralmente normalmente usualmente""".split()
)
_FIRST_WORD = re.compile(r"[\w'’-]+")
_TOP_KEYS = ("entries", "questionnaire", "vocabulary")
_VOCABULARY_KEYS = ("terms", "synonyms", "stop_words", "keep_words", "domain_terms", "ambiguous_terms", "clash_terms")


def parse_knowledge(documents: Sequence[Document], version: str = "") -> KnowledgeBase:
    """Validate every document; return the KnowledgeBase or raise KnowledgeError."""
    issues: list[Issue] = []
    entries: list[Entry] = []
    questionnaires: list[tuple[Questionnaire, Document]] = []
    vocabularies: list[tuple[Vocabulary, Document]] = []
    for doc in documents:
        if doc.syntax_error:
            issues.append(Issue(doc.file, doc.syntax_line, "", doc.syntax_error))
            continue
        check = Checker(doc, issues)
        top = check.mapping(doc.data, (), _TOP_KEYS)
        if top is None:
            continue
        if "entries" in top:
            entries.extend(_entries(check, top["entries"]))
        if "questionnaire" in top:
            q = parse_questionnaire(check, top["questionnaire"])
            if q is not None:
                questionnaires.append((q, doc))
        if "vocabulary" in top:
            vocabularies.append((_vocabulary(check, top["vocabulary"]), doc))
        if not set(_TOP_KEYS) & set(top):
            check.issue((), "expected a top-level 'entries:', 'questionnaire:' or 'vocabulary:' key")
    _cross_check(entries, issues)
    if len(questionnaires) > 1:
        _, doc = questionnaires[1]
        issues.append(
            Issue(doc.file, doc.line(("questionnaire",)), "questionnaire", "only one questionnaire is allowed")
        )
    if len(vocabularies) > 1:
        _, doc = vocabularies[1]
        issues.append(Issue(doc.file, doc.line(("vocabulary",)), "vocabulary", "only one vocabulary is allowed"))
    if not entries and not issues:
        issues.append(Issue("knowledge", 0, "", "no FAQ entries found"))
    if issues:
        raise KnowledgeError(issues)
    questionnaire = questionnaires[0][0] if questionnaires else None
    vocabulary = vocabularies[0][0] if vocabularies else None
    return KnowledgeBase.of(tuple(entries), questionnaire, version, vocabulary)


def _entries(check: Checker, value: object) -> list[Entry]:
    if not isinstance(value, list):
        check.issue(("entries",), "must be a list of entries")
        return []
    out = []
    for i, raw in enumerate(value):
        path: Path = ("entries", i)
        item = check.mapping(raw, path, ENTRY_KEYS)
        if item is None:
            continue
        ident = check.ident(item.get("id"), (*path, "id"))
        questions = check.texts(item.get("questions"), (*path, "questions"))
        answer = check.text(item.get("answer"), (*path, "answer"))
        if answer is not None:
            _check_answer(check, answer, (*path, "answer"))
        more = check.text(item.get("more"), (*path, "more"), required=False)
        if "sources" not in item:
            check.issue(path, "entry has no sources: cite a licence section or a source")
            sources: tuple[str, ...] = ()
        else:
            sources = check.texts(item.get("sources"), (*path, "sources"))
        tags = check.texts(item.get("tags"), (*path, "tags"), minimum=0)
        related = check.texts(item.get("related"), (*path, "related"), minimum=0)
        if ident and questions and answer and sources:
            out.append(
                Entry(ident, questions, answer, sources, more, tags, related, check.doc.file, check.doc.line(path))
            )
        elif ident:
            # keep a placeholder so cross-checks (duplicate ids, related) still see the id
            out.append(
                Entry(ident, questions, answer or "", sources, None, (), related, check.doc.file, check.doc.line(path))
            )
    return out


def bare_lead(text: str) -> str | None:
    """The first word of `text` if it is a bare yes/no/usually-style opening, else None."""
    found = _FIRST_WORD.search(text)
    word = found.group(0).lower() if found else ""
    return word if word in BARE_LEADS else None


def _check_answer(check: Checker, answer: str, path: Path) -> None:
    lead = bare_lead(answer)
    if lead is not None:
        check.issue(
            path,
            f"opens with {lead!r}: state the rule in the first sentence so it is true for every paraphrase "
            "(e.g. 'Section 4(d) bars any use by ...'), not a bare yes/no",
        )
    count = len(answer.split())
    if count > ANSWER_MAX_WORDS:
        check.issue(
            path,
            f"has {count} words; keep it to {ANSWER_MAX_WORDS} (a lead sentence and the sections) and move the rest to 'more'",
        )


def _cross_check(entries: list[Entry], issues: list[Issue]) -> None:
    seen: dict[str, Entry] = {}
    phrases: dict[str, Entry] = {}
    for entry in entries:
        where = (entry.file, entry.line)
        if entry.id in seen:
            first = seen[entry.id]
            issues.append(Issue(*where, f"id {entry.id}", f"duplicate id (first defined at {first.file}:{first.line})"))
        else:
            seen[entry.id] = entry
        for phrase in entry.questions:
            key = " ".join(words(phrase))
            if not key:
                continue
            other = phrases.get(key)
            if other is not None and other.id != entry.id:
                issues.append(
                    Issue(
                        *where,
                        f"id {entry.id}",
                        f"phrase {phrase!r} is the same as one in entry {other.id!r} ({other.file}:{other.line})",
                    )
                )
            phrases.setdefault(key, entry)
    for entry in entries:
        for rel in entry.related:
            if rel not in seen:
                issues.append(Issue(entry.file, entry.line, f"id {entry.id}", f"related id {rel!r} does not exist"))
    # drop placeholders for incomplete entries (their own issues were reported)
    entries[:] = [e for e in entries if e.answer and e.questions and e.sources]


def _word_list(check: Checker, value: object, path: Path) -> tuple[str, ...]:
    """A list of words or phrases; each must have letters or digits once punctuation is gone."""
    out = check.texts(value, path, minimum=0)
    for i, item in enumerate(out):
        if not words(item):
            check.issue((*path, i), "has no letters or digits")
    return tuple(o for o in out if words(o))


def _vocabulary(check: Checker, value: object) -> Vocabulary:
    base: Path = ("vocabulary",)
    top = check.mapping(value, base, _VOCABULARY_KEYS) or {}
    terms: dict[str, tuple[str, ...]] = {}
    raw_terms = top.get("terms", {})
    if check.mapping(raw_terms, (*base, "terms"), [str(k) for k in raw_terms] if isinstance(raw_terms, dict) else []):
        assert isinstance(raw_terms, dict)
        for token, phrases in raw_terms.items():
            path = (*base, "terms", token)
            if len(words(str(token))) != 1:
                check.issue(path, "a term's token must be one word (letters and digits)")
            terms[str(token)] = _word_list(check, phrases, path)
    synonyms: dict[str, MappingProxyType[str, tuple[str, ...]]] = {}
    raw_syn = top.get("synonyms", {})
    if check.mapping(raw_syn, (*base, "synonyms"), LANGUAGES):
        assert isinstance(raw_syn, dict)
        for lang, groups in raw_syn.items():
            path = (*base, "synonyms", lang)
            if not check.mapping(groups, path, [str(k) for k in groups] if isinstance(groups, dict) else []):
                continue
            assert isinstance(groups, dict)
            table = {}
            for canonical, variants in groups.items():
                if len(words(str(canonical))) != 1:
                    check.issue((*path, canonical), "a synonym group's first word must be one word")
                table[str(canonical)] = _word_list(check, variants, (*path, canonical))
            synonyms[str(lang)] = MappingProxyType(table)
    return Vocabulary(
        MappingProxyType(terms),
        MappingProxyType(synonyms),
        _word_list(check, top.get("stop_words"), (*base, "stop_words")),
        _word_list(check, top.get("keep_words"), (*base, "keep_words")),
        _word_list(check, top.get("domain_terms"), (*base, "domain_terms")),
        _word_list(check, top.get("ambiguous_terms"), (*base, "ambiguous_terms")),
        _word_list(check, top.get("clash_terms"), (*base, "clash_terms")),
    )
