"""staff sessions on the server (staff_session: sign-out and disabling end them at once), the
free-text search copy masked like everything staff see, sign-in throttling keys per user name
and client address

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

summary = sa.table(
    "conversation_summary", sa.column("id", sa.Integer), sa.column("search_text", sa.Text)
)
BATCH = 1000


def _mask_search_text() -> None:
    """Existing search copies held the user text as it was: mask them (one way: the tracker
    store still has the text for transcripts)."""
    from bot.console.privacy import search_copy

    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(summary.c.id, summary.c.search_text)
            .where(summary.c.id > last)
            .order_by(summary.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for ident, text in rows:
            last = ident
            if text:
                masked = "\n".join(search_copy(line) for line in text.split("\n"))
                if masked != text:
                    bind.execute(
                        summary.update().where(summary.c.id == ident).values(search_text=masked)
                    )


def upgrade() -> None:
    op.create_table(
        "staff_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_session") as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_session_user_id"), ["user_id"])
    # throttling keys changed meaning ("user:" is now across all addresses): start afresh
    op.execute(sa.table("login_throttle").delete())
    _mask_search_text()


def downgrade() -> None:
    # the masked search copies stay masked (the original text is in the tracker store)
    op.execute(sa.table("login_throttle").delete())
    with op.batch_alter_table("staff_session") as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_session_user_id"))
    op.drop_table("staff_session")
