"""Greeting, thanks, goodbye, "are you a bot", and switching the language."""

from __future__ import annotations

from typing import Any, Dict, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Events, ReplyAction, conversation_language, language_events
from actions.contact import say_contact
from actions.replies import say


class ActionGreet(ReplyAction):
    action_name, reply = "action_greet", "greet"


class ActionGoodbye(ReplyAction):
    action_name, reply = "action_goodbye", "goodbye"


class ActionThank(ReplyAction):
    action_name, reply = "action_thank", "thank"


class ActionBotChallenge(Action):
    """I am a bot; here is how to reach a person."""

    def name(self) -> Text:
        return "action_bot_challenge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> Events:
        language = conversation_language(tracker)
        say(dispatcher, language, "bot_challenge")
        await say_contact(dispatcher, language)
        return language_events(tracker, language)


class ActionSwitchLanguage(ReplyAction):
    """ "English please" / "说中文" / the widget's switch: the language changes in this turn."""

    action_name, reply = "action_switch_language", "language_switched"
