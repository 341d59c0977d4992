"""seal identifiers and erasure generation

Check-in channels (often a phone number) and attachment content type, size and SHA-256 were
plaintext; ``key_erasure`` counts erasures, so every process drops its cached data keys at once.

A migration cannot reach the keyring, so existing values cannot be sealed here:
- check-in channels are dropped (the app never showed them after the check-in was recorded);
- attachment metadata stays in its plaintext columns, now nullable, until the attachment is
  first read, which seals it into ``meta_ct`` and clears them.

Revision ID: 8b1f4c2d9e37
Revises: 5d3c1e9a7b20
Create Date: 2026-12-04 06:22:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b1f4c2d9e37"
down_revision: str | Sequence[str] | None = "5d3c1e9a7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_erasure",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "generation", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_erasure")),
    )
    key_erasure = sa.table("key_erasure", sa.column("id", sa.Integer), sa.column("generation"))
    op.execute(key_erasure.insert().values(id=1, generation=0))
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_ct", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("channel")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meta_ct", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("content_type", existing_type=sa.String(length=100), nullable=True)
        batch_op.alter_column("size", existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    # Sealed metadata cannot be opened here: rows stored since the upgrade keep none.
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_column("meta_ct")
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=32), nullable=True))
        batch_op.drop_column("channel_ct")
    op.drop_table("key_erasure")
