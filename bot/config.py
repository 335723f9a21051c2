"""Every environment variable the assistant reads, typed, with its default: read once, here.

`get_settings()` builds the settings from the environment the first time it is called; other
modules import it (or get a `Settings` passed) and never touch `os.environ`. Tests build a
`Settings(...)` and install it with `use_settings`. Every variable is listed in the README's
environment tables (tests/test_config.py checks both ways).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional

from pydantic import BaseSettings, Field, validator

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    # Embedded defaults: SQLite files in a git-ignored folder, so a bare machine needs nothing.
    var_dir: Path = Field(default=ROOT / "var", env="BOT_VAR_DIR")
    database_url: str = Field(default="", env="TRIAL_DATABASE_URL")
    tracker_store_url: str = Field(default="", env="TRACKER_STORE_URL")
    # The study this assistant is for; every "this study" answer is about it.
    trial_id: str = Field(default="NCT05113290", env="TRIAL_NCT_ID")
    # Region for phone numbers typed without a country code (callback requests).
    phone_region: str = Field(default="CN", env="PHONE_REGION")
    # The language of a conversation nothing has told us about yet (no text, no channel hint).
    default_language: str = Field(default="zh", env="BOT_DEFAULT_LANGUAGE", regex="^(en|zh)$")
    # When the study team usually calls back: "1-5 08:00-17:00" (ISO weekdays, local time);
    # empty: the assistant says it does not know their hours.
    study_office_hours: str = Field(default="", env="STUDY_OFFICE_HOURS")
    # ClinicalTrials.gov API v2, for `python -m bot trials refresh`.
    ctgov_api_url: str = Field(default="https://clinicaltrials.gov/api/v2", env="CTGOV_API_URL")
    # Conversations (and what the console keeps on them) older than this are purged.
    retention_days: int = Field(default=180, env="RETENTION_DAYS", gt=0)

    rasa_port: int = Field(default=5005, env="RASA_PORT")
    action_port: int = Field(default=5055, env="ACTION_PORT")
    web_port: int = Field(default=8000, env="WEB_PORT")
    rasa_url: str = Field(default="", env="RASA_URL")  # what the demo page's widget talks to
    rasa_interface: str = Field(default="127.0.0.1", env="RASA_INTERFACE")
    action_endpoint_url: str = Field(default="", env="ACTION_ENDPOINT_URL")
    # rasa_sdk binds the action server to SANIC_HOST (0.0.0.0 unless set): keep it private.
    sanic_host: str = Field(default="127.0.0.1", env="SANIC_HOST")
    rasa_telemetry_enabled: bool = Field(default=False, env="RASA_TELEMETRY_ENABLED")

    # Channels
    max_message_chars: int = Field(default=2000, env="MAX_MESSAGE_CHARS", gt=0)
    # REST and socket.io conversation ids are "rest:"/"socketio:" + HMAC-SHA256(this, the
    # client's id); empty: a random secret generated once in var_dir/conversation_id_secret.
    conversation_id_secret: str = Field(default="", env="CONVERSATION_ID_SECRET")
    # Messages accepted per RATE_LIMIT_WINDOW seconds (REST and socket.io, in Redis when
    # REDIS_URL is set): from one client address, and into one conversation; 0 turns one off.
    rate_limit_window: float = Field(default=60.0, env="RATE_LIMIT_WINDOW", gt=0)
    rate_limit_per_address: int = Field(default=300, env="RATE_LIMIT_PER_ADDRESS", ge=0)
    rate_limit_per_conversation: int = Field(default=30, env="RATE_LIMIT_PER_CONVERSATION", ge=0)
    # A message's metadata beyond these is dropped (logged, never stored).
    max_metadata_bytes: int = Field(default=2048, env="MAX_METADATA_BYTES", gt=0)
    max_metadata_keys: int = Field(default=20, env="MAX_METADATA_KEYS", gt=0)
    # Largest socket.io frame (python-socketio's max_http_buffer_size); a larger one is refused.
    socketio_max_frame_bytes: int = Field(
        default=64 * 1024, env="SOCKETIO_MAX_FRAME_BYTES", ge=1024
    )
    # Seconds a REST or socket.io message may take before the patient gets a 503 "try again";
    # above Rasa's conversation lock lifetime (60 s), which a message may wait out when the
    # replica holding the lock died.
    channel_reply_timeout: float = Field(default=90.0, env="CHANNEL_REPLY_TIMEOUT", gt=0)

    # Staff console
    staff_session_key: str = Field(default="", env="STAFF_SESSION_KEY")
    staff_cookie_secure: bool = Field(default=False, env="STAFF_COOKIE_SECURE")
    staff_timezone: str = Field(default="UTC", env="STAFF_TIMEZONE")
    # How often the console folds new conversation events into its index, in the background.
    staff_index_seconds: float = Field(default=5.0, env="STAFF_INDEX_SECONDS", gt=0)
    # Reverse proxies whose X-Forwarded-For names the real client (comma-separated addresses
    # or networks); requests from anywhere else are taken at their own address.
    trusted_proxies: str = Field(default="", env="TRUSTED_PROXIES")

    # Production profile
    redis_url: str = Field(default="", env="REDIS_URL")
    redis_lock_prefix: str = Field(default="trialbot", env="REDIS_LOCK_PREFIX")
    prod_rasa_replicas: int = Field(default=2, env="PROD_RASA_REPLICAS", ge=1)
    prod_action_replicas: int = Field(default=2, env="PROD_ACTION_REPLICAS", ge=1)
    prod_rasa_base_port: int = Field(default=5100, env="PROD_RASA_BASE_PORT")
    prod_action_base_port: int = Field(default=5200, env="PROD_ACTION_BASE_PORT")
    prod_action_timeout: float = Field(default=1.5, env="PROD_ACTION_TIMEOUT", gt=0)
    # nginx in front of the public Rasa API, per client address: requests per second, the
    # burst allowed above it, and open connections (0 turns a limit off).
    prod_public_rate: int = Field(default=10, env="PROD_PUBLIC_RATE", ge=0)
    prod_public_burst: int = Field(default=20, env="PROD_PUBLIC_BURST", ge=0)
    prod_public_connections: int = Field(default=20, env="PROD_PUBLIC_CONNECTIONS", ge=0)

    class Config:
        case_sensitive = True

    @validator("database_url", always=True)
    def _trial_database(cls, value: str, values: Dict) -> str:
        return value or f"sqlite:///{values['var_dir'] / 'trials.db'}"

    @validator("tracker_store_url", always=True)
    def _tracker_store(cls, value: str, values: Dict) -> str:
        return value or f"sqlite:///{values['var_dir'] / 'tracker.db'}"

    @validator("rasa_url", always=True)
    def _rasa_url(cls, value: str, values: Dict) -> str:
        return value or f"http://127.0.0.1:{values.get('rasa_port', 5005)}"

    @validator("action_endpoint_url", always=True)
    def _action_endpoint(cls, value: str, values: Dict) -> str:
        return value or f"http://127.0.0.1:{values.get('action_port', 5055)}/webhook"


_current: Optional[Settings] = None


def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    global _current
    if _current is None:
        _current = Settings()
    return _current


def use_settings(settings: Optional[Settings]) -> None:
    """Install settings (tests, or a command that was given its own); None reads the
    environment again on next use."""
    global _current
    _current = settings


def environment() -> Dict[str, str]:
    """A copy of this process's environment, for starting child processes (Rasa, the action
    server) and for the channel credentials builder, which passes ${VAR} names through."""
    return dict(os.environ)
