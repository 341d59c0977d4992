"""single sign-on links

OpenID Connect sign-in matches a Haven account by the provider's issuer and subject (its stable
id, not the e-mail address, which a provider can reassign): one link per account, linked by an
administrator.

Revision ID: e6d4a9cb5c6e
Revises: 18f0c0ac0e5a
Create Date: 2026-12-04 13:59:22.202024+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6d4a9cb5c6e"
down_revision: str | Sequence[str] | None = "18f0c0ac0e5a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_link",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_oidc_link_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_link")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_oidc_link_issuer_subject")),
        sa.UniqueConstraint("user_id", name=op.f("uq_oidc_link_user_id")),
    )


def downgrade() -> None:
    op.drop_table("oidc_link")
