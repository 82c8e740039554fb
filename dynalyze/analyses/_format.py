"""Number formatting shared by the report sections."""

from __future__ import annotations

import math
from typing import Any


def pct(value: Any, digits: int = 1) -> str:
    """``0.877`` -> ``'87.7%'``; None / NaN -> ``'n/a'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.{digits}f}%"


def num(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits; None / NaN -> ``'n/a'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "infinite"
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.{digits}g}"


def cell(text: str) -> str:
    """Escape pipes so a value like ``|cos|`` does not break a Markdown table cell."""
    return str(text).replace("|", "\\|")
