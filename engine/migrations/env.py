"""Alembic environment: the URL comes from the caller (engine.migrate), never from a file."""
from alembic import context

from engine.store import Base, make_engine

config = context.config
target_metadata = Base.metadata
# PostgreSQL-only indexes that migration 0015 manages outside the models (trigram indexes
# for case search); comparing the models with a database leaves them out.
MIGRATION_ONLY_INDEXES = {"ix_members_search_name_trgm", "ix_members_search_kana_trgm"}


def include_object(object_, name, type_, reflected, compare_to):
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def process_revision_directives(context_, revision, directives):
    # An autogenerate run that finds no changes writes no empty revision.
    if config.cmd_opts and getattr(config.cmd_opts, "autogenerate", False):
        if directives[0].upgrade_ops.is_empty():
            directives[:] = []


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), foreign_keys=False)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True, include_object=include_object,
                      process_revision_directives=process_revision_directives)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
