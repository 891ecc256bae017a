"""Compatibility with the published ``qkan`` 0.2.3: its names used as its documentation uses them, and numbers
compared with the published package itself where it can be installed (docs/migrating.md)."""
