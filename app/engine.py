"""The engine loop run inside `haven serve` or alone by `haven worker` (see app.alerts.engine)."""

from __future__ import annotations

from app.alerts.engine import Engine, TickReport

__all__ = ["Engine", "TickReport"]
