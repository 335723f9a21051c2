"""The studies area of the console: each study's status, last refresh and change history, kept
by `trials refresh`; escaped, signed-in only, audited."""

import json
from pathlib import Path

from sqlalchemy import select

from bot.console.models import AuditLog
from bot.db import database
from bot.trial import refresh
from bot.trial.importer import parse_records
from tests.support import unit_of_work
from tests.support.staff import XSS, signed_in

FIXTURES = Path(__file__).resolve().parents[2] / "trial" / "fixtures"
URL = "https://clinicaltrials.gov/api/v2/studies/"


def fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def refreshed(url):
    """NCT05113290 refreshed to the newer record (with a title carrying markup); one see-also
    study's refresh failed."""
    db = database(url)
    record = fixture("NCT05113290-recruiting.json")
    record["protocolSection"]["identificationModule"]["briefTitle"] = f"H101 {XSS}"
    (parsed,) = parse_records(record)
    assert refresh.store(db, "NCT05113290", parsed, URL + "NCT05113290").ok
    refresh.note_failure(db, "NCT03963206", f"HTTP 503 Service Unavailable from {URL}", URL)


async def test_studies_list_status_last_refresh_and_last_change(client, seeded):
    refreshed(seeded)
    await signed_in(client, seeded)
    response = await client.get("/staff/studies")
    assert response.status == 200
    html = await response.text()
    assert '<a href="/staff/studies" aria-current="page">Studies</a>' in html
    assert html.count('<tr id="NCT') == 21
    anchor = html.index('id="NCT05113290"')
    assert anchor < html.index('id="NCT03963206"')  # the assistant's own study first
    row = html[anchor : html.index("</tr>", anchor)]
    assert "this assistant's study" in row and "recruiting" in row
    assert "ok" in row and "org study id, title, official title, status and " in row
    failed = html[html.index('id="NCT03963206"') :]
    failed = failed[: failed.index("</tr>")]
    assert "failed" in failed and "HTTP 503 Service Unavailable" in failed
    assert "<script>window.__xss" not in html and "&lt;script&gt;" in html
    never = html[html.index('id="NCT03781934"') :]
    assert "never" in never[: never.index("</tr>")]


async def test_a_studys_history_lists_every_change(client, seeded):
    refreshed(seeded)
    await signed_in(client, seeded)
    html = await (await client.get("/staff/studies/NCT05113290")).text()
    assert "1 refresh from the registry" in html
    assert "status: NOT_YET_RECRUITING → RECRUITING" in html
    assert "contacts: + Jing Wang, RN, CONTACT, phone +86 29 8532 3901" in html
    assert "criteria: + age: this study is for people at least 18 years old" in html
    assert "<script>window.__xss" not in html and "H101 &lt;script&gt;" in html
    failed = await (await client.get("/staff/studies/NCT03963206")).text()
    assert "HTTP 503 Service Unavailable" in failed and "failed" in failed
    with unit_of_work(seeded) as session:
        actions = [(r.action, r.target) for r in session.scalars(select(AuditLog))]
    assert ("view_study_history", "study:NCT05113290") in actions


async def test_unknown_studies_are_404_and_anonymous_is_sent_to_sign_in(client, seeded):
    response = await client.get("/staff/studies", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/staff/login")
    await signed_in(client, seeded)
    assert (await client.get("/staff/studies/NCT09999999")).status == 404
    assert (await client.get("/staff/studies/not-an-id")).status == 404
