"""name tokens

Finding "Sok" among 100,000 people: each whole word of a person's names (full name, native
name, aliases), folded, gets a truncated blind-index value (11 bits) in a table of its own.
Every person holds the same number of rows (padded with random values), so the table says
nothing about how many words anyone's names have. Rows for people registered before this
revision are written when the application next starts (it needs the keyring, which a
migration does not hold). Erasure empties the table for the person like the names' index.

Revision ID: 5e0b7d1f3a92
Revises: 2c6ffc9f539a
Create Date: 2026-12-04 12:43:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0b7d1f3a92"
down_revision: str | Sequence[str] | None = "2c6ffc9f539a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "individual_name_token",
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
            name=op.f("fk_individual_name_token_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_individual_name_token")),
    )
    with op.batch_alter_table("individual_name_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_individual_name_token_individual_id"), ["individual_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_individual_name_token_value"), ["value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("individual_name_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_individual_name_token_value"))
        batch_op.drop_index(batch_op.f("ix_individual_name_token_individual_id"))
    op.drop_table("individual_name_token")
