"""Text normalisation shared by the index and the queries: one function, applied once each.

Lower-case, accents removed, section references joined ("4(c)(ii)" -> "4c 4cii"), multi-word
terms and synonyms mapped to one token ("co-op", "cooperative", "Genossenschaft" -> "coop"),
stop words of five languages dropped, light suffix stemming.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

from rapidfuzz import fuzz, process

from pplbot.legacy.lexicon import STOP_WORDS, TRANSLATIONS

__all__ = ["DOMAIN_TERMS", "mentions_domain", "normalize", "words"]

_SECTION = re.compile(r"(?<![a-z0-9])([1-8])\s?\(?([a-i])\)?(?:\s?\((i{1,3}|iv)\))?(?![a-z0-9])")
_NON_WORD = re.compile(r"[^a-z0-9]+")

# Multi-word terms, matched on whole words after cleaning ("co-op" is "co op" by then).
_MULTI_SOURCE = """
peer production license|peer production licence|peer production licenses|peer production licences=ppl
peer production lizenz|peerproduction license|licencia de produccion de pares=ppl
licencia de produccion entre pares|licenca de producao entre pares|licenca de producao de pares=ppl
licence de production entre pairs|licence de production de pairs=ppl
copy far left|copy farleft|copyfar left=copyfarleft
co op|co ops|co operative|co operatives=coop
creative commons=cc
cc by nc sa|cc bync sa|by nc sa=cc byncsa
cc by nc|by nc=cc bync
cc by sa|by sa=cc bysa
share alike=sharealike
non commercial|non commercially|not commercial=noncommercial
not for profit|non profit|non profits=nonprofit
sin animo de lucro|sin fines de lucro|sem fins lucrativos|sans but lucratif=nonprofit
for profit|for profits=forprofit
worker owned|workers owned|worker s owned=workerowned
open source=opensource
free software=freesoftware
machine learning|artificial intelligence|large language model|large language models=ai
open cooperativism|open co operativism=opencooperativism
platform coop|platform coops|platform cooperative|platform cooperatives|platform co op=platformcoop
file sharing|p2p sharing|peer to peer|filesharing=filesharing
no comercial|nicht kommerziell|nicht kommerzielle|nao comercial|non commerciale|non commercial|pas commercial=noncommercial
codigo abierto|codigo aberto=opensource
logiciel libre|software libre|software livre=freesoftware
derechos de autor|derecho de autor|droit dauteur|droits dauteur|direitos autorais|direito autoral=copyright
share holder|share holders|shareholders|shareholder=investor
"""
_MULTI: dict[tuple[str, ...], tuple[str, ...]] = {}
for _line in _MULTI_SOURCE.strip().splitlines():
    _variants, _, _out = _line.partition("=")
    for _variant in _variants.split("|"):
        _MULTI[tuple(_variant.split())] = tuple(_out.split())
_MULTI_MAX = max(len(k) for k in _MULTI)
_MULTI_FIRST = frozenset(k[0] for k in _MULTI)
_MULTI_WORD_SET = frozenset(w for key in _MULTI for w in key)


_MULTI_WORDS = sorted({w for key in _MULTI for w in key if len(w) >= 6})


@lru_cache(maxsize=16384)
def _fix_term_typo(token: str) -> str:
    """'producton' -> 'production', so a typo does not break a multi-word term apart."""
    if len(token) < 6 or token in _MULTI_WORD_SET:
        return token
    found = process.extractOne(token, _MULTI_WORDS, scorer=fuzz.ratio, score_cutoff=88)
    return str(found[0]) if found else token


def _fix_term_typos(tokens: list[str]) -> list[str]:
    return [_fix_term_typo(t) for t in tokens]


def _join_terms(tokens: list[str]) -> list[str]:
    tokens = _fix_term_typos(tokens)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] not in _MULTI_FIRST:
            out.append(tokens[i])
            i += 1
            continue
        for size in range(min(_MULTI_MAX, len(tokens) - i), 1, -1):
            found = _MULTI.get(tuple(tokens[i : i + size]))
            if found is not None:
                out.extend(found)
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


_SYNONYMS: dict[str, str] = {}


def _syn(canonical: str, *variants: str) -> None:
    for v in variants:
        _SYNONYMS[v] = canonical


_syn(
    "license",
    "licence",
    "licences",
    "licenses",
    "licensed",
    "licencia",
    "licencias",
    "lizenz",
    "lizenzen",
    "licenca",
    "licencas",
    "licensing",
    "licencing",
)
_syn(
    "coop",
    "cooperative",
    "cooperativa",
    "cooperativas",
    "genossenschaft",
    "genossenschaften",
    "cooperatives",
    "cooperativo",
    "scop",
    "coops",
)
_syn(
    "nonprofit",
    "ngo",
    "ngos",
    "charity",
    "charities",
    "ong",
    "ongs",
    "gemeinnutzig",
    "gemeinnutzige",
    "gemeinnutziger",
    "verein",
    "nonprofits",
)
_syn(
    "company",
    "companies",
    "business",
    "businesses",
    "firm",
    "firms",
    "corporation",
    "corporations",
    "corp",
    "enterprise",
    "enterprises",
    "empresa",
    "empresas",
    "firma",
    "firmen",
    "unternehmen",
    "entreprise",
    "entreprises",
    "societe",
    "startup",
    "startups",
)
_syn(
    "employee",
    "employees",
    "staff",
    "empleados",
    "empleado",
    "mitarbeiter",
    "mitarbeitende",
    "angestellte",
    "salaries",
    "salarie",
    "salaries",
    "funcionarios",
    "employes",
    "hire",
    "hired",
    "hiring",
)
_syn("wage", "wages", "salary", "salaried", "salario", "salarios", "lohn", "lohnarbeit", "salaire")
_syn(
    "commercial",
    "commercially",
    "comercial",
    "comercialmente",
    "kommerziell",
    "kommerzielle",
    "kommerziellen",
    "commerciale",
    "commercialement",
    "commerce",
)
_syn("noncommercial", "nc")
_syn(
    "sell",
    "selling",
    "sale",
    "sales",
    "sold",
    "vender",
    "vendo",
    "venta",
    "verkaufen",
    "verkauf",
    "vendre",
    "vente",
    "venda",
    "monetize",
    "monetise",
    "monetizing",
)
_syn("ai", "ml", "llm", "llms", "ki", "ia", "gpt", "chatgpt")
_syn(
    "translation",
    "translate",
    "translating",
    "translated",
    "translations",
    "traducir",
    "traduccion",
    "traducciones",
    "ubersetzen",
    "ubersetzung",
    "traduire",
    "traduction",
    "traduzir",
    "traducao",
)
_syn("author", "authors", "wrote", "authored", "autor", "autores", "auteur", "auteurs", "autoren", "creators")
_syn(
    "allow",
    "allowed",
    "permitted",
    "permit",
    "permits",
    "permissible",
    "ok",
    "okay",
    "legal",
    "erlaubt",
    "permitido",
    "permitida",
    "permis",
    "autorise",
    "autorizado",
    "allows",
)
_syn("gpl", "gplv2", "gplv3", "agpl", "lgpl")
_syn("opensource", "osi", "osd")
_syn("sharealike", "compartirigual")
_syn(
    "attribution",
    "attribute",
    "credit",
    "credits",
    "crediting",
    "atribucion",
    "namensnennung",
    "attribuer",
    "atribuicao",
)
_syn(
    "adaptation",
    "adaptations",
    "derivative",
    "derivatives",
    "remix",
    "remixes",
    "remixing",
    "modify",
    "modified",
    "modification",
    "modifications",
    "bearbeitung",
    "derivado",
    "derivada",
)
_syn(
    "university",
    "universities",
    "universidad",
    "universitat",
    "universite",
    "universidade",
    "college",
    "school",
    "schools",
    "escuela",
    "schule",
)
_syn("library", "libraries", "biblioteca", "bibliothek", "bibliotheque")
_syn("software", "code", "program", "programs", "app", "apps")
_syn("ppl", "ppls")
_syn("investor", "investors", "inversores", "inversionistas", "investoren", "investisseurs", "investidores")
_syn("dividend", "dividends", "dividendos", "dividende", "dividenden")
_syn(
    "surplus",
    "profit",
    "profits",
    "earnings",
    "beneficios",
    "gewinn",
    "gewinne",
    "benefices",
    "lucro",
    "lucros",
    "excedente",
    "excedentes",
)

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "doing",
        "done",
        "have",
        "has",
        "had",
        "having",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "us",
        "our",
        "you",
        "your",
        "yours",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "whats",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "just",
        "so",
        "too",
        "very",
        "also",
        "really",
        "pls",
        "please",
        "hey",
        "hi",
        "ok",
        "yeah",
        "yes",
        "no",
        "not",
        "dont",
        "doesnt",
        "isnt",
        "arent",
        "cant",
        "wont",
        "im",
        "ive",
        "id",
        "thats",
        "theres",
        "any",
        "some",
        "all",
        "s",
        "t",
        "d",
        "ll",
        "re",
        "ve",
        "m",
        "o",
        "y",
        "one",
        "get",
        "got",
        "anyone",
        "somebody",
        "someone",
        "tell",
        "know",
        "like",
        "want",
        "wanna",
        "gonna",
        "need",
        "thing",
        "things",
        "stuff",
        "lol",
        "etc",
        "say",
        "said",
        "mean",
        "means",
        "exactly",
        "actually",
        "basically",
        "question",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "unos",
        "unas",
        "de",
        "del",
        "al",
        "y",
        "o",
        "que",
        "en",
        "es",
        "son",
        "por",
        "para",
        "con",
        "se",
        "lo",
        "le",
        "les",
        "mi",
        "mis",
        "tu",
        "su",
        "sus",
        "como",
        "cual",
        "puedo",
        "puede",
        "pueden",
        "podemos",
        "hay",
        "este",
        "esta",
        "esto",
        "eso",
        "ser",
        "qué",
        "muy",
        "mas",
        "si",
        "no",
        "yo",
        "nosotros",
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einen",
        "einem",
        "einer",
        "und",
        "oder",
        "ist",
        "sind",
        "mit",
        "fur",
        "ich",
        "wir",
        "ihr",
        "sie",
        "es",
        "zu",
        "von",
        "im",
        "am",
        "kann",
        "konnen",
        "darf",
        "durfen",
        "wie",
        "was",
        "wer",
        "auch",
        "nicht",
        "auf",
        "bei",
        "aus",
        "man",
        "mein",
        "meine",
        "unser",
        "unsere",
        "le",
        "les",
        "des",
        "du",
        "un",
        "une",
        "et",
        "ou",
        "est",
        "sont",
        "pour",
        "avec",
        "je",
        "nous",
        "vous",
        "il",
        "elle",
        "on",
        "peut",
        "puis",
        "peux",
        "pouvons",
        "que",
        "qui",
        "en",
        "au",
        "aux",
        "ce",
        "cet",
        "cette",
        "ces",
        "mon",
        "ma",
        "mes",
        "notre",
        "nos",
        "leur",
        "est-ce",
        "quoi",
        "comment",
        "o",
        "os",
        "as",
        "do",
        "da",
        "dos",
        "das",
        "um",
        "uma",
        "e",
        "ou",
        "sao",
        "com",
        "eu",
        "nos",
        "ele",
        "ela",
        "pode",
        "posso",
        "podemos",
        "que",
        "em",
        "no",
        "na",
        "nas",
        "meu",
        "minha",
        "nosso",
        "nossa",
        "se",
        "como",
        "qual",
    ]
)


_STOP |= STOP_WORDS
_STOP -= {"mit"}  # German "with", but also the MIT licence
_STOP |= set(
    """between vs versus please pls plz thx thanks thank hello btw yo lol guys folks quick quickly short shortly
    simple simply explain eli5 even ever sure maybe right still already much many lot kind sort way wondering
    wonder curious confused tbh imo afaik kinda sorta gonna wanna hey hola bitte kurz mal eigentlich genau por
    favor svp stp merci gracias danke obrigado rapidamente brevemente brievement""".split()
)


def _stem(token: str) -> str:
    if len(token) <= 4 or token.isdigit():
        return token
    if token.endswith("ies") and len(token) > 5:
        return token[:-3] + "y"
    if token.endswith("ing") and len(token) > 6:
        return token[:-3]
    if token.endswith("ed") and len(token) > 5:
        return token[:-2]
    if token.endswith("es") and len(token) > 5 and token[-3] in "sxz":
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _clean(text: str) -> str:
    if text.isascii():
        stripped = text.casefold()
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    stripped = stripped.replace("'", "").replace("\u2019", "").replace("ß", "ss")
    stripped = _SECTION.sub(_section, stripped.replace("§", " section "))
    return " ".join(_NON_WORD.split(stripped)).strip()


def _section(match: re.Match[str]) -> str:
    number, letter, roman = match.group(1), match.group(2), match.group(3)
    return f" {number}{letter} {number}{letter}{roman} " if roman else f" {number}{letter} "


def words(text: str) -> list[str]:
    """The cleaned words of `text` with no stop words removed (for small talk and commands)."""
    return _clean(text).split()


@lru_cache(maxsize=4096)
def normalize(text: str) -> tuple[str, ...]:
    """Tokens of `text` for matching. The same function runs at load and per query."""
    out = []
    for token in _join_terms(_clean(text[:2000]).split()):
        token = TRANSLATIONS.get(token, token)
        token = _SYNONYMS.get(token, token)
        if token in _STOP:
            continue
        stem = _stem(token)
        out.append(_SYNONYMS.get(stem, stem))
    return tuple(out)


# Tokens (after normalize) that show a question is about this bot's subject. Questions that
# name none of them need a clearly better match to be answered: off-topic chat rarely does.
DOMAIN_TERMS = frozenset(
    """ppl copyfarleft copyleft copyfair coopyright disco fairshare fairshares bauwen kleiner magyar
    telekommunisten telekommunist opencooperativism cnpl acsl hippocratic coopcycle meretz rigi schlatterbeck
    exvestment platformcoop workerowned benkler ostrom p2p manifesto licensor sublicense""".split()
)
_SECTION_TOKEN = re.compile(r"^[1-8][a-i](?:i{1,3}|iv)?$")


_SECTION_WORDS = frozenset(
    {"section", "clause", "article", "paragraph", "sec", "art", "artikel", "articulo", "seccion"}
)


def mentions_domain(tokens: tuple[str, ...]) -> bool:
    """True when the tokens name the PPL, its concepts or one of its sections ("4c", "section 6")."""
    if any(t in DOMAIN_TERMS or _SECTION_TOKEN.match(t) for t in tokens):
        return True
    return any(a in _SECTION_WORDS and b in "12345678" and len(b) == 1 for a, b in itertools.pairwise(tokens))
