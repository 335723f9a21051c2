"""deploy/compose.yaml on a two-node Docker Swarm: node 1 is this test's dockerd, node 2 a second
dockerd in its own network namespace (and host name), joined by a veth pair; overlay network
between them. `docker stack deploy` (with deploy/tools/stack.py, which drops only what the Swarm
loader rejects) places a Rasa and an action replica on each node, and one conversation is
answered by the replicas of both nodes through the gateway's host-mode port."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from typing import Dict, List

import pytest

from bot.config import ROOT
from tests.deploy.conftest import (
    DEPLOY_VENV,
    PHONE,
    conversation_id,
    engines,
    free_port,
    run,
    say,
    timed,
    wait_for,
    write_env_file,
)
from tests.support.rest import check_conversation, post

pytestmark = pytest.mark.deploy
STACK = "trialbot-swarm-test"
CONVERSATION = [
    "hello",
    "is the study recruiting?",
    "what is the phone number?",
    "who runs this study?",
    "where is the study done?",
    "what is the study about?",
    "thanks, bye",
]


def docker(engine: engines.Engine, *args: str, timeout: float = 300) -> str:
    done = run(["docker", *args], env=engine.env(), timeout=timeout)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def leave(engine: engines.Engine) -> None:
    run(["docker", "swarm", "leave", "--force"], env=engine.env(), timeout=120)


def remove_volumes(engine: engines.Engine) -> None:
    """The stack's containers and volumes (PostgreSQL, Redis, the outage answer) on one node."""
    left = run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={STACK}"],
        env=engine.env(),
    ).stdout.split()
    if left:
        run(["docker", "rm", "--force", *left], env=engine.env())
    volumes = run(
        ["docker", "volume", "ls", "-q", "--filter", f"name={STACK}_"], env=engine.env()
    ).stdout.split()
    if volumes:
        run(["docker", "volume", "rm", "--force", *volumes], env=engine.env())


@pytest.fixture(scope="module")
def swarm(docker_engine, node2):
    node1 = docker_engine
    node2.ready()
    started = time.monotonic()
    try:
        for engine in (engines.NODE2, node1):  # what a crashed run may have left
            leave(engine)
            remove_volumes(engine)
        docker(
            node1,
            "swarm",
            "init",
            "--advertise-addr",
            engines.NODE1_ADDRESS,
            "--listen-addr",
            f"{engines.NODE1_ADDRESS}:2377",
            "--default-addr-pool",
            engines.SWARM_POOL,
        )
        token = docker(node1, "swarm", "join-token", "-q", "worker").strip()
        docker(
            engines.NODE2,
            "swarm",
            "join",
            "--token",
            token,
            "--advertise-addr",
            engines.NODE2_ADDRESS,
            "--listen-addr",
            f"{engines.NODE2_ADDRESS}:2377",
            f"{engines.NODE1_ADDRESS}:2377",
        )
        timed("two-node swarm", started)
        yield node1
    finally:
        started = time.monotonic()
        for engine in (engines.NODE2, node1):
            leave(engine)
            remove_volumes(engine)
        timed("swarm left, volumes removed", started)


@pytest.fixture(scope="module")
def stack(swarm, built_images, tmp_path_factory):
    work = tmp_path_factory.mktemp("swarm")
    port, web_port = free_port(), free_port()
    env_file = work / "test.env"
    values = write_env_file(env_file, PUBLISH_RASA_PORT=str(port), PUBLISH_WEB_PORT=str(web_port))
    stack_file = work / "stack.yaml"
    converted = run(
        [
            str(DEPLOY_VENV / "python"),
            str(ROOT / "deploy" / "tools" / "stack.py"),
            str(ROOT / "deploy" / "compose.yaml"),
        ]
    )
    assert converted.returncode == 0, converted.stderr
    stack_file.write_text(converted.stdout)
    # `docker stack deploy` interpolates from its environment only (`set -a; . deploy/.env`).
    env = {**swarm.env(), **values, **built_images}
    started = time.monotonic()
    deployed = run(
        [
            "docker",
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "--prune",
            "-c",
            str(stack_file),
            STACK,
        ],
        env=env,
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stderr
    try:
        wait_for(lambda: converged(swarm), 420, "every service of the stack running", every=3)
        timed("docker stack deploy until every replica is up", started)
        wait_for(lambda: answers(port), 120, "an answer through the gateway", every=2)
        yield {"port": port, "secret": values["CONVERSATION_ID_SECRET"]}
    finally:
        (work / "services.txt").write_text(
            run(["docker", "stack", "ps", "--no-trunc", STACK], env=swarm.env()).stdout
        )
        started = time.monotonic()
        run(["docker", "stack", "rm", STACK], env=swarm.env())
        try:  # leaving the swarm (the swarm fixture) removes whatever is left
            wait_for(
                lambda: not running(swarm) and not running(engines.NODE2),
                60,
                "the stack's containers stopped",
                every=1,
            )
        except AssertionError as error:
            print(f"\n{error}")
        timed("docker stack rm", started)


def running(engine: engines.Engine) -> List[str]:
    return run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}"],
        env=engine.env(),
    ).stdout.split()


def converged(engine: engines.Engine) -> bool:
    listed = run(
        [
            "docker",
            "service",
            "ls",
            "--filter",
            f"label=com.docker.stack.namespace={STACK}",
            "--format",
            "{{.Name}} {{.Replicas}}",
        ],
        env=engine.env(),
    ).stdout.split("\n")
    replicas = dict(line.split(" ", 1) for line in listed if line.strip())
    wanted = {f"{STACK}_{s}" for s in ("postgres", "redis", "rasa", "actions", "web", "gateway")}
    if not wanted <= set(replicas):
        return False
    ready = [re.match(r"(\d+)/(\d+)", replicas[name]) for name in wanted]
    return all(m and m.group(1) == m.group(2) and m.group(1) != "0" for m in ready)


