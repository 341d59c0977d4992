"""risk and alerts

Revision ID: ecb6afd43f09
Revises: 3d16be5798aa
Create Date: 2026-11-21 21:16:35.629552+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ecb6afd43f09"
down_revision: str | Sequence[str] | None = "3d16be5798aa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "country_profile_override",
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_country_profile_override")),
    )
    with op.batch_alter_table("country_profile_override", schema=None) as batch_op:
        batch_op.create_index(
            "ix_country_profile_override_country_effective_on",
            ["country", "effective_on"],
            unique=False,
        )

    op.create_table(
        "country_event",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("description_ct", sa.LargeBinary(), nullable=True),
        sa.Column("affects_ct", sa.LargeBinary(), nullable=True),
        sa.Column("affects_country", sa.String(length=3), nullable=True),
        sa.Column("affects_nationality", sa.String(length=3), nullable=True),
        sa.Column("reassessed", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_country_event_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_country_event")),
    )
    with op.batch_alter_table("country_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_country_event_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "published_list",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("source_ct", sa.LargeBinary(), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("names_submitted", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_published_list_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_list")),
    )
    with op.batch_alter_table("published_list", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_published_list_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "webhook",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("secret_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_webhook_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
    )
    with op.batch_alter_table("webhook", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "check_in",
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"], ["individual.id"], name=op.f("fk_check_in_individual_id_individual")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in")),
    )
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_check_in_individual_id"), ["individual_id"], unique=False
        )

    op.create_table(
        "list_match",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_list_match_individual_id_individual"),
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["published_list.id"], name=op.f("fk_list_match_list_id_published_list")
        ),
        sa.PrimaryKeyConstraint("list_id", "individual_id", name=op.f("pk_list_match")),
    )
    with op.batch_alter_table("list_match", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_list_match_individual_id"), ["individual_id"], unique=False
        )

    op.create_table(
        "risk_assessment",
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("factors_ct", sa.LargeBinary(), nullable=True),
        sa.Column("trigger", sa.String(length=48), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_risk_assessment_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_assessment")),
    )
    with op.batch_alter_table("risk_assessment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_risk_assessment_individual_id_assessed_at",
            ["individual_id", "assessed_at"],
            unique=False,
        )

    op.create_table(
        "risk_override",
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("justification_ct", sa.LargeBinary(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_risk_override_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_override")),
    )
    with op.batch_alter_table("risk_override", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_override_individual_id"), ["individual_id"], unique=False
        )

    op.create_table(
        "alert",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("individual_id", sa.Uuid(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("inhibited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolution_note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_alert_case_id_case")),
        sa.ForeignKeyConstraint(
            ["individual_id"], ["individual.id"], name=op.f("fk_alert_individual_id_individual")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_alert_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_dedup_key_status", ["dedup_key", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_individual_id"), ["individual_id"], unique=False)
        batch_op.create_index(
            "ix_alert_organisation_id_updated_at", ["organisation_id", "updated_at"], unique=False
        )

    op.create_table(
        "outbox_message",
        sa.Column("alert_id", sa.Uuid(), nullable=True),
        sa.Column("event", sa.String(length=48), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_outbox_message_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_message_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_message_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_message_alert_id"))

    op.drop_table("outbox_message")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_organisation_id_updated_at")
        batch_op.drop_index(batch_op.f("ix_alert_individual_id"))
        batch_op.drop_index("ix_alert_dedup_key_status")

    op.drop_table("alert")
    with op.batch_alter_table("risk_override", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_override_individual_id"))

    op.drop_table("risk_override")
    with op.batch_alter_table("risk_assessment", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_assessment_individual_id_assessed_at")

    op.drop_table("risk_assessment")
    with op.batch_alter_table("list_match", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_match_individual_id"))

    op.drop_table("list_match")
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_in_individual_id"))

    op.drop_table("check_in")
    with op.batch_alter_table("webhook", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_organisation_id"))

    op.drop_table("webhook")
    with op.batch_alter_table("published_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_published_list_organisation_id"))

    op.drop_table("published_list")
    with op.batch_alter_table("country_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_country_event_organisation_id"))

    op.drop_table("country_event")
    with op.batch_alter_table("country_profile_override", schema=None) as batch_op:
        batch_op.drop_index("ix_country_profile_override_country_effective_on")

    op.drop_table("country_profile_override")
