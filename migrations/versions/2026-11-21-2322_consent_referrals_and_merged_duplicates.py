"""consent referrals and merged duplicates

Revision ID: 370eaca558ba
Revises: ecb6afd43f09
Create Date: 2026-11-21 23:22:40.254088+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "370eaca558ba"
down_revision: str | Sequence[str] | None = "ecb6afd43f09"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent",
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("terms_ct", sa.LargeBinary(), nullable=False),
        sa.Column("note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"], ["individual.id"], name=op.f("fk_consent_individual_id_individual")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_individual_id_recorded_at", ["individual_id", "recorded_at"], unique=False
        )

    op.create_table(
        "referral",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("from_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("to_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("purpose_ct", sa.LargeBinary(), nullable=False),
        sa.Column("sections", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_referral_case_id_case")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_referral_created_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["user.id"], name=op.f("fk_referral_decided_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["from_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_referral_from_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["user.id"], name=op.f("fk_referral_revoked_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["to_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_referral_to_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_referral_to_organisation_id_status", ["to_organisation_id", "status"], unique=False
        )

    with op.batch_alter_table("case_assignment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_case_assignment_referral_id"), ["referral_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_case_assignment_referral_id_referral"),
            "referral",
            ["referral_id"],
            ["id"],
        )

    with op.batch_alter_table("individual", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("merged_by", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_individual_merged_into_id"), ["merged_into_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_individual_merged_by_user"), "user", ["merged_by"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_individual_merged_into_id_individual"),
            "individual",
            ["merged_into_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("individual", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_individual_merged_into_id_individual"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_individual_merged_by_user"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_individual_merged_into_id"))
        batch_op.drop_column("merged_by")
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_id")

    with op.batch_alter_table("case_assignment", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_case_assignment_referral_id_referral"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_case_assignment_referral_id"))
        batch_op.drop_column("referral_id")

    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_to_organisation_id_status")
        batch_op.drop_index(batch_op.f("ix_referral_case_id"))

    op.drop_table("referral")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_individual_id_recorded_at")

    op.drop_table("consent")
