"""Fake entry points, so plug-in discovery is tested without installing packages."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest


def fake_entry_points(
    monkeypatch: pytest.MonkeyPatch, group: str, specs: list[tuple[str, str]]
) -> None:
    """Make importlib.metadata report these (name, "module:attr") entry points in ``group``."""
    fakes = importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name=name, value=value, group=group) for name, value in specs
    )
    real = importlib.metadata.entry_points

    def entry_points(**params: Any) -> Any:
        if params.get("group") == group:
            return fakes
        return real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
