"""Adapters between chat networks and the service: console, Matrix, Telegram."""
