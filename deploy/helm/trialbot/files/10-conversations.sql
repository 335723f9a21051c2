-- Runs once, when the PostgreSQL volume is created (official image's /docker-entrypoint-initdb.d):
-- Rasa's tracker store gets a database of its own beside the trial database (POSTGRES_DB=trials),
-- so the trial database can be down while conversations are still stored.
CREATE DATABASE conversations;
