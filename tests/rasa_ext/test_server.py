"""bot.rasa_ext.server: action responses are still validated, with the schema checked only once."""

from unittest import mock

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_ext import server as rasa_server

GOOD = {
    "events": [{"event": "slot", "name": "drug", "value": "H101"}],
    "responses": [{"text": "hello"}],
}


@pytest.fixture
def action():
    rasa_server._action_response_validator.cache_clear()
    with mock.patch.object(
        RemoteAction, "_validate_action_result", rasa_server._validate_action_result
    ):
        yield RemoteAction("action_status", None)


def test_a_valid_action_response_passes(action):
    assert action._validate_action_result(GOOD) is True


@pytest.mark.parametrize(
    "bad",
    [
        {"events": "not a list"},
        {"events": [{"event": "no_such_event"}]},
        {"responses": [["not", "an", "object"]]},
    ],
)
def test_a_malformed_action_response_is_still_rejected(action, bad):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(bad)


def test_the_schema_itself_is_checked_once_not_per_response(action):
    cls = type(rasa_server._action_response_validator())
    with mock.patch.object(cls, "check_schema", wraps=cls.check_schema) as check:
        rasa_server._action_response_validator.cache_clear()
        for _ in range(20):
            action._validate_action_result(GOOD)
    assert check.call_count == 1


def test_apply_replaces_rasas_per_call_validation():
    original = RemoteAction._validate_action_result
    try:
        rasa_server.apply()
        assert RemoteAction._validate_action_result is rasa_server._validate_action_result
    finally:
        RemoteAction._validate_action_result = original
