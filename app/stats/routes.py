"""/stats: counts only, for analysts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.stats import service
from app.stats.service import Dimension

router = APIRouter(tags=["statistics"])


class Cell(BaseModel):
    key: str
    count: int | None
    suppressed: bool


class StatsRead(BaseModel):
    by: str
    threshold: int
    generated_at: dt.datetime
    cells: list[Cell]


@router.get(
    "/stats",
    response_model=StatsRead,
    responses={200: {"content": {"text/csv": {}}}},  # format=csv or hxl
)
def get_stats(
    by: Dimension,
    actor: Annotated[Actor, require(Action.STATS_READ)],
    session: SessionDep,
    format: Annotated[Literal["json", "csv", "hxl"], Query()] = "json",
) -> Any:
    table = service.statistics(session, actor, by)
    if format == "json":
        return table
    body = service.as_csv(table, hxl=format == "hxl")
    name = f"haven-stats-{by.value}{'-hxl' if format == 'hxl' else ''}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
