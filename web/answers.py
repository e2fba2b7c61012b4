"""The board's page "was it held?" (filled in below)."""

from __future__ import annotations

from typing import Any


def answer_routes(config: Any, engine: Any, forms: Any, pages: Any) -> list[Any]:
    return []
