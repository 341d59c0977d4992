"""notification preferences, push subscriptions, on-call rota, escalation steps

Alerts now reach people where they are: each user's notification preferences (channels, a
minimum severity, quiet hours; their time zone stays the profile's user.time_zone), browsers'
Web Push subscriptions (endpoint and keys sealed with the user's key), the deployment's VAPID
key (private half sealed), an organisation's on-call rota, and the two steps of an unacknowledged
critical alert's escalation (to the person on call, then to every supervisor).

Revision ID: 2c6ffc9f539a
Revises: 8c78ac729bfa
Create Date: 2026-12-04 12:38:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c6ffc9f539a"
down_revision: str | Sequence[str] | None = "8c78ac729bfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_notification_preference_user_id_user")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "push_subscription",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_ct", sa.LargeBinary(), nullable=False),
        sa.Column("keys_ct", sa.LargeBinary(), nullable=False),
        sa.Column("endpoint_tag", sa.String(length=64), nullable=False),
        sa.Column("last_success_at", UTC, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_push_subscription_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscription")),
        sa.UniqueConstraint("endpoint_tag", name=op.f("uq_push_subscription_endpoint_tag")),
    )
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_subscription_user_id"), ["user_id"], unique=False)
    op.create_table(
        "push_server_key",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_key", sa.String(length=100), nullable=False),
        sa.Column("private_key_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_server_key")),
    )
    op.create_table(
        "on_call_shift",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("ends_at", UTC, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_on_call_shift_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_on_call_shift_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_shift")),
    )
    with op.batch_alter_table("on_call_shift", schema=None) as batch_op:
        batch_op.create_index(
            "ix_on_call_shift_organisation_id_ends_at", ["organisation_id", "ends_at"], unique=False
        )
    op.create_table(
        "alert_escalation",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("to_user_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_escalation_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("alert_id", "step", name=op.f("pk_alert_escalation")),
    )


def downgrade() -> None:
    op.drop_table("alert_escalation")
    with op.batch_alter_table("on_call_shift", schema=None) as batch_op:
        batch_op.drop_index("ix_on_call_shift_organisation_id_ends_at")
    op.drop_table("on_call_shift")
    op.drop_table("push_server_key")
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_subscription_user_id"))
    op.drop_table("push_subscription")
    op.drop_table("notification_preference")
