"""search index over the segments of every transcript's current version

Revision ID: 5a1f3e8c9d20
Revises: 2e8b6d4f0c53
Create Date: 2026-11-30 04:00:00

``segment_hits`` holds one row per segment of each transcript's newest version. Beside it, per
database (ADR 0015): on SQLite two external-content FTS5 tables (``segment_fts_en``: porter
stemming for English; ``segment_fts``: case and accents folded only), each over a view of its
analyzer's rows and kept in sync by triggers;
on PostgreSQL a generated ``tsvector`` column (configurations ``trax_english`` and
``trax_simple``, both with ``unaccent`` and without stop words) and a GIN index over it.
Existing transcripts are indexed here.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import trax.db

revision: str = "5a1f3e8c9d20"
down_revision: str | None = "2e8b6d4f0c53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    # Each FTS5 table reads its rows' text from a view of its analyzer's rows, so that FTS5's
    # own 'rebuild' (and 'integrity-check') see exactly the rows the triggers give it.
    "CREATE VIEW segment_hits_en AS SELECT id, text FROM segment_hits WHERE analyzer = 'english'",
    "CREATE VIEW segment_hits_simple AS SELECT id, text FROM segment_hits "
    "WHERE analyzer <> 'english'",
    "CREATE VIRTUAL TABLE segment_fts_en USING fts5(text, content='segment_hits_en', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE segment_fts USING fts5(text, content='segment_hits_simple', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    # FTS5 external-content tables are not told about changes: these triggers tell them (also
    # of rows removed by the foreign key's ON DELETE CASCADE, which fires delete triggers).
    """CREATE TRIGGER segment_hits_ai AFTER INSERT ON segment_hits BEGIN
        INSERT INTO segment_fts_en(rowid, text) SELECT new.id, new.text
            WHERE new.analyzer = 'english';
        INSERT INTO segment_fts(rowid, text) SELECT new.id, new.text
            WHERE new.analyzer <> 'english';
    END""",
    """CREATE TRIGGER segment_hits_ad AFTER DELETE ON segment_hits BEGIN
        INSERT INTO segment_fts_en(segment_fts_en, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.analyzer = 'english';
        INSERT INTO segment_fts(segment_fts, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.analyzer <> 'english';
    END""",
    """CREATE TRIGGER segment_hits_au AFTER UPDATE ON segment_hits BEGIN
        INSERT INTO segment_fts_en(segment_fts_en, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.analyzer = 'english';
        INSERT INTO segment_fts(segment_fts, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.analyzer <> 'english';
        INSERT INTO segment_fts_en(rowid, text) SELECT new.id, new.text
            WHERE new.analyzer = 'english';
        INSERT INTO segment_fts(rowid, text) SELECT new.id, new.text
            WHERE new.analyzer <> 'english';
    END""",
]
_MAPPED = "asciiword, asciihword, hword_asciipart, word, hword, hword_part"
_POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    # Snowball without a stop-word list: "the" and "not" are searchable, as on SQLite.
    "CREATE TEXT SEARCH DICTIONARY trax_english_stem (TEMPLATE = snowball, Language = english)",
    "CREATE TEXT SEARCH CONFIGURATION trax_english (COPY = english)",
    f"ALTER TEXT SEARCH CONFIGURATION trax_english ALTER MAPPING FOR {_MAPPED} "
    "WITH unaccent, trax_english_stem",
    "CREATE TEXT SEARCH CONFIGURATION trax_simple (COPY = simple)",
    f"ALTER TEXT SEARCH CONFIGURATION trax_simple ALTER MAPPING FOR {_MAPPED} "
    "WITH unaccent, simple",
    "ALTER TABLE segment_hits ADD COLUMN tsv tsvector GENERATED ALWAYS AS (CASE WHEN "
    "analyzer = 'english' THEN to_tsvector('trax_english'::regconfig, text) "
    "ELSE to_tsvector('trax_simple'::regconfig, text) END) STORED",
    "CREATE INDEX ix_segment_hits_tsv ON segment_hits USING gin (tsv)",
]


def upgrade() -> None:
    op.create_table(
        "segment_hits",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("transcript_id", sa.String(length=36), nullable=False),
        sa.Column("media_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("speaker", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("analyzer", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", trax.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_segment_hits_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_hits")),
    )
    with op.batch_alter_table("segment_hits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_segment_hits_transcript_id"), ["transcript_id"], unique=False
        )
    bind = op.get_bind()
    for statement in _SQLITE if bind.dialect.name == "sqlite" else _POSTGRESQL:
        op.execute(statement)
    _index_existing(bind)


def _index_existing(bind: sa.Connection) -> None:
    """One row per segment of each transcript's newest version."""
    latest = sa.text(
        "SELECT t.id, t.media_id, t.created_at, m.owner_id, v.version, v.stage, v.language, "
        "v.document FROM transcripts t JOIN media m ON m.id = t.media_id "
        "JOIN transcript_versions v ON v.transcript_id = t.id WHERE v.version = "
        "(SELECT max(o.version) FROM transcript_versions o WHERE o.transcript_id = t.id)"
    ).columns(created_at=trax.db.UTCDateTime(), document=trax.db.JSONType)
    names = "transcript_id media_id owner_id version stage segment start end speaker language"
    columns: list[sa.ColumnClause[Any]] = [
        sa.column(c) for c in (*names.split(), "analyzer", "text")
    ]
    hits = sa.table("segment_hits", *columns, sa.column("created_at", trax.db.UTCDateTime()))
    for row in bind.execute(latest):
        rows: list[dict[str, Any]] = []
        for i, segment in enumerate(row.document.get("segments", [])):
            language = segment.get("language") or row.language
            rows.append(
                {
                    "transcript_id": row.id,
                    "media_id": row.media_id,
                    "owner_id": row.owner_id,
                    "version": row.version,
                    "stage": row.stage,
                    "segment": i,
                    "start": segment["start"],
                    "end": segment["end"],
                    "speaker": segment.get("speaker"),
                    "language": language,
                    "analyzer": "english" if language == "en" else "simple",
                    "text": segment["text"].replace("\x02", "").replace("\x03", "").strip(),
                    "created_at": row.created_at or datetime.now(UTC),
                }
            )
        if rows:
            bind.execute(hits.insert(), rows)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("segment_hits_ai", "segment_hits_ad", "segment_hits_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS segment_fts_en")
        op.execute("DROP TABLE IF EXISTS segment_fts")
        op.execute("DROP VIEW IF EXISTS segment_hits_en")
        op.execute("DROP VIEW IF EXISTS segment_hits_simple")
    op.drop_table("segment_hits")
    if bind.dialect.name != "sqlite":
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS trax_english")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS trax_simple")
        op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS trax_english_stem")
