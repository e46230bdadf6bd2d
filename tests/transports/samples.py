"""Ids and times shared by the Matrix tests that build events by hand."""

from __future__ import annotations

BOT = "@pplbot:example.org"
ALICE = "@alice:example.org"
BOB = "@bob:other.net"
ROOM = "!room:example.org"
TS = 1_795_000_000_000  # origin_server_ts of the sample events (ms)
