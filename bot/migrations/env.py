"""Alembic environment: migrates the database named in the Alembic config."""

from alembic import context

import bot.console.models  # noqa: F401  (registers the staff console's tables)
import bot.rasa_ext.channels.models  # noqa: F401  (registers the channels' tables)
import bot.screening.models  # noqa: F401  (registers the screening tables)
import bot.trial.models  # noqa: F401  (registers the trial tables)
from bot.db import Base, make_engine

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table to change it (copy, drop, rename): with foreign keys on,
            # dropping the old `study` would cascade-delete every screening.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end the implicit transaction, so Alembic's own one commits
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
