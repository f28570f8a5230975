"""The reporting database, one home for both engines: `schema` (the tables the `publish` step writes and
the views Power BI reads, one SQLAlchemy definition), `database` (opening SQLite or Azure SQL, the
schema's version) and `migration` (Alembic running the revisions in `migrations/`). stackctl adds only
what deploy grants (`stackctl.sql.users`)."""
