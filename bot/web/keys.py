"""Typed application state shared by the web app's areas."""

from typing import Any, Dict

import jinja2
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.db import Database

SETTINGS = web.AppKey("settings", Settings)
TRIAL_DB = web.AppKey("trial_db", Database)  # the trial database (and the console's tables)
TRACKER = web.AppKey("tracker", Engine)  # Rasa's tracker store, read-only

# The staff console sub-application
STAFF_JINJA = web.AppKey("staff_jinja2", jinja2.Environment)
STAFF_CONFIG = web.AppKey("staff_config", Dict[str, Any])  # tz, tz_name, intents
INDEX_STATE = web.AppKey("staff_index_state", Dict[str, Any])  # last run, last error, wake-up
