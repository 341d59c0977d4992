"""Bar charts as SVG drawn on the server: no script, no inline style (the CSP allows neither),
colours from haven.css by class. Each chart is an image with a title; the table beside it
holds the same numbers for screen readers and for copying.

Written here rather than taken from a library: a horizontal bar per row is forty lines, and
the plotting libraries on PyPI (matplotlib, pygal) emit inline styles the CSP refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import format_decimal
from markupsafe import Markup, escape

from app import i18n

ROW, GAP, LABEL, WIDTH = 22, 6, 160, 520


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: withheld (a small count)


def bar_chart(title: str, bars: list[Bar], *, chart_id: str) -> Markup:
    """A horizontal bar chart; a withheld value is drawn as a hatched stub marked "<5". The
    numbers are written in the reader's locale (digits and separators)."""
    where = i18n.locale()
    height = max(1, len(bars)) * (ROW + GAP) + GAP
    top = max((b.value or 0 for b in bars), default=0) or 1
    span = WIDTH - LABEL - 60
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    for i, bar in enumerate(bars):
        y = GAP + i * (ROW + GAP)
        label = escape(bar.label[:24])
        parts.append(
            f'<text class="chart-label" x="{LABEL - 8}" y="{y + ROW - 6}" '
            f'text-anchor="end">{label}</text>'
        )
        if bar.value is None:
            parts.append(
                f'<rect class="chart-bar withheld" x="{LABEL}" y="{y}" width="12" '
                f'height="{ROW}"></rect>'
                f'<text class="chart-value" x="{LABEL + 18}" y="{y + ROW - 6}">'
                f"&lt;{format_decimal(5, locale=where)}</text>"
            )
            continue
        width = max(2, round(span * bar.value / top))
        parts.append(
            f'<rect class="chart-bar" x="{LABEL}" y="{y}" width="{width}" height="{ROW}"></rect>'
            f'<text class="chart-value" x="{LABEL + width + 6}" y="{y + ROW - 6}">'
            f"{escape(format_decimal(bar.value, locale=where))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
