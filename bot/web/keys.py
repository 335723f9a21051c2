"""Typed application state keys shared by the web app's areas."""
from aiohttp import web

from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
