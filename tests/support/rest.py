"""REST messages and conversation checks shared by the production-profile tests (tests/ops)
and the container tests (tests/deploy)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Dict, List, Tuple

from tests.support.stack import user_texts

# A sender's conversation, in the order the load tests send it.
QUESTIONS = [
    "hello",
    "what is the phone number?",
    "is the study recruiting?",
    "who runs this study?",
    "where is the study done?",
    "thanks, bye",
]


def post(port: int, sender: str, text: str, timeout: float = 120) -> Tuple[int, List[Dict]]:
    """(HTTP status, replies) of one REST message; status 0 when nothing answered."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, []
    except OSError:
        return 0, []


def check_conversation(events: List[Dict], expected: List[str]) -> None:
    """Every user message is followed by its own bot turn (ending in action_listen) before the
    next user message; the user messages are exactly the ones sent."""
    assert sorted(user_texts(events)) == sorted(expected), user_texts(events)
    turns: List[List[Dict]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append([])
        elif turns:
            turns[-1].append(event)
    assert len(turns) == len(expected)
    for turn in turns:
        names = [e.get("name") for e in turn if e.get("event") == "action"]
        assert names and names[-1] == "action_listen", names
        assert any(e.get("event") == "bot" for e in turn), turn
