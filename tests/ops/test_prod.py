"""The production profile (bot.ops.prod) on the real local PostgreSQL and Redis: two Rasa replicas,
two action servers, nginx, the atomic Redis lock store.

Needs TEST_POSTGRES_URL and TEST_REDIS_URL (CI sets both); skipped without them, failed when
they are set and the service is down.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import pytest

from bot.config import get_settings, use_settings
from bot.db import dispose_all
from bot.ops import prod
from bot.ops.stack import stack_env
from bot.rasa_ext.channels.guard import conversation_id
from tests.support.databases import POSTGRES, drop_postgres_database, fresh_postgres_database
from tests.support.rest import QUESTIONS, check_conversation, post
from tests.support.stack import Stack, free_port, tracker_events, user_texts

REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (POSTGRES and REDIS_URL), reason="needs TEST_POSTGRES_URL and TEST_REDIS_URL"
    ),
]
PHONE = "0086-18991232095"
SECRET = uuid.uuid4().hex  # CONVERSATION_ID_SECRET of the replicas


def stored(tracker_url: str, sender: str) -> List[Dict]:
    """The events of a REST sender's conversation (stored under the server's id)."""
    return tracker_events(tracker_url, conversation_id("rest", sender, SECRET))


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as error:
        pytest.fail(f"TEST_REDIS_URL is set but Redis did not answer: {error}")
    workdir = tmp_path_factory.mktemp("prod")
    trials_url, tracker_url = fresh_postgres_database(), fresh_postgres_database()
    settings = prod.Profile.from_settings(get_settings())
    settings.var_dir, settings.public_port = workdir, free_port()
    settings.action_port, settings.web_port = free_port(), free_port()
    settings.rasa_port_list = [free_port(), free_port()]
    settings.action_port_list = [free_port(), free_port()]
    env = {
        **stack_env(),
        "TRIAL_DATABASE_URL": trials_url,
        "TRACKER_STORE_URL": tracker_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_LOCK_PREFIX": f"prodtest{uuid.uuid4().hex[:8]}",
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{settings.action_port}/webhook",
        "RASA_PORT": str(settings.public_port),
        "WEB_PORT": str(settings.web_port),
        "CONVERSATION_ID_SECRET": SECRET,
        # Every simulated patient here shares 127.0.0.1: a load test, not a burst.
        "RATE_LIMIT_PER_ADDRESS": "0",
    }
    seeder = Stack.__new__(Stack)
    seeder.env = env
    seeded = Stack.cli(seeder, "seed")
    assert seeded.returncode == 0, seeded.stderr
    # nginx's per-address limits (generated from this process's settings) likewise.
    previous = get_settings()
    use_settings(previous.copy(update={"prod_public_rate": 0, "prod_public_connections": 0}))
    try:
        supervisor = prod.start_profile(settings, env, log_dir=workdir / "logs", web=False)
    finally:
        use_settings(previous)
    supervisor.settings, supervisor.tracker_url = settings, tracker_url
    yield supervisor
    supervisor.stop_all()
    dispose_all()
    drop_postgres_database(trials_url)
    drop_postgres_database(tracker_url)


def test_fifty_senders_concurrent_messages_over_both_replicas(profile):
    replicas = profile.settings.rasa_ports
    senders = [f"load-{i}-{uuid.uuid4().hex[:6]}" for i in range(50)]
    jobs = []
    for i, sender in enumerate(senders):
        for j, text in enumerate(QUESTIONS[:3]):
            # The messages of one sender go to both replicas at once: the lock store decides.
            jobs.append((replicas[(i + j) % 2], sender, text))
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: post(*job), jobs))
    elapsed = time.monotonic() - start
    assert all(status == 200 for status, _ in results), [s for s, _ in results if s != 200]
    assert all(replies for _, replies in results)
    for sender in senders:
        check_conversation(stored(profile.tracker_url, sender), QUESTIONS[:3])
    print(f"\n{len(jobs)} messages from 50 senders over 2 replicas in {elapsed:.1f} s")


def test_a_killed_replica_the_other_serves_and_a_restart_continues(profile):
    public = profile.settings.public_port
    senders = [f"kill-{i}-{uuid.uuid4().hex[:6]}" for i in range(10)]
    sent: Dict[str, List[str]] = {s: [] for s in senders}

    def converse(sender: str, texts: List[str]) -> List[int]:
        statuses = []
        for text in texts:
            status, replies = post(public, sender, text)
            statuses.append(status)
            if status == 200:
                sent[sender].append(text)
        return statuses

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        first = list(pool.map(lambda s: converse(s, QUESTIONS[:2]), senders))
        assert all(s == 200 for statuses in first for s in statuses)
        # Kill replica 1 hard, in the middle of the next round.
        futures = [pool.submit(converse, s, QUESTIONS[2:5]) for s in senders]
        time.sleep(0.5)
        profile.processes["rasa-1"].send_signal(signal.SIGKILL)
        profile.processes["rasa-1"].wait(timeout=20)
        during = [f.result(timeout=300) for f in futures]
    # Only a request in flight on the killed replica may fail (a 502 the client resends; nginx
    # does not resend a POST it already sent, so nothing is handled twice): at most one per
    # sender, and every later request is served by the other replica.
    for statuses in during:
        assert sum(s != 200 for s in statuses) <= 1, during
    for sender in senders:
        status, replies = post(public, sender, "what is the phone number?")
        assert status == 200 and PHONE in json.dumps(replies)
        sent[sender].append("what is the phone number?")

    profile.restart("rasa-1")
    replica_1 = profile.settings.rasa_ports[0]
    for sender in senders:
        before = stored(profile.tracker_url, sender)
        status, replies = post(replica_1, sender, "is the study recruiting?")
        # The real answer, or (a cold action call slower than PROD_ACTION_TIMEOUT on a loaded
        # machine) nginx's polite answer; both carry the phone.
        assert status == 200 and PHONE in json.dumps(replies), replies
        sent[sender].append("is the study recruiting?")
        after = stored(profile.tracker_url, sender)
        assert after[: len(before)] == before  # continued, not restarted
        assert user_texts(after) == user_texts(before) + ["is the study recruiting?"]
        # A message in flight on the killed replica may be stored without its turn (it got a
        # 502); every conversation without such a message is complete and in order.
        if all(s == 200 for s in during[senders.index(sender)]):
            check_conversation(after, sent[sender])
            assert user_texts(after) == sent[sender]
