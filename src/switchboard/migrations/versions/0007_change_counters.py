"""llm_change_counters: a counter per kind of change, starting with `credentials`

Every change to a user, a virtual key or a BYOK key raises `credentials` by one in its own
transaction; each gateway process reads it with its catalog poll and, when it moved, reads
the keys it has cached again. Timestamps could not do this: two changes in one clock tick, or
written by a replica whose clock is behind, leave the newest `updated_at` where it was, and a
BYOK key's `updated_at` moves whenever its use is recorded.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counters = op.create_table(
        "llm_change_counters",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_llm_change_counters")),
    )
    op.bulk_insert(counters, [{"name": "credentials", "value": 0}])


def downgrade() -> None:
    op.drop_table("llm_change_counters")
