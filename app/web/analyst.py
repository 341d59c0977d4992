"""Analysts' page: the de-identified statistics of app.stats as bar charts (SVG drawn on the
server) with the same numbers in a table beside each, and their CSV and HXL downloads (the
API's /stats, reached with the session cookie)."""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from starlette.responses import Response

from app import i18n
from app.auth.roles import Action
from app.i18n import N_
from app.stats import service as stats
from app.stats.service import Dimension
from app.web.charts import Bar, bar_chart
from app.web.filters import country, label
from app.web.render import WebRoute, render
from app.web.session import signed_in

router = APIRouter(route_class=WebRoute)

RISK_ORDER = {level: i for i, level in enumerate(("critical", "high", "medium", "low"))}
# Each table's title and the heading of its first column (translated where shown).
TITLES = {
    Dimension.RISK_LEVEL: (N_("People by risk level"), N_("Risk level")),
    Dimension.COUNTRY: (N_("People by country they are in"), N_("Country")),
    Dimension.INCIDENT_TYPE: (N_("Incidents by type"), N_("Type")),
    Dimension.UNHCR_STATUS: (N_("People by UNHCR status"), N_("UNHCR status")),
}


def _key(by: Dimension, key: str) -> str:
    return country(key) if by is Dimension.COUNTRY else label(key)


def _count(count: int | None, threshold: int) -> str:
    """A count in the reader's digits and separators; a withheld one as "<threshold"."""
    if count is None:
        return f"<{format_decimal(threshold, locale=i18n.locale())}"
    return format_decimal(count, locale=i18n.locale())


@router.get("/analyst")
def statistics(request: Request) -> Response:
    with signed_in(request, Action.STATS_READ) as (session, actor):
        tables: list[dict[str, Any]] = []
        for by, (english_title, column) in TITLES.items():
            title = i18n.gettext(english_title)
            table = stats.statistics(session, actor, by)
            cells = table["cells"]
            if by is Dimension.RISK_LEVEL:  # most severe first, not alphabetical
                cells = sorted(cells, key=lambda c: RISK_ORDER.get(c["key"], len(RISK_ORDER)))
            counted = [(_key(by, c["key"]), c["count"]) for c in cells]
            tables.append(
                {
                    "by": by.value,
                    "title": title,
                    "column": i18n.gettext(column),
                    "rows": [(k, _count(n, stats.THRESHOLD)) for k, n in counted],
                    "chart": bar_chart(
                        title, [Bar(k, n) for k, n in counted], chart_id=f"chart-{by.value}"
                    )
                    if counted
                    else None,
                    "generated_at": table["generated_at"],
                }
            )
        return render(
            request,
            "analyst/statistics.html",
            actor=actor,
            tables=tables,
            threshold=stats.THRESHOLD,
        )
