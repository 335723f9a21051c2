"""Demo hospital page and the embeddable chat widget (being built: issue 4)."""
from aiohttp import web


def setup(app: web.Application) -> None:
    """Registers the widget's routes."""
