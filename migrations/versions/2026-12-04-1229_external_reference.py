"""external reference

People moved in from a spreadsheet keep the organisation's own reference for them (a case
number), sealed with the person's key, so that a second import of the same file, or an
incidents sheet naming people by that reference, finds them again. The lookup goes through a
blind index in a table of its own (owner and value only), which erasure empties like the names'.

Revision ID: 8c78ac729bfa
Revises: 9d41c7e2b6a3
Create Date: 2026-12-04 12:29:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c78ac729bfa"
down_revision: str | Sequence[str] | None = "9d41c7e2b6a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("individual", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_reference_ct", sa.LargeBinary(), nullable=True))
    op.create_table(
        "individual_reference_index",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_individual_reference_index_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_individual_reference_index")),
    )
    with op.batch_alter_table("individual_reference_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_individual_reference_index_individual_id"),
            ["individual_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_individual_reference_index_value"), ["value"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("individual_reference_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_individual_reference_index_value"))
        batch_op.drop_index(batch_op.f("ix_individual_reference_index_individual_id"))
    op.drop_table("individual_reference_index")
    with op.batch_alter_table("individual", schema=None) as batch_op:
        batch_op.drop_column("external_reference_ct")
