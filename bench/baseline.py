"""The plaintext baseline: Haven's create-person and read-person routes with nothing else.

Same paths, same JSON shapes, same web stack (FastAPI, synchronous SQLAlchemy sessions in the
threadpool, uvicorn) and the same database settings (SQLite in WAL mode with ``synchronous=FULL``,
PostgreSQL with the same pool), but no encryption, no audit trail, no scope and no risk: one
plaintext table and a constant bearer token. ``bench.load`` runs it as a separate process beside
``haven serve`` so that the ratio Haven/baseline shows what Haven's protections cost per request.

    python -m bench.baseline seed  --database-url URL --people N
    python -m bench.baseline serve --database-url URL --port P --token T
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import random
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Date, DateTime, Engine, String, Text, create_engine, event, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

SEED_BATCH = 5_000


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "person"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON)
    native_name: Mapped[str | None] = mapped_column(String(200))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(20))
    nationalities: Mapped[list[str]] = mapped_column(JSON)
    affiliation: Mapped[str | None] = mapped_column(String(200))
    affiliation_role: Mapped[str | None] = mapped_column(String(200))
    current_country: Mapped[str | None] = mapped_column(String(3))
    current_location: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    native_name: str | None = Field(default=None, max_length=200)
    date_of_birth: dt.date | None = None
    sex: str | None = Field(default=None, max_length=20)
    nationalities: list[str] = Field(default_factory=list, max_length=5)
    affiliation: str | None = Field(default=None, max_length=200)
    affiliation_role: str | None = Field(default=None, max_length=200)
    current_country: str | None = Field(default=None, min_length=3, max_length=3)
    current_location: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=10_000)


class PersonRead(PersonCreate):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    risk: dict[str, Any] | None = None
    unhcr_status: dict[str, Any] | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


def make_engine(url: str) -> Engine:
    """The engine settings Haven uses (``app.db.make_engine``), minus Haven's own hooks."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def seed(url: str, people: int, *, seed: int = 7) -> list[str]:
    """Create the table and ``people`` rows shaped like ``haven demo --people``; returns ids."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    ids: list[str] = []
    with engine.begin() as conn:
        for start in range(0, people, SEED_BATCH):
            rows = []
            for index in range(start, min(start + SEED_BATCH, people)):
                person_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                ids.append(person_id)
                rows.append(
                    {
                        "id": person_id,
                        "full_name": f"Person {index:07d}",
                        "aliases": [],
                        "native_name": None,
                        "date_of_birth": dt.date(1950, 1, 1)
                        + dt.timedelta(days=rng.randrange(0, 365 * 55)),
                        "sex": rng.choice(["female", "male"]),
                        "nationalities": ["KHM"],
                        "affiliation": "Opposition party (dissolved)",
                        "affiliation_role": "member",
                        "current_country": rng.choice(["THA", "MYS", "IDN"]),
                        "current_location": f"District {rng.randrange(1, 50)}",
                        "contact": None,
                        "notes": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(insert(Person.__table__), rows)
    engine.dispose()
    return ids


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions.begin() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def create_app(url: str, token: str) -> FastAPI:
    expected = f"Bearer {token}".encode()

    def bearer(authorization: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(401, "not authenticated")

    app = FastAPI(title="plaintext baseline", dependencies=[Depends(bearer)])
    app.state.sessions = sessionmaker(make_engine(url), expire_on_commit=False)

    @app.post("/api/v1/individuals", status_code=201, response_model=PersonRead)
    def create_individual(body: PersonCreate, session: SessionDep) -> Person:
        now = dt.datetime.now(dt.UTC)
        person = Person(id=str(uuid.uuid4()), created_at=now, updated_at=now, **body.model_dump())
        session.add(person)
        session.flush()
        return person

    @app.get("/api/v1/individuals/{individual_id}", response_model=PersonRead)
    def get_individual(individual_id: uuid.UUID, session: SessionDep) -> Person:
        person = session.get(Person, str(individual_id))
        if person is None:
            raise HTTPException(404, "not found")
        return person

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed", help="create the table and N people")
    seeding.add_argument("--database-url", required=True)
    seeding.add_argument("--people", type=int, required=True)
    serving = commands.add_parser("serve", help="serve the two routes with uvicorn")
    serving.add_argument("--database-url", required=True)
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=8001)
    serving.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    if args.command == "seed":
        print(len(seed(args.database_url, args.people)))
        return
    import uvicorn

    uvicorn.run(
        create_app(args.database_url, args.token),
        host=args.host,
        port=args.port,
        access_log=False,
        log_config=None,
        server_header=False,
    )


if __name__ == "__main__":
    main()
