"""Fixed texts of the bot (help, about, fallback, small talk), kept apart from the logic."""

from __future__ import annotations

__all__ = ["ABOUT", "BYE", "FALLBACK", "GREETING", "HELP", "SOURCES", "THANKS", "source_line"]

HELP = """I answer questions about the **Peer Production License** (PPL) and open cooperativism, with sources.

• Just ask, in your own words: [[ask can a co-op sell PPL works?]]
• **[[quiz]]** — a few questions that end in a verdict: is my use of this PPL work permitted?
• **[[about]]** — the PPL in three lines
• **[[sources]]** — where my answers come from
• **more** — the rest of my last answer
In the questionnaire you can also say **back**, **why**, **restart**, **summary** or **cancel**.
I'm not a lawyer: my answers are information, not legal advice."""

ABOUT = """The **Peer Production License** (2010, Dmytri Kleiner and John Magyar) is a "copyfarleft" licence derived from CC BY-NC-SA 3.0.
Anyone may copy, adapt and share the work non-commercially (PPL §3, §4(b)); commercial use is allowed only to worker-owned businesses or collectives that distribute all surplus among their worker-owners (§4(c)).
Any use by a privately owned business that profits from wage labour is not permitted (§4(d)); such firms need a separate licence from the licensor."""

SOURCES = """My answers come from a curated knowledge base that cites its sources:
• the PPL text as printed in Dmytri Kleiner, _The Telekommunist Manifesto_ (Institute of Network Cultures, 2010), with section numbers;
• CC BY-NC-SA 3.0 Unported, the licence it was derived from;
• writings by Kleiner, Michel Bauwens and the P2P Foundation, and critiques of the PPL.
Each answer ends with the sections or works it relies on. Where the licence text is silent I say so."""

FALLBACK = """Sorry, I don't know the answer to that. I only answer questions about the Peer Production License (PPL) and open cooperativism.
Try asking in other words, e.g. [[ask can a worker co-op sell PPL works?]], or type **[[quiz]]** to check whether your use of a PPL work is permitted. **[[help]]** shows what I can do."""

GREETING = "Hello! I answer questions about the Peer Production License (PPL). Ask me anything about it, or type **[[quiz]]** to check whether your use of a PPL work is permitted."
THANKS = "You're welcome! Ask any time."
BYE = "Bye! Come back any time with questions about the PPL."


def source_line(sources: tuple[str, ...]) -> str:
    """'Source: PPL §4(c)' — licence sections get a section sign."""
    shown = [("PPL §" + s[4:]) if s.startswith("PPL ") and s[4:5].isdigit() else s for s in sources]
    return ("Sources: " if len(shown) > 1 else "Source: ") + "; ".join(shown)
