"""State storage: the Store protocol, SQLite for real use, memory for tests."""

from pplbot.store.base import Store, StoredEvent
from pplbot.store.memory import MemoryStore
from pplbot.store.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "Store", "StoredEvent"]
