"""time zone and locale

Each user may choose the time zone their times are shown in and the language of the interface;
an organisation sets the defaults for its staff. Empty means: follow the organisation, then UTC
and English.

Revision ID: 5c2d8e4a7f10
Revises: 3e7a9c1f5b82
Create Date: 2026-12-04 12:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c2d8e4a7f10"
down_revision: str | Sequence[str] | None = "3e7a9c1f5b82"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("user", "organisation"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in ("organisation", "user"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("locale")
            batch_op.drop_column("time_zone")
