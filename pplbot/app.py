"""Composition shared by `pplbot chat` and `pplbot run`: live knowledge, store, service, moderation."""

from __future__ import annotations

from datetime import timedelta

from pplbot.config import Settings
from pplbot.core.bot import Bot, BotOptions
from pplbot.embedding import load_embedder
from pplbot.errors import ConfigError
from pplbot.moderation.commands import Moderation
from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service
from pplbot.store.base import Store

__all__ = ["compose"]


def compose(settings: Settings, store: Store, *, detail_on_request: bool = True) -> tuple[Service, LiveKnowledge]:
    """Load the knowledge (raises KnowledgeError), and wire reloads into the service."""
    if not settings.knowledge_dir.is_dir():
        raise ConfigError(f"PPLBOT_KNOWLEDGE_DIR: {settings.knowledge_dir} is not a folder")
    options = BotOptions(
        quiz_idle=timedelta(minutes=settings.quiz_idle_minutes),
        detail_on_request=detail_on_request,
        embedder=load_embedder(cache_dir=settings.data_dir),
    )
    live = LiveKnowledge(settings.knowledge_dir)
    service = Service(Bot(live.current.kb, options), store, Moderation(live, store, settings.unanswered_retention_days))
    live.on_change = service.set_knowledge
    return service, live
