"""deploy/compose.yaml for real: PostgreSQL, Redis, the migration job, two Rasa and two action
replicas, the web app and the nginx gateway, on the images just built. Every answer here goes
REST client -> nginx -> Rasa -> nginx -> action server -> PostgreSQL and back.

The production proofs of the single-host profile (tests/ops/test_prod.py, test_degradation.py)
on the containers: 2 replicas x 50 senders with complete, ordered conversations; a Rasa replica
killed under load while answers go on and every conversation continues; action servers down and
the trial database down answered with the study phone.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List

import pytest

from bot.config import ROOT
from tests.deploy.conftest import (
    COMPOSE,
    PHONE,
    conversation_id,
    free_port,
    gateway_without_limits,
    run,
    say,
    timed,
    wait_for,
    write_env_file,
)
from tests.support.rest import QUESTIONS, check_conversation, post
from tests.support.stack import user_texts

pytestmark = pytest.mark.deploy
PROJECT = "trialbot-compose-test"
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Stack:
    command: List[str]
    port: int
    web_port: int
    secret: str
    user: str

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return run([*self.command, *args], timeout=timeout)

    def containers(self, service: str) -> List[str]:
        listed = self.compose("ps", "--all", "--format", "{{.Name}}", service)
        return sorted(listed.stdout.split())

    def inspect(self, container: str) -> Dict:
        return json.loads(run(["docker", "inspect", container]).stdout)[0]

    def address(self, container: str) -> str:
        networks = self.inspect(container)["NetworkSettings"]["Networks"]
        return next(iter(networks.values()))["IPAddress"]

    def psql(self, database: str, sql: str) -> str:
        postgres = self.containers("postgres")[0]
        done = run(
            [
                "docker",
                "exec",
                postgres,
                "psql",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                self.user,
                "-d",
                database,
                "-Atc",
                sql,
            ]
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def events(self, sender: str) -> List[Dict]:
        sender_id = conversation_id(sender, self.secret).replace("'", "''")
        rows = self.psql(
            "conversations", f"SELECT data FROM events WHERE sender_id = '{sender_id}' ORDER BY id"
        )
        return [json.loads(line) for line in rows.splitlines() if line.strip()]

    def healthy(self, container: str) -> bool:
        state = self.inspect(container)["State"]
        return state["Running"] and state.get("Health", {}).get("Status") == "healthy"

    def gateway_log(self) -> str:
        gateway = self.containers("gateway")[0]
        return run(["docker", "logs", gateway]).stdout


@pytest.fixture(scope="module")
def stack(built_images, tmp_path_factory):
    work = tmp_path_factory.mktemp("compose")
    env_file = work / "test.env"
    port, web_port = free_port(), free_port()
    values = write_env_file(
        env_file,
        PUBLISH_RASA_PORT=str(port),
        PUBLISH_WEB_PORT=str(web_port),
        GATEWAY_CONFIG=str(gateway_without_limits(work)),
    )
    images_env = work / "images.env"
    images_env.write_text("".join(f"{k}={v}\n" for k, v in built_images.items()))
    deploy = ROOT / "deploy"
    command = [
        str(COMPOSE),
        "-p",
        PROJECT,
        "--project-directory",
        str(deploy),
        "-f",
        str(deploy / "compose.yaml"),
        "--env-file",
        str(env_file),
        "--env-file",
        str(images_env),
    ]
    running = Stack(command, port, web_port, values["CONVERSATION_ID_SECRET"], "trialbot")
    # What a crashed run left goes first: its containers and volumes (another PostgreSQL
    # password), and a swarm of the Swarm test (its services hold the published ports).
    running.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")
    run(["docker", "swarm", "leave", "--force"])
    started = time.monotonic()
    up = running.compose("up", "--detach", "--wait", "--remove-orphans", timeout=600)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        timed("compose up --wait", started)
        yield running
    finally:
        logs = running.compose("logs", "--no-color", "--tail", "60")
        (work / "compose.log").write_text(logs.stdout + logs.stderr)  # for a failed run
        started = time.monotonic()
        down = running.compose("down", "--volumes", "--remove-orphans", "--timeout", "20")
        timed("compose down", started)
        assert down.returncode == 0, down.stderr


def test_the_migration_job_ran_and_every_service_is_healthy(stack):
    migrate = stack.inspect(stack.containers("migrate")[0])["State"]
    assert migrate["Status"] == "exited" and migrate["ExitCode"] == 0
    for service, count in (
        ("rasa", 2),
        ("actions", 2),
        ("web", 1),
        ("gateway", 1),
        ("postgres", 1),
        ("redis", 1),
    ):
        containers = stack.containers(service)
        assert len(containers) == count, (service, containers)
        assert all(stack.healthy(c) for c in containers), service
    for service in ("rasa", "actions", "web"):
        for container in stack.containers(service):
            init = run(["docker", "exec", container, "cat", "/proc/1/cmdline"]).stdout
            assert init.split("\0")[0] == "/usr/bin/tini", init  # PID 1 forwards signals
            user = run(["docker", "exec", container, "id", "-u"]).stdout.strip()
            assert user == "10001"


def test_answers_come_from_the_database_through_nginx_rasa_and_the_action_server(stack):
    sender = f"db-{uuid.uuid4().hex[:8]}"
    assert '"not yet recruiting"' in say(stack.port, sender, "is it recruiting?")
    stack.psql(
        "trials", "UPDATE study SET overall_status = 'RECRUITING' WHERE nct_id = 'NCT05113290'"
    )
    try:
        reply = say(stack.port, f"db2-{uuid.uuid4().hex[:8]}", "is it recruiting?")
        assert '"recruiting"' in reply and "not yet" not in reply, reply
    finally:
        stack.psql(
            "trials",
            "UPDATE study SET overall_status = 'NOT_YET_RECRUITING' WHERE nct_id = 'NCT05113290'",
        )
    assert PHONE in say(stack.port, sender, "what is the phone number?")


def test_a_chinese_question_gets_a_chinese_answer(stack):
    reply = say(stack.port, f"zh-{uuid.uuid4().hex[:8]}", "试验现在招人吗")
    assert CJK.search(reply) and "尚未招募" in reply and PHONE in reply, reply


def test_the_web_app_is_served_through_the_gateway(stack):
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.web_port}/health", timeout=10) as r:
        assert r.status == 200 and json.loads(r.read()) == {"status": "ok"}
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.web_port}/", timeout=10) as r:
        assert r.status == 200 and b"widget" in r.read()


def test_two_replicas_fifty_senders_complete_and_ordered_conversations(stack):
    senders = [f"load-{i}-{uuid.uuid4().hex[:6]}" for i in range(50)]
    # The messages of one sender are sent at once: nginx spreads them over both replicas, and
    # the Redis lock store keeps one conversation on one replica at a time, in order.
    jobs = [(stack.port, sender, text) for sender in senders for text in QUESTIONS[:3]]
    log_before = len(stack.gateway_log().splitlines())
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: post(*job, timeout=120), jobs))
    elapsed = time.monotonic() - started
    assert [s for s, _ in results if s != 200] == []
    assert all(replies for _, replies in results)
    for sender in senders:
        check_conversation(stack.events(sender), QUESTIONS[:3])
    lines = stack.gateway_log().splitlines()[log_before:]
    served = {
        m.group(1)
        for line in lines
        if (m := re.search(r'"POST /webhooks/rest/webhook [^"]*" 200 ([\d.]+):5005', line))
    }
    replicas = {stack.address(c) for c in stack.containers("rasa")}
    assert served == replicas, (served, replicas)
    print(f"\n{len(jobs)} messages from 50 senders over 2 Rasa replicas in {elapsed:.1f} s")


def test_a_killed_rasa_replica_the_other_serves_and_every_conversation_continues(stack):
    senders = [f"kill-{i}-{uuid.uuid4().hex[:6]}" for i in range(10)]
    sent: Dict[str, List[str]] = {s: [] for s in senders}
    log: List[tuple] = []  # (sender, started, ended, status)
    stop = threading.Event()

    def converse(sender: str, texts: List[str], until_stopped: bool = False) -> List[int]:
        """The texts in turn, once, or over and over until `stop` (the load on the replicas)."""
        statuses = []
        for text in itertools.cycle(texts) if until_stopped else texts:
            if until_stopped and stop.is_set():
                break
            started = time.monotonic()
            status, _ = post(stack.port, sender, text, timeout=120)
            log.append((sender, started, time.monotonic(), status))
            statuses.append(status)
            if status == 200:
                sent[sender].append(text)
            else:
                time.sleep(0.5)  # as the widget does before it offers to resend
        return statuses

    victim = stack.containers("rasa")[0]
    restarts = stack.inspect(victim)["RestartCount"]
    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        first = list(pool.map(lambda s: converse(s, QUESTIONS[:2]), senders))
        assert all(s == 200 for statuses in first for s in statuses)
        futures = [pool.submit(converse, s, QUESTIONS[2:5], True) for s in senders]
        time.sleep(1)
        # A crash, not a `docker stop`: SIGKILL to the container's PID 1 from the host.
        killed_at = time.monotonic()
        subprocess.run(["kill", "-KILL", str(stack.inspect(victim)["State"]["Pid"])], check=True)
        time.sleep(4)  # the load goes on past the kill
        stop.set()
        during = [f.result(timeout=300) for f in futures]
    assert any(started < killed_at < ended for _, started, ended, _ in log), "not under load"
    # Only requests the dying replica had taken fail: a 502 the client resends (nginx never
    # resends a POST it sent, so nothing is stored twice), sent before it was gone (2 s).
    # Everything sent later is answered by the other replica, except that a conversation whose
    # message died with the replica stays locked (Redis lock store) until the lock's lifetime
    # (TICKET_LOCK_LIFETIME) ends: meanwhile it may be answered 503 "try again", as the widget
    # offers.
    interrupted = {sender for sender, _, _, status in log if status == 502}
    for sender, started, _, status in log:
        if status == 502:
            assert started < killed_at + 2, (sender, started - killed_at)
        else:
            assert status == 200 or (status == 503 and sender in interrupted), (sender, status)
    assert len(interrupted) < len(senders), during  # the other replica went on serving
    assert any(s == 200 and started > killed_at + 2 for _, started, _, s in log)
    statuses = [status for _, _, _, status in log]
    print(
        f"\n{len(log)} messages from {len(senders)} senders around the kill: "
        f"{statuses.count(502)} lost with the replica (502), {statuses.count(503)} answered "
        f"503 while their conversation's lock was held"
    )
    retried = set()
    for sender in senders:
        status, replies = post(stack.port, sender, "what is the phone number?", timeout=60)
        started = time.monotonic()
        while status == 503 and time.monotonic() - started < 120:
            retried.add(sender)
            time.sleep(5)
            status, replies = post(stack.port, sender, "what is the phone number?", timeout=60)
        assert status == 200 and PHONE in json.dumps(replies), (sender, status)
        sent[sender].append("what is the phone number?")
    assert retried <= interrupted, (retried, interrupted)

    # The restart policy brings the replica back; each conversation continues on it.
    started = time.monotonic()
    wait_for(
        lambda: stack.inspect(victim)["RestartCount"] > restarts and stack.healthy(victim),
        300,
        "the killed replica back and healthy",
        every=2,
    )
    timed("killed Rasa replica healthy again", started)
    script = (
        "import json, sys, urllib.request\n"
        "url = 'http://127.0.0.1:5005/webhooks/rest/webhook'\n"
        "for sender in sys.argv[1:]:\n"
        "    text = 'is the study recruiting?'\n"
        "    body = json.dumps({'sender': sender, 'message': text}).encode()\n"
        "    request = urllib.request.Request(url, body, {'Content-Type': 'application/json'})\n"
        "    with urllib.request.urlopen(request, timeout=60) as response:\n"
        "        print(json.dumps([sender, response.status, json.loads(response.read())]))\n"
    )
    before = {sender: stack.events(sender) for sender in senders}
    direct = run(["docker", "exec", victim, "python", "-c", script, *senders], timeout=300)
    assert direct.returncode == 0, direct.stderr
    for line in direct.stdout.splitlines():
        sender, status, replies = json.loads(line)
        # The real answer, or (an action call slower than the gateway's timeout on a loaded
        # machine) the gateway's polite answer: both carry the phone.
        assert status == 200 and PHONE in json.dumps(replies), replies
        sent[sender].append("is the study recruiting?")
    for sender in senders:
        after = stack.events(sender)
        assert after[: len(before[sender])] == before[sender]  # continued, not restarted
        assert user_texts(after) == user_texts(before[sender]) + ["is the study recruiting?"]
        if all(s == 200 for s in during[senders.index(sender)]):
            check_conversation(after, sent[sender])
            assert user_texts(after) == sent[sender]


def timed_say(stack, text: str):
    started = time.monotonic()
    reply = say(stack.port, f"deg-{uuid.uuid4().hex[:8]}", text)
    return reply, time.monotonic() - started


def test_action_servers_down_the_gateway_answers_with_the_phone(stack):
    assert '"not yet recruiting"' in timed_say(stack, "is the study recruiting?")[0]
    stopped = stack.compose("stop", "--timeout", "20", "actions")
    assert stopped.returncode == 0, stopped.stderr
    try:
        for question in (
            "is the study recruiting?",
            "what's the phone number",
            "can I take part in this study?",
        ):
            reply, seconds = timed_say(stack, question)
            print(f"\n  actions down: {question!r} answered in {seconds:.2f} s")
            assert "can't answer that right now" in reply and PHONE in reply, reply
            assert seconds < 2, seconds
    finally:
        started = stack.compose("start", "actions")
        assert started.returncode == 0, started.stderr
    wait_for(
        lambda: all(stack.healthy(c) for c in stack.containers("actions")),
        120,
        "the action servers healthy again",
        every=2,
    )
    wait_for(
        lambda: '"not yet recruiting"' in timed_say(stack, "is the study recruiting?")[0],
        60,
        "normal answers again",
    )


def test_trial_database_down_the_actions_answer_with_the_phone(stack):
    for _ in range(6):  # every action server has read the phone once
        assert PHONE in timed_say(stack, "what is the phone number of the study?")[0]
    stack.psql("postgres", "ALTER DATABASE trials ALLOW_CONNECTIONS false")
    stack.psql(
        "postgres",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = 'trials' AND pid <> pg_backend_pid()",
    )
    try:
        for question in ("is the study recruiting?", "what is the phone number?"):
            reply, seconds = timed_say(stack, question)
            print(f"\n  trial database down: {question!r} answered in {seconds:.2f} s")
            assert "can't look that up right now" in reply, reply
            assert PHONE in reply and seconds < 2, (reply, seconds)
    finally:
        stack.psql("postgres", "ALTER DATABASE trials ALLOW_CONNECTIONS true")
    wait_for(
        lambda: '"not yet recruiting"' in timed_say(stack, "is the study recruiting?")[0],
        60,
        "normal answers again",
    )


def test_a_container_stops_cleanly_on_sigterm(stack):
    web = stack.containers("web")[0]
    started = time.monotonic()
    stopped = run(["docker", "stop", "--time", "20", web])
    assert stopped.returncode == 0
    assert time.monotonic() - started < 15  # stopped by SIGTERM, not killed after the grace
    assert stack.inspect(web)["State"]["ExitCode"] in (0, 128 + signal.SIGTERM)
