"""`python -m bot seed` (what `make run` runs first) stops at the first shipped file that does not
load, exits non-zero and says why in the importer's words, so `make run` stops there too."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from sqlalchemy import func, select

import bot.cli
from bot.cli import main
from bot.config import ROOT
from bot.trial import models
from tests.support import SEED, unit_of_work


@pytest.fixture
def seed_copy(tmp_path, monkeypatch):
    folder = tmp_path / "seed"
    shutil.copytree(SEED, folder)
    monkeypatch.setattr(bot.cli, "SEED", folder)
    return folder


def break_status(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    first = data["studies"][3] if "studies" in data else data
    first["protocolSection"]["statusModule"]["overallStatus"] = "SORT_OF_RECRUITING"
    path.write_text(json.dumps(data), encoding="utf-8")


def studies():
    with unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(models.Study))


def test_seed_loads_the_shipped_records(database_url, seed_copy, capsys):
    assert main(["seed"]) == 0
    assert studies() == 21


@pytest.mark.parametrize(
    "name, message, loaded",
    [
        (
            "NCT05113290.json",
            "NCT05113290.json: invalid study record\n"
            "  protocolSection.statusModule.overallStatus: value is not a valid enumeration member",
            0,
        ),
        (
            "see-also.json",
            "see-also.json: invalid study record\n"
            "  studies[3].protocolSection.statusModule.overallStatus: value is not a valid",
            1,
        ),
    ],
)
def test_seed_stops_at_an_invalid_shipped_file_with_the_importers_message(
    database_url, seed_copy, capsys, name, message, loaded
):
    break_status(seed_copy / name)
    assert main(["seed"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and message in captured.err
    assert "Traceback" not in captured.err
    assert studies() == loaded  # nothing of the bad file, nothing after it
    assert "criteria" not in captured.out


def test_python_m_bot_seed_exits_non_zero_so_make_run_stops(database_url, seed_copy, tmp_path):
    """The process's exit status, as make sees it (make stops `run` when `seed` fails)."""
    (seed_copy / "see-also.json").write_text("{oops", encoding="utf-8")
    code = (
        "import sys, pathlib, bot.cli; bot.cli.SEED = pathlib.Path(sys.argv[1]); "
        "import runpy; sys.argv = ['bot', 'seed']; runpy.run_module('bot', run_name='__main__')"
    )
    env = dict(os.environ, TRIAL_DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code, str(seed_copy)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "error: " in done.stderr and "see-also.json: not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr
