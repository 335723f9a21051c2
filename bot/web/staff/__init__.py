"""Staff console under /staff (being built: issue 5)."""
from aiohttp import web


def setup(app: web.Application) -> None:
    """Registers the staff console's routes."""
