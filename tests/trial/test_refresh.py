"""`python -m bot trials refresh`: against a local registry (an aiohttp server on 127.0.0.1
serving fixture records and every fault), never the network. A refresh updates in place,
prints what changed and keeps it for staff; any fault is one line, a non-zero exit, and the
study exactly as it was."""

import asyncio
import copy
import json
import socket
import threading
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.cli import main
from bot.config import get_settings, use_settings
from bot.console.studies import study_history
from bot.trial import models, queries
from tests.support import read, unit_of_work

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Registry:
    """A stand-in for the ClinicalTrials.gov API v2 in a thread of its own: `serve(nct_id,
    answer)` sets what `/api/v2/studies/{nct_id}` answers (a record, a status, raw text, or
    "hang" for no answer in time); unknown ids get the registry's 404."""

    def __init__(self) -> None:
        self.answers: dict = {}
        self.requests: list = []
        self.loop = asyncio.new_event_loop()
        self.release = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}/api/v2"

    def serve(self, nct_id, answer):
        self.answers[nct_id] = answer

    async def _study(self, request):
        nct_id = request.match_info["nct_id"]
        self.requests.append(nct_id)
        answer = self.answers.get(nct_id, 404)
        if answer == "hang":
            await asyncio.wait_for(self.release.wait(), 10)
        if isinstance(answer, int):
            return web.Response(status=answer, text=f"error {answer}")
        if isinstance(answer, str):
            return web.Response(text=answer, content_type="application/json")
        return web.json_response(answer)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_get("/api/v2/studies/{nct_id}", self._study)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.release.set)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)


@pytest.fixture
def registry(database_url):
    running = Registry()
    use_settings(get_settings().copy(update={"ctgov_api_url": running.url}))
    yield running
    running.stop()


def import_fixture(name):
    assert main(["trials", "import", str(FIXTURES / name)]) == 0


def snapshot(nct_id="NCT05113290"):
    with unit_of_work() as session:
        study = session.scalars(select(models.Study).where(models.Study.nct_id == nct_id)).one()
        columns = {c.key: getattr(study, c.key) for c in models.Study.__table__.columns}
        rows = {
            name: [
                {c.key: getattr(r, c.key) for c in r.__table__.columns}
                for r in getattr(study, name)
            ]
            for name in ("contacts", "locations", "criteria", "interventions", "arm_groups")
        }
        return columns, rows


def newer():
    record = fixture("NCT05113290-recruiting.json")
    record["protocolSection"]["designModule"]["phases"] = ["PHASE3", "PHASE4"]
    return record