def answers(port: int) -> bool:
    status, replies = post(
        port, f"probe-{uuid.uuid4().hex[:6]}", "what is the phone number?", timeout=60
    )
    return status == 200 and PHONE in json.dumps(replies)


def tasks(engine: engines.Engine, service: str) -> List[Dict]:
    """The running tasks of a service: node host name and overlay address of each."""
    ids = docker(
        engine, "service", "ps", "-q", "--filter", "desired-state=running", f"{STACK}_{service}"
    ).split()
    found = []
    for task in json.loads(docker(engine, "inspect", *ids)):
        if task["Status"]["State"] != "running":
            continue
        node = json.loads(docker(engine, "node", "inspect", task["NodeID"]))[0]
        addresses = [
            a.split("/")[0]
            for n in task.get("NetworksAttachments", [])
            for a in n.get("Addresses", [])
            if n["Network"]["Spec"]["Name"] != "ingress"
        ]
        found.append({"node": node["Description"]["Hostname"], "addresses": addresses})
    return found


def test_replicas_are_placed_on_both_nodes(stack, swarm):
    nodes = json.loads(docker(swarm, "node", "inspect", *docker(swarm, "node", "ls", "-q").split()))
    assert {n["Description"]["Hostname"] for n in nodes} >= {engines.NODE2.name}
    assert all(n["Status"]["State"] == "ready" for n in nodes) and len(nodes) == 2
    for service in ("rasa", "actions"):
        placed = tasks(swarm, service)
        assert len(placed) == 2 and len({t["node"] for t in placed}) == 2, (service, placed)
    for service in ("postgres", "redis", "gateway"):  # node-local volumes: on the manager
        placed = tasks(swarm, service)
        assert [t["node"] for t in placed] == [os.uname().nodename], (service, placed)


def test_one_conversation_is_answered_by_the_replicas_of_both_nodes(stack, swarm):
    port, sender = stack["port"], f"swarm-{uuid.uuid4().hex[:8]}"
    gateway = containers_of(swarm, "gateway")[0]
    log_before = len(run(["docker", "logs", gateway], env=swarm.env()).stdout.splitlines())
    services = {"rasa": ("/webhooks/rest/webhook", 5005), "actions": ("/webhook", 5055)}
    by_node = {
        service: {t["node"]: set(t["addresses"]) for t in tasks(swarm, service)}
        for service in services
    }
    assert all(len(nodes) == 2 for nodes in by_node.values()), by_node

    def unanswered() -> List[str]:
        """Replicas (service on node) that have answered none of this test's requests."""
        lines = run(["docker", "logs", gateway], env=swarm.env()).stdout.splitlines()[log_before:]
        missing = []
        for service, (path, port_) in services.items():
            pattern = rf'"POST {re.escape(path)} [^"]*" 200 ([\d.]+):{port_}'
            served = {m.group(1) for line in lines if (m := re.search(pattern, line))}
            missing += [f"{service} on {n}" for n, a in by_node[service].items() if not a & served]
        return missing

    # nginx picks a replica at random per request (its resolver rotates the addresses DNS
    # gives), so 7 messages all reach one of a service's two replicas 1.6% of the time: the
    # conversation goes on (up to 28 messages) until the replicas of both nodes have answered.
    sent: List[str] = []
    for text in CONVERSATION * 4:
        reply = say(port, sender, text)
        assert reply, text
        if "phone" in text:
            assert PHONE in reply, reply
        if "recruiting" in text:  # from the trial database, through an action server
            assert '"not yet recruiting"' in reply, reply
        sent.append(text)
        if len(sent) >= len(CONVERSATION) and not unanswered():
            break
    assert unanswered() == [], sent
    # Both Rasa replicas wrote one conversation to the shared tracker store, whole and in order.
    postgres = containers_of(swarm, "postgres")[0]
    sender_id = conversation_id(sender, stack["secret"])
    rows = run(
        [
            "docker",
            "exec",
            postgres,
            "psql",
            "-U",
            "trialbot",
            "-d",
            "conversations",
            "-Atc",
            f"SELECT data FROM events WHERE sender_id = '{sender_id}' ORDER BY id",
        ],
        env=swarm.env(),
    ).stdout
    events = [json.loads(line) for line in rows.splitlines() if line.strip()]
    check_conversation(events, sent)
    assert [e["text"] for e in events if e.get("event") == "user"] == sent


def containers_of(engine: engines.Engine, service: str) -> List[str]:
    return run(
        [
            "docker",
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.swarm.service.name={STACK}_{service}",
        ],
        env=engine.env(),
    ).stdout.split()


def test_the_shipped_gateway_limits_each_client_address(stack):
    """deploy/nginx/nginx.conf as shipped (the Compose tests turn these limits off): more than
    PROD_PUBLIC_BURST requests at once from one address get 429, a JSON message for the
    widget and Retry-After."""
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def get(_: int):
        request = urllib.request.Request(f"http://127.0.0.1:{stack['port']}/")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, {}, b""
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    with ThreadPoolExecutor(max_workers=60) as pool:
        results = list(pool.map(get, range(60)))
    limited = [r for r in results if r[0] == 429]
    assert limited and any(r[0] == 200 for r in results), [r[0] for r in results]
    status, headers, body = limited[0]
    assert headers.get("Retry-After") == "1" and json.loads(body)["message"]
