"""registry refresh: screening answers keep their criterion's key and question (the link to the
criterion becomes nullable, ON DELETE SET NULL), the refresh history (study_refresh), the
registry's hasResults, room for a phone extension

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# SQLite keeps 0001's constraints unnamed; batch mode names them this way to drop them.
NAMING = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
}
FK = "screening_answer_criterion_id_fkey"
OLD_UNIQUE = "screening_answer_screening_id_criterion_id_key"
NEW_UNIQUE = "screening_answer_screening_id_criterion_key_key"

answer = sa.table(
    "screening_answer",
    sa.column("criterion_id", sa.Integer),
    sa.column("criterion_key", sa.String),
    sa.column("question", sa.Text),
)
criterion = sa.table(
    "criterion", sa.column("id", sa.Integer), sa.column("key", sa.String), sa.column("question")
)
contact = sa.table("contact", sa.column("phone", sa.String))


def _names() -> tuple:
    """The names of screening_answer's criterion FK and of its unique constraint: PostgreSQL
    named 0001's itself; SQLite left them unnamed, and batch mode then names them by NAMING."""
    inspector = sa.inspect(op.get_bind())
    fk = next(
        f["name"]
        for f in inspector.get_foreign_keys("screening_answer")
        if f["constrained_columns"] == ["criterion_id"]
    )
    unique = next(
        u["name"]
        for u in inspector.get_unique_constraints("screening_answer")
        if set(u["column_names"]) == {"screening_id", "criterion_id"}
    )
    return (
        fk or "fk_screening_answer_criterion_id_criterion",
        unique or "uq_screening_answer_screening_id_criterion_id",
    )


def upgrade() -> None:
    with op.batch_alter_table("study") as batch_op:
        batch_op.add_column(sa.Column("has_results", sa.Boolean(), nullable=True))
    with op.batch_alter_table("contact") as batch_op:
        batch_op.alter_column(
            "phone", existing_type=sa.String(length=60), type_=sa.String(length=100)
        )
    op.create_table(
        "study_refresh",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("study_refresh") as batch_op:
        batch_op.create_index(batch_op.f("ix_study_refresh_nct_id"), ["nct_id"])

    with op.batch_alter_table("screening_answer") as batch_op:
        batch_op.add_column(sa.Column("criterion_key", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("question", sa.Text(), nullable=True))
    of_answer = criterion.c.id == answer.c.criterion_id
    op.execute(
        answer.update().values(
            criterion_key=sa.select(criterion.c.key).where(of_answer).scalar_subquery(),
            question=sa.select(criterion.c.question).where(of_answer).scalar_subquery(),
        )
    )
    fk, unique = _names()
    with op.batch_alter_table("screening_answer", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(fk, type_="foreignkey")
        batch_op.drop_constraint(unique, type_="unique")
        batch_op.alter_column("criterion_key", existing_type=sa.String(length=60), nullable=False)
        batch_op.alter_column("criterion_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(FK, "criterion", ["criterion_id"], ["id"], ondelete="SET NULL")
        batch_op.create_unique_constraint(NEW_UNIQUE, ["screening_id", "criterion_key"])


def downgrade() -> None:
    # Answers whose criterion was removed cannot be kept by 0003's schema (criterion_id NOT
    # NULL): they are deleted.
    op.execute(answer.delete().where(answer.c.criterion_id.is_(None)))
    with op.batch_alter_table("screening_answer") as batch_op:
        batch_op.drop_constraint(NEW_UNIQUE, type_="unique")
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.alter_column("criterion_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(FK, "criterion", ["criterion_id"], ["id"], ondelete="CASCADE")
        batch_op.create_unique_constraint(OLD_UNIQUE, ["screening_id", "criterion_id"])
        batch_op.drop_column("question")
        batch_op.drop_column("criterion_key")

    with op.batch_alter_table("study_refresh") as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_refresh_nct_id"))
    op.drop_table("study_refresh")
    op.execute(
        contact.update()
        .where(sa.func.length(contact.c.phone) > 60)
        .values(phone=sa.func.substr(contact.c.phone, 1, 60))
    )
    with op.batch_alter_table("contact") as batch_op:
        batch_op.alter_column(
            "phone", existing_type=sa.String(length=100), type_=sa.String(length=60)
        )
    if op.get_bind().dialect.name == "sqlite":
        # not batch mode: recreating `study` would drop it, and with foreign keys on that
        # deletes every criterion, screening and answer (ON DELETE CASCADE); SQLite >= 3.35
        op.execute("ALTER TABLE study DROP COLUMN has_results")
    else:
        op.drop_column("study", "has_results")
