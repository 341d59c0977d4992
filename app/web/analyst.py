"""Analysts' page: the de-identified statistics of app.stats as bar charts (SVG drawn on the
server) with the same numbers in a table beside each, and their CSV and HXL downloads (the
API's /stats, reached with the session cookie)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth.roles import Action
from app.stats import service as stats
from app.stats.service import Dimension
from app.web.charts import Bar, bar_chart
from app.web.filters import country, label
from app.web.render import WebRoute, render
from app.web.session import signed_in

router = APIRouter(route_class=WebRoute)

RISK_ORDER = {level: i for i, level in enumerate(("critical", "high", "medium", "low"))}
TITLES = {
    Dimension.RISK_LEVEL: "People by risk level",
    Dimension.COUNTRY: "People by country they are in",
    Dimension.INCIDENT_TYPE: "Incidents by type",
    Dimension.UNHCR_STATUS: "People by UNHCR status",
}


def _key(by: Dimension, key: str) -> str:
    return country(key) if by is Dimension.COUNTRY else label(key)


@router.get("/analyst")
def statistics(request: Request) -> Response:
    with signed_in(request, Action.STATS_READ) as (session, actor):
        tables: list[dict[str, Any]] = []
        for by, title in TITLES.items():
            table = stats.statistics(session, actor, by)
            cells = table["cells"]
            if by is Dimension.RISK_LEVEL:  # most severe first, not alphabetical
                cells = sorted(cells, key=lambda c: RISK_ORDER.get(c["key"], len(RISK_ORDER)))
            rows = [(_key(by, c["key"]), c["count"]) for c in cells]
            tables.append(
                {
                    "by": by.value,
                    "title": title,
                    "rows": rows,
                    "chart": bar_chart(
                        title, [Bar(k, n) for k, n in rows], chart_id=f"chart-{by.value}"
                    )
                    if rows
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
