"""bot.intent_classifier inside Rasa's graph: trains, persists, loads and ranks intents."""
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.intent_classifier import LinearIntentClassifier

EXAMPLES = {
    "ask_status": ["is the study recruiting", "is the trial open", "can people still join",
                   "is it still enrolling", "recruitment status please", "is it recruiting now"],
    "ask_contact": ["what's the phone number", "who do I call", "how can I contact the team",
                    "give me the contact number", "who is the contact person", "phone please"],
    "greet": ["hello", "hi there", "good morning", "hey", "hello, I'm helping my mum", "hi!"],
}


def training_data():
    return TrainingData([Message(data={"text": text, "intent": intent})
                         for intent, texts in EXAMPLES.items() for text in texts])


def test_trained_model_is_persisted_loaded_and_ranks_typos(tmp_path):
    storage, resource = LocalModelStorage(tmp_path), Resource("intents")
    context = ExecutionContext(graph_schema=None, model_id="test")
    config = {**LinearIntentClassifier.get_default_config(), "calibration_folds": 2}
    LinearIntentClassifier.create(config, storage, resource, context).train(training_data())

    loaded = LinearIntentClassifier.load(config, storage, resource, context)
    message = Message(data={"text": "whats the fone numbr"})
    loaded.process([message])

    intent, ranking = message.get("intent"), message.get("intent_ranking")
    assert intent["name"] == "ask_contact"
    assert [r["name"] for r in ranking][0] == "ask_contact"
    assert {r["name"] for r in ranking} == set(EXAMPLES)
    assert 0 < intent["confidence"] <= 1
    assert abs(sum(r["confidence"] for r in ranking) - 1) < 1e-6


def test_a_model_without_a_trained_classifier_leaves_intents_unset(tmp_path):
    storage, context = LocalModelStorage(tmp_path), ExecutionContext(None, "test")
    classifier = LinearIntentClassifier.load({}, storage, Resource("missing"), context)
    message = Message(data={"text": "hello"})
    classifier.process([message])
    assert message.get("intent") is None
