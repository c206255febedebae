"""Indexes for the users list: keyset paging by creation time, trigram substring search.

On PostgreSQL the search index is a GIN index with ``gin_trgm_ops`` (the ``pg_trgm``
extension, which a database owner may create since PostgreSQL 13), so ``LIKE '%text%'`` over
username, e-mail and name stays fast with 100,000 users. SQLite has no trigram indexes and
gets a plain one (it scans for substrings either way). Downgrading leaves the extension in
place: it may have been there before, and other objects may use it.

Revision ID: e5974dc705e9
Revises: 9dd881ab65db
Create Date: 2026-11-24 10:50:12.079632

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "e5974dc705e9"
down_revision = "9dd881ab65db"
branch_labels = None
depends_on = None

TRIGRAM_OPS = {"username": "gin_trgm_ops", "email": "gin_trgm_ops", "full_name": "gin_trgm_ops"}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_users_search_trgm",
            ["username", "email", "full_name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops=TRIGRAM_OPS,
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_search_trgm")
        batch_op.drop_index("ix_users_created_at_id")
