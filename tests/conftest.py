"""Shared pytest setup: fixtures for real services live in their own modules and are registered here."""

from tests.services import *  # noqa: F403  (real Prometheus / Alertmanager / webhook fixtures)
