"""Commands: see sentinel/cli/__init__.py."""

from sentinel.cli.app import app  # noqa: F401