def test_refresh_updates_in_place_prints_what_changed_and_keeps_it(registry, capsys):
    import_fixture("NCT05113290.json")
    registry.serve("NCT05113290", newer())
    capsys.readouterr()
    assert main(["trials", "refresh", "NCT05113290"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "NCT05113290: updated"
    for line in (
        "  status: NOT_YET_RECRUITING → RECRUITING",
        "  status verified: 2021-11 → 2026-10",
        "  start date: 2021-12-01 → 2022-03-15",
        "  completion date: 2023-12-01 → 2027-12",
        "  phases: PHASE4 → PHASE3, PHASE4",
        "  contacts: + Jing Wang, RN, CONTACT, phone +86 29 8532 3901, e-mail h101.study@"
        "example.org",
        "  contacts: - Study office, CONTACT, phone +86 29 8532 3900 ext. 2215",
        "  criteria: + age: this study is for people at least 18 years old and at most 80 years"
        " old",
        "  criteria: - age: this study is for people at least 18 years old and at most 75 years"
        " old",
    ):
        assert line in out, line
    assert out[-1].endswith(": 0 added, 1 updated, 0 unchanged, 0 failed")
    assert registry.url in out[-1]
    study = read(queries.get_study, "NCT05113290")
    assert study.status == "RECRUITING" and study.phases == ["PHASE3", "PHASE4"]
    (entry,) = read(study_history, "NCT05113290")["refreshes"]
    assert entry.ok and entry.changed and "status: NOT_YET_RECRUITING → RECRUITING" in entry.lines
    # again: nothing changes, and the unchanged refresh is kept too
    before = snapshot()
    assert main(["trials", "refresh", "NCT05113290"]) == 0
    assert "NCT05113290: unchanged" in capsys.readouterr().out
    assert snapshot() == before
    history = read(study_history, "NCT05113290")["refreshes"]
    assert [(r.ok, r.changed) for r in history] == [(True, False), (True, True)]


def test_refresh_without_ids_refreshes_every_study(registry, capsys):
    import_fixture("NCT05113290.json")
    import_fixture("search-page.json")
    registry.serve("NCT05113290", fixture("NCT05113290.json"))
    for record in fixture("search-page.json")["studies"]:
        nct_id = record["protocolSection"]["identificationModule"]["nctId"]
        changed = copy.deepcopy(record)
        changed["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
        registry.serve(nct_id, changed)
    capsys.readouterr()
    assert main(["trials", "refresh"]) == 0
    out = capsys.readouterr().out
    assert sorted(registry.requests) == ["NCT05113290", "NCT09000003", "NCT09000004"]
    assert "NCT05113290: unchanged" in out and "NCT09000004: updated" in out
    assert "0 added, 2 updated, 1 unchanged, 0 failed" in out
    assert read(queries.get_study, "NCT09000003").status == "COMPLETED"


def test_refresh_of_a_new_id_adds_the_study(registry, capsys):
    registry.serve("NCT09000001", fixture("observational-year-month.json"))
    assert main(["trials", "refresh", "NCT09000001"]) == 0
    assert "NCT09000001: added" in capsys.readouterr().out
    assert read(queries.get_study, "NCT09000001").status == "COMPLETED"


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v2"


def invalid_record():
    record = fixture("NCT05113290-recruiting.json")
    record["protocolSection"]["statusModule"]["overallStatus"] = "SORT_OF_RECRUITING"
    return record


def other_record():
    record = fixture("NCT05113290-recruiting.json")
    record["protocolSection"]["identificationModule"]["nctId"] = "NCT09000009"
    return record


@pytest.mark.parametrize(
    "answer, message",
    [
        (404, "HTTP 404 Not Found from http://127.0.0.1:"),
        (500, "HTTP 500 Internal Server Error from "),
        (503, "HTTP 503 Service Unavailable from "),
        ("hang", "no answer from http://127.0.0.1:"),
        ("{not json", "the answer is not valid JSON"),
        ("<html>Rate limit</html>", "the answer is not valid JSON"),
        (invalid_record(), "protocolSection.statusModule.overallStatus: value is not a valid"),
        (other_record(), "the answer is the record of NCT09000009, not NCT05113290"),
        (fixture("v1-full-studies.json"), "ClinicalTrials.gov API v1 response"),
        (None, "cannot reach http://127.0.0.1:"),
    ],
    ids=[
        "404",
        "500",
        "503",
        "timeout",
        "invalid-json",
        "html",
        "invalid-record",
        "other-record",
        "v1",
        "network-error",
    ],
)
def test_a_fault_is_one_line_exits_non_zero_and_changes_nothing(registry, capsys, answer, message):
    import_fixture("NCT05113290.json")
    before = snapshot()
    if answer is None:
        use_settings(get_settings().copy(update={"ctgov_api_url": closed_port_url()}))
    else:
        registry.serve("NCT05113290", answer)
    capsys.readouterr()
    assert main(["trials", "refresh", "NCT05113290", "--timeout", "0.5"]) == 1
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: NCT05113290: "), errors
    assert message in errors[0] and "Traceback" not in captured.err
    assert captured.out.strip().endswith("0 added, 0 updated, 0 unchanged, 1 failed")
    assert snapshot() == before
    (entry,) = read(study_history, "NCT05113290")["refreshes"]
    assert not entry.ok and message in entry.error


def test_one_failing_study_does_not_stop_the_others(registry, capsys):
    import_fixture("NCT05113290.json")
    import_fixture("search-page.json")
    registry.serve("NCT05113290", newer())
    registry.serve("NCT09000003", 503)
    assert main(["trials", "refresh", "NCT09000003", "NCT05113290"]) == 1
    captured = capsys.readouterr()
    assert "NCT05113290: updated" in captured.out and "1 updated, 0 unchanged, 1 failed" in (
        captured.out
    )
    assert captured.err.strip() == (
        f"error: NCT09000003: HTTP 503 Service Unavailable from {registry.url}/studies/NCT09000003"
    )
    assert read(queries.get_study, "NCT05113290").status == "RECRUITING"


def test_refresh_refuses_what_is_not_an_nct_id(registry, capsys):
    assert main(["trials", "refresh", "NCT0511329", "../etc"]) == 2
    assert "not an NCT id: NCT0511329, ../etc" in capsys.readouterr().err
    assert main(["trials", "refresh", "--timeout", "0"]) == 2
    assert "--timeout must be a positive" in capsys.readouterr().err
    assert registry.requests == []


def test_refresh_of_an_empty_database_says_so(registry, capsys):
    assert main(["trials", "refresh"]) == 1
    assert "no studies in the database" in capsys.readouterr().err


def test_seeding_again_keeps_a_refreshed_study(registry, capsys):
    assert main(["seed"]) == 0
    registry.serve("NCT05113290", newer())
    assert main(["trials", "refresh", "NCT05113290"]) == 0
    assert main(["seed"]) == 0  # `make run` seeds at every start
    assert "1 kept as refreshed" in capsys.readouterr().out
    study = read(queries.get_study, "NCT05113290")
    assert study.status == "RECRUITING" and study.start_date == "2022-03-15"
    assert read(queries.related_studies, "NCT05113290")[1] == 20
