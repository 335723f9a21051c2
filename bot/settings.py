"""Settings from environment variables, with embedded defaults that work on a bare machine."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BOT_VAR_DIR", ROOT / "var"))


def _default_sqlite(name: str) -> str:
    return f"sqlite:///{VAR_DIR / name}"


@dataclass(frozen=True)
class Settings:
    # The trial database (studies, criteria, screenings, staff tables).
    database_url: str = field(
        default_factory=lambda: os.environ.get("TRIAL_DATABASE_URL", _default_sqlite("trials.db"))
    )
    # Rasa's conversation store; the staff console reads it, never writes it.
    tracker_store_url: str = field(
        default_factory=lambda: os.environ.get("TRACKER_STORE_URL", _default_sqlite("tracker.db"))
    )
    # The study this assistant is for; every "this study" answer is about it.
    trial_id: str = field(default_factory=lambda: os.environ.get("TRIAL_NCT_ID", "NCT05113290"))
    # Region for phone numbers typed without a country code (callback requests).
    phone_region: str = field(default_factory=lambda: os.environ.get("PHONE_REGION", "CN"))
    rasa_port: int = field(default_factory=lambda: int(os.environ.get("RASA_PORT", "5005")))
    action_port: int = field(default_factory=lambda: int(os.environ.get("ACTION_PORT", "5055")))
    web_port: int = field(default_factory=lambda: int(os.environ.get("WEB_PORT", "8000")))
    rasa_url: str = field(
        default_factory=lambda: os.environ.get(
            "RASA_URL", f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}"
        )
    )


def get_settings() -> Settings:
    return Settings()
