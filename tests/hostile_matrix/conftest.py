"""Fixtures for the re-run attacks: an isolated state folder and a guard that turns a hang into
a failure (shared with tests/hostile)."""

from __future__ import annotations

from tests.helpers.guards import no_hang, state  # noqa: F401 (autouse fixtures)
