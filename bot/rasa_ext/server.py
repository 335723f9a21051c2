"""`python -m bot.rasa_ext.server run ...` is `rasa run ...` with one fix for Rasa 3.6 applied.

Rasa checks every action server response with `jsonschema.validate()`, which first checks
the schema itself against its meta-schema, on every call: 22% of the Rasa server's CPU under
load in `make bench`. Here the validator is built once; every response is still validated
and a bad one still raises the same ValidationError.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

from bot.rasa_ext.patches import require

require(
    RemoteAction,
    "_validate_action_result",
    params=["self", "result"],
    patched_by="bot.rasa_ext.server",
)
require(RemoteAction, "action_response_format_spec", params=[], patched_by="bot.rasa_ext.server")


@lru_cache(maxsize=1)
def _action_response_validator():
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, not per response
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise e


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result


def main() -> None:
    from rasa.__main__ import main as rasa_main

    apply()
    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
