"""The studies area: each study's status, its last refresh from the registry and its change
history (read-only; refreshes run from the command line or a timer, see README)."""

from __future__ import annotations

from aiohttp import web

from bot.console import studies
from bot.trial.refresh import NCT_ID
from bot.web.keys import SETTINGS
from bot.web.staff.helpers import audit, in_db, render


async def studies_page(request: web.Request) -> web.Response:
    anchor = request.config_dict[SETTINGS].trial_id
    rows = await in_db(request, studies.study_list, anchor)
    await audit(request, "view_studies", "studies")
    return await render(request, "studies.html", {"section": "studies", "rows": rows})


async def study_page(request: web.Request) -> web.Response:
    nct_id = request.match_info["nct_id"]
    if not NCT_ID.match(nct_id):
        raise web.HTTPNotFound(text="No such study")
    found = await in_db(request, studies.study_history, nct_id)
    if found is None:
        raise web.HTTPNotFound(text="No such study")
    await audit(request, "view_study_history", f"study:{nct_id}")
    return await render(
        request,
        "studies.html",
        {"section": "studies", "study": found, "limit": studies.HISTORY_LIMIT},
    )
