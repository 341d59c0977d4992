"""case record

Revision ID: 3d16be5798aa
Revises: ba2b0ebc6af5
Create Date: 2026-11-21 20:28:58.351162+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d16be5798aa"
down_revision: str | Sequence[str] | None = "ba2b0ebc6af5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("location_ct", sa.LargeBinary(), nullable=True),
        sa.Column("description_ct", sa.LargeBinary(), nullable=True),
        sa.Column("perpetrator_ct", sa.LargeBinary(), nullable=True),
        sa.Column("source_name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("source_reliability", sa.String(length=1), nullable=False),
        sa.Column("source_credibility", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_by_label", sa.String(length=100), nullable=True),
        sa.Column("after_return", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_incident_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incident_type"), ["type"], unique=False)

    op.create_table(
        "individual",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full_name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("aliases_ct", sa.LargeBinary(), nullable=True),
        sa.Column("native_name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("date_of_birth_ct", sa.LargeBinary(), nullable=True),
        sa.Column("sex_ct", sa.LargeBinary(), nullable=True),
        sa.Column("nationalities_ct", sa.LargeBinary(), nullable=True),
        sa.Column("affiliation_ct", sa.LargeBinary(), nullable=True),
        sa.Column("affiliation_role_ct", sa.LargeBinary(), nullable=True),
        sa.Column("current_country_ct", sa.LargeBinary(), nullable=True),
        sa.Column("current_location_ct", sa.LargeBinary(), nullable=True),
        sa.Column("contact_ct", sa.LargeBinary(), nullable=True),
        sa.Column("notes_ct", sa.LargeBinary(), nullable=True),
        sa.Column("risk_level", sa.String(length=16), nullable=True),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("check_in_every_hours", sa.Integer(), nullable=True),
        sa.Column("last_check_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_individual_created_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["erased_by"], ["user.id"], name=op.f("fk_individual_erased_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_individual_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_individual")),
    )
    with op.batch_alter_table("individual", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_individual_created_by"), ["created_by"], unique=False)
        batch_op.create_index(
            "ix_individual_organisation_id_id", ["organisation_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_individual_risk_level"), ["risk_level"], unique=False)

    op.create_table(
        "case",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("title_ct", sa.LargeBinary(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"], ["individual.id"], name=op.f("fk_case_individual_id_individual")
        ),
        sa.ForeignKeyConstraint(["opened_by"], ["user.id"], name=op.f("fk_case_opened_by_user")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_case_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case")),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_individual_id"), ["individual_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_opened_by"), ["opened_by"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "incident_subject",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_subject_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_incident_subject_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("incident_id", "individual_id", name=op.f("pk_incident_subject")),
    )
    with op.batch_alter_table("incident_subject", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_subject_individual_id"), ["individual_id"], unique=False
        )

    op.create_table(
        "individual_name_index",
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
            name=op.f("fk_individual_name_index_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_individual_name_index")),
    )
    with op.batch_alter_table("individual_name_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_individual_name_index_individual_id"), ["individual_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_individual_name_index_value"), ["value"], unique=False)

    op.create_table(
        "travel_document",
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("number_ct", sa.LargeBinary(), nullable=True),
        sa.Column("number_index", sa.Integer(), nullable=True),
        sa.Column("issuing_country_ct", sa.LargeBinary(), nullable=True),
        sa.Column("issued_on_ct", sa.LargeBinary(), nullable=True),
        sa.Column("mrz_ct", sa.LargeBinary(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_date", sa.Date(), nullable=True),
        sa.Column("status_source_ct", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_travel_document_individual_id_individual"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_travel_document_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_travel_document")),
    )
    with op.batch_alter_table("travel_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_travel_document_individual_id"), ["individual_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_travel_document_number_index"), ["number_index"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_travel_document_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "unhcr_status",
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("status_ct", sa.LargeBinary(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("unhcr_reference_ct", sa.LargeBinary(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_unhcr_status_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unhcr_status")),
    )
    with op.batch_alter_table("unhcr_status", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_unhcr_status_individual_id"), ["individual_id"], unique=False
        )

    op.create_table(
        "attachment",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("filename_ct", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_attachment_case_id_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_case_id"), ["case_id"], unique=False)

    op.create_table(
        "break_glass_grant",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("reason_ct", sa.LargeBinary(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_break_glass_grant_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_break_glass_grant_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_grant")),
    )
    with op.batch_alter_table("break_glass_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_break_glass_grant_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_break_glass_grant_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_assignment",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("assigned_by", sa.Uuid(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_assignment_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_case_assignment_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_assignment")),
    )
    with op.batch_alter_table("case_assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_assignment_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_case_assignment_user_id_role", ["user_id", "role"], unique=False)

    op.create_table(
        "case_note",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_label", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_case_note_case_id_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_note_case_id"), ["case_id"], unique=False)

    op.create_table(
        "document_status_change",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_date", sa.Date(), nullable=True),
        sa.Column("source_ct", sa.LargeBinary(), nullable=True),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revocation_list_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["travel_document.id"],
            name=op.f("fk_document_status_change_document_id_travel_document"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_status_change")),
    )
    with op.batch_alter_table("document_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_status_change_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_status_change_revocation_list_id"),
            ["revocation_list_id"],
            unique=False,
        )

    op.create_table(
        "history_entry",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("individual_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("changes_ct", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_history_entry_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_history_entry_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_entry")),
    )
    with op.batch_alter_table("history_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_history_entry_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_history_entry_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_history_entry_individual_id_id", ["individual_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("history_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_history_entry_individual_id_id")
        batch_op.drop_index(batch_op.f("ix_history_entry_case_id"))
        batch_op.drop_index(batch_op.f("ix_history_entry_at"))

    op.drop_table("history_entry")
    with op.batch_alter_table("document_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_status_change_revocation_list_id"))
        batch_op.drop_index(batch_op.f("ix_document_status_change_document_id"))

    op.drop_table("document_status_change")
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_note_case_id"))

    op.drop_table("case_note")
    with op.batch_alter_table("case_assignment", schema=None) as batch_op:
        batch_op.drop_index("ix_case_assignment_user_id_role")
        batch_op.drop_index(batch_op.f("ix_case_assignment_case_id"))

    op.drop_table("case_assignment")
    with op.batch_alter_table("break_glass_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_break_glass_grant_user_id"))
        batch_op.drop_index(batch_op.f("ix_break_glass_grant_case_id"))

    op.drop_table("break_glass_grant")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_case_id"))

    op.drop_table("attachment")
    with op.batch_alter_table("unhcr_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unhcr_status_individual_id"))

    op.drop_table("unhcr_status")
    with op.batch_alter_table("travel_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_travel_document_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_travel_document_number_index"))
        batch_op.drop_index(batch_op.f("ix_travel_document_individual_id"))

    op.drop_table("travel_document")
    with op.batch_alter_table("individual_name_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_individual_name_index_value"))
        batch_op.drop_index(batch_op.f("ix_individual_name_index_individual_id"))

    op.drop_table("individual_name_index")
    with op.batch_alter_table("incident_subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_subject_individual_id"))

    op.drop_table("incident_subject")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_case_opened_by"))
        batch_op.drop_index(batch_op.f("ix_case_individual_id"))

    op.drop_table("case")
    with op.batch_alter_table("individual", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_individual_risk_level"))
        batch_op.drop_index("ix_individual_organisation_id_id")
        batch_op.drop_index(batch_op.f("ix_individual_created_by"))

    op.drop_table("individual")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_type"))
        batch_op.drop_index(batch_op.f("ix_incident_organisation_id"))

    op.drop_table("incident")
