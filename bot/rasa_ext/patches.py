"""Start-up checks for the Rasa and library internals this project patches or overrides.

Each module that replaces or wraps an internal (bot.rasa_ext.server, the socket.io handler
swap, the REST blueprint copy, the Telegram and Twilio overrides, the lock store) calls
`require(...)` at import time for the exact attributes it relies on. When a Rasa or library
upgrade renames or reshapes one, the process stops at start-up with what changed, instead of
the patch silently doing nothing.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional, Sequence


class PatchTargetChanged(RuntimeError):
    """An internal this project patches is not what the patch was written for."""


def _where(owner: Any) -> str:
    module = getattr(owner, "__module__", None) or getattr(owner, "__name__", "?")
    return f"{module}.{getattr(owner, '__qualname__', owner)}"


def require(
    owner: Any,
    name: str,
    *,
    params: Optional[Sequence[str]] = None,
    patched_by: str,
) -> Any:
    """`owner.name` must exist (and take exactly `params`, when given); returns it."""
    target = getattr(owner, name, None)
    if target is None:
        raise PatchTargetChanged(
            f"{_where(owner)}.{name} no longer exists; {patched_by} patches it and must be "
            "reviewed against the installed version"
        )
    if params is not None:
        found = list(inspect.signature(target).parameters)
        if found != list(params):
            raise PatchTargetChanged(
                f"{_where(owner)}.{name} now takes ({', '.join(found)}), not "
                f"({', '.join(params)}); {patched_by} patches it and must be reviewed"
            )
    return target


def require_keys(mapping: Any, keys: Sequence[str], *, what: str, patched_by: str) -> None:
    """`mapping` (e.g. a socket.io handler table) must hold every one of `keys`."""
    missing = [key for key in keys if key not in mapping]
    if missing:
        raise PatchTargetChanged(
            f"{what} has no {', '.join(missing)}; {patched_by} replaces them and must be "
            "reviewed against the installed version"
        )
