"""Every route of the staff console, in one place (paths below its /staff mount point)."""

from __future__ import annotations

from aiohttp import web

from bot.web.staff import auth, conversations, nlu, queue, studies
from bot.web.staff.audit import audit_page

ROUTES = [
    ("GET", "", auth.root),
    ("GET", "/", auth.root),
    ("GET", "/login", auth.login_page),
    ("POST", "/login", auth.login),
    ("POST", "/logout", auth.logout),
    ("GET", "/conversations", conversations.conversation_list),
    # before /conversations/{id}
    ("GET", "/conversations/export", conversations.export_conversations),
    ("POST", "/conversations/export", conversations.export_conversations),
    ("GET", "/conversations/{id}", conversations.transcript_page),
    ("POST", "/conversations/{id}/reveal", conversations.reveal),
    ("POST", "/conversations/{id}/review", conversations.review),
    ("POST", "/conversations/{id}/tags", conversations.tags),
    ("POST", "/conversations/{id}/notes", conversations.notes),
    ("GET", "/conversations/{id}/stories.yml", conversations.stories),
    ("POST", "/conversations/{id}/stories.yml", conversations.stories),
    ("GET", "/api/conversations", conversations.api_conversations),
    ("GET", "/api/conversations/{id}", conversations.api_transcript),
    ("GET", "/queue", queue.queue_page),
    ("POST", "/queue/callbacks/{id}/status", queue.callback_status),
    ("POST", "/queue/callbacks/{id}/reveal", queue.reveal_callback),
    ("POST", "/queue/screenings/{id}/status", queue.screening_status),
    ("GET", "/nlu", nlu.nlu_page),
    ("POST", "/nlu/{id}", nlu.nlu_decide),
    ("GET", "/studies", studies.studies_page),
    ("GET", "/studies/{nct_id}", studies.study_page),
    ("GET", "/audit", audit_page),
]


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        if method == "GET":
            app.router.add_get(path, handler)  # and HEAD
        else:
            app.router.add_route(method, path, handler)
