"""languages and data rights: study translations, criterion translations, enrollment, the
conversation's language, patients' deletion requests, WeChat replay guard

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "study_translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("study_id", "field", "language"),
    )
    with op.batch_alter_table("study_translation") as batch_op:
        batch_op.create_index(batch_op.f("ix_study_translation_study_id"), ["study_id"])
    with op.batch_alter_table("criterion") as batch_op:
        batch_op.add_column(
            sa.Column("translations", sa.JSON(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("study") as batch_op:
        batch_op.add_column(sa.Column("enrollment_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("enrollment_type", sa.String(length=10), nullable=True))
    with op.batch_alter_table("conversation_summary") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.create_index(batch_op.f("ix_conversation_summary_language"), ["language"])
    op.create_table(
        "deletion_request",
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Text(), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_table(
        "channel_replay",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("channel_replay") as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_replay_expires_at"), ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("channel_replay") as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_replay_expires_at"))
    op.drop_table("channel_replay")
    op.drop_table("deletion_request")
    with op.batch_alter_table("conversation_summary") as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_summary_language"))
        batch_op.drop_column("language")
    with op.batch_alter_table("study") as batch_op:
        batch_op.drop_column("enrollment_type")
        batch_op.drop_column("enrollment_count")
    with op.batch_alter_table("criterion") as batch_op:
        batch_op.drop_column("translations")
    with op.batch_alter_table("study_translation") as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_translation_study_id"))
    op.drop_table("study_translation")
