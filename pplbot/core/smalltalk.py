"""Small talk: greetings, thanks and goodbyes in the five languages get a short friendly reply."""

from __future__ import annotations

from pplbot.core import texts

__all__ = ["smalltalk"]

_GREET = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "howdy",
        "hola",
        "hallo",
        "moin",
        "servus",
        "bonjour",
        "salut",
        "ola",
        "oi",
        "ciao",
        "yo",
        "greetings",
    ]
)
_THANK = frozenset(
    [
        "thanks",
        "thank",
        "thx",
        "ty",
        "thankyou",
        "cheers",
        "gracias",
        "danke",
        "merci",
        "obrigado",
        "obrigada",
        "grazie",
    ]
)
_BYE = frozenset(["bye", "goodbye", "cya", "tschuss", "adios", "adieu", "tchau"])
_FILLER = frozenset(
    [
        "there",
        "bot",
        "pplbot",
        "everyone",
        "all",
        "a",
        "lot",
        "so",
        "much",
        "you",
        "very",
        "guys",
        "folks",
        "again",
        "morning",
        "evening",
        "afternoon",
        "good",
        "day",
        "de",
        "nada",
        "muchas",
        "vielen",
        "dank",
        "beaucoup",
        "muito",
        "people",
        "team",
        "friends",
        "and",
        "for",
        "the",
        "help",
    ]
)


def smalltalk(lowered: str) -> str | None:
    """The reply to a message that is only a greeting, thanks or goodbye (cleaned words), or None."""
    tokens = lowered.split()
    if not tokens or len(tokens) > 6:
        return None
    rest = [t for t in tokens if t not in _FILLER]
    if not rest or not all(t in _GREET | _THANK | _BYE for t in rest):
        return None
    if any(t in _THANK for t in rest):
        return texts.THANKS
    if any(t in _BYE for t in rest):
        return texts.BYE
    return texts.GREETING
