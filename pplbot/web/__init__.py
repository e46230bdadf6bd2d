"""The moderators' web page: sign-in by one-time link, pages, charts."""
