"""staff console: accounts, audit log, conversation summaries, reviews, tags, notes, NLU inbox,
screening follow-up, indexer state (bot/console_models.py)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 15:20:05.083423
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_username'), ['username'], unique=False)

    op.create_table('conversation_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=255), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversation_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_note_sender_id'), ['sender_id'], unique=False)

    op.create_table('conversation_review',
    sa.Column('sender_id', sa.String(length=255), nullable=False),
    sa.Column('reviewed_by', sa.String(length=64), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sender_id')
    )
    op.create_table('conversation_summary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=255), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=60), nullable=True),
    sa.Column('turns', sa.Integer(), nullable=False),
    sa.Column('bot_turns', sa.Integer(), nullable=False),
    sa.Column('fallback_count', sa.Integer(), nullable=False),
    sa.Column('min_confidence', sa.Float(), nullable=True),
    sa.Column('screening_outcome', sa.String(length=20), nullable=True),
    sa.Column('callback_asked', sa.Boolean(), nullable=False),
    sa.Column('handoff', sa.Boolean(), nullable=False),
    sa.Column('preview', sa.Text(), nullable=True),
    sa.Column('search_text', sa.Text(), nullable=True),
    sa.Column('first_event_id', sa.Integer(), nullable=True),
    sa.Column('last_event_id', sa.Integer(), nullable=True),
    sa.Column('last_user_event_id', sa.Integer(), nullable=True),
    sa.Column('last_user_fallback', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender_id')
    )
    with op.batch_alter_table('conversation_summary', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_summary_callback_asked'), ['callback_asked'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_summary_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_summary_fallback_count'), ['fallback_count'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_summary_handoff'), ['handoff'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_summary_last_event_at'), ['last_event_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_summary_min_confidence'), ['min_confidence'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_summary_screening_outcome'), ['screening_outcome'], unique=False)
        batch_op.create_index('ix_conversation_summary_started', ['started_at', 'id'], unique=False)

    op.create_table('conversation_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=255), nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender_id', 'tag')
    )
    with op.batch_alter_table('conversation_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_tag_tag'), ['tag'], unique=False)

    op.create_table('indexer_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('last_event_id', sa.Integer(), nullable=False),
    sa.Column('gaps', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('nlu_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('predicted_intent', sa.String(length=120), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('said_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('intent', sa.String(length=120), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('nlu_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nlu_inbox_sender_id'), ['sender_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_nlu_inbox_status'), ['status'], unique=False)

    op.create_table('staff_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('screening_followup',
    sa.Column('screening_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['screening_id'], ['screening.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('screening_id')
    )
    # the indexer's row exists from the start, so concurrent first runs lock it, never race to
    # insert it
    indexer_state = sa.table('indexer_state', sa.column('name', sa.String),
                             sa.column('last_event_id', sa.Integer), sa.column('gaps', sa.Text),
                             sa.column('updated_at', sa.DateTime(timezone=True)))
    op.bulk_insert(indexer_state, [{'name': 'events', 'last_event_id': 0, 'gaps': '[]',
                                    'updated_at': datetime.now(timezone.utc)}])


def downgrade() -> None:
    op.drop_table('screening_followup')
    op.drop_table('staff_user')
    with op.batch_alter_table('nlu_inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nlu_inbox_status'))
        batch_op.drop_index(batch_op.f('ix_nlu_inbox_sender_id'))

    op.drop_table('nlu_inbox')
    op.drop_table('login_throttle')
    op.drop_table('indexer_state')
    with op.batch_alter_table('conversation_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_tag_tag'))

    op.drop_table('conversation_tag')
    with op.batch_alter_table('conversation_summary', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_summary_started')
        batch_op.drop_index(batch_op.f('ix_conversation_summary_screening_outcome'))
        batch_op.drop_index(batch_op.f('ix_conversation_summary_min_confidence'))
        batch_op.drop_index(batch_op.f('ix_conversation_summary_last_event_at'))
        batch_op.drop_index(batch_op.f('ix_conversation_summary_handoff'))
        batch_op.drop_index(batch_op.f('ix_conversation_summary_fallback_count'))
        batch_op.drop_index(batch_op.f('ix_conversation_summary_channel'))
        batch_op.drop_index(batch_op.f('ix_conversation_summary_callback_asked'))

    op.drop_table('conversation_summary')
    op.drop_table('conversation_review')
    with op.batch_alter_table('conversation_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_note_sender_id'))

    op.drop_table('conversation_note')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_username'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
