"""Typed application keys of the staff console's sub-application."""
from typing import Any, Dict

import jinja2
from aiohttp import web

STAFF_JINJA = web.AppKey("staff_jinja2", jinja2.Environment)
STAFF_CONFIG = web.AppKey("staff_config", Dict[str, Any])  # tz, tz_name, intents
INDEX_STATE = web.AppKey("staff_index_state", Dict[str, Any])  # lock, last run, last error
