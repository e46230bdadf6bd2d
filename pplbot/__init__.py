"""pplbot: answers questions about the Peer Production License and open cooperativism."""

__version__ = "0.1.0"
