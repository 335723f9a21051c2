"""`make run` stopped by a signal other than Ctrl-C (kill, a service manager, a closed terminal)
stops the services it started, so none is left holding its port."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ROOT

SCRIPT = """
import sys, time
from bot.ops.supervisor import Supervisor, run_foreground
supervisor = Supervisor(env=None)
def start():
    child = supervisor.start("child", [sys.executable, "-c", "import time; time.sleep(600)"], None)
    return f"started {child.pid}"
sys.exit(run_foreground(supervisor, start))
"""


def _running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_services_too(sig):
    runner = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = runner.stdout.readline()
        assert line.startswith("started "), line
        child = int(line.split()[1])
        assert _running(child)
        runner.send_signal(sig)
        assert runner.wait(timeout=30) == 0
        assert not _running(child)
    finally:
        runner.kill()
        runner.wait()
