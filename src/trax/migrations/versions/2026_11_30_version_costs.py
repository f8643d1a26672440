"""what each transcript version cost: compute and LLM apart, and LLM tokens

Revision ID: 2e8b6d4f0c53
Revises: 7b2e4f6a8c31
Create Date: 2026-11-30 04:15:00

``cost_usd`` becomes the total of ``compute_usd`` (CPU seconds at the price per CPU-hour in force
when the version was made) and ``llm_usd`` (chat API tokens at the model's price); the tokens are
kept too. Existing versions keep their columns; their compute cost is left unknown (null): the
cost report prices their CPU seconds at the current rate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2e8b6d4f0c53"
down_revision: str | None = "7b2e4f6a8c31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compute_usd", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("llm_usd", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("prompt_tokens", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("completion_tokens", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.drop_column("completion_tokens")
        batch_op.drop_column("prompt_tokens")
        batch_op.drop_column("llm_usd")
        batch_op.drop_column("compute_usd")
