"""bot.rasa_ext.intent_classifier inside Rasa's graph, after bot.rasa_ext.tokenizer: trains,
persists, loads and ranks intents, in English and Chinese (Traditional read as Simplified)."""

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_ext.intent_classifier import LinearIntentClassifier
from bot.rasa_ext.tokenizer import BilingualTokenizer

EXAMPLES = {
    "ask_status": [
        "is the study recruiting",
        "is the trial open",
        "can people still join",
        "is it still enrolling",
        "recruitment status please",
        "is it recruiting now",
    ],
    "ask_contact": [
        "what's the phone number",
        "who do I call",
        "how can I contact the team",
        "give me the contact number",
        "who is the contact person",
        "phone please",
    ],
    "greet": ["hello", "hi there", "good morning", "hey", "hello, I'm helping my mum", "hi!"],
}
EXAMPLES["ask_status"] += ["试验现在招人吗", "还在招募吗", "现在能报名吗", "招募开始了没有"]
EXAMPLES["ask_contact"] += ["医生电话多少", "怎么联系研究团队", "联系人是谁", "留个电话吧"]
EXAMPLES["greet"] += ["你好", "您好", "在吗", "医生你好"]


def tokenized(*messages: Message) -> list:
    BilingualTokenizer._load_custom_dictionary("bot/rasa_ext/zh_dictionary")
    tokenizer = BilingualTokenizer(BilingualTokenizer.get_default_config(), None, None)
    tokenizer.process(list(messages))
    return list(messages)


def training_data():
    return TrainingData(
        tokenized(
            *[
                Message(data={"text": text, "intent": intent})
                for intent, texts in EXAMPLES.items()
                for text in texts
            ]
        )
    )


def test_trained_model_is_persisted_loaded_and_ranks_typos(tmp_path):
    storage, resource = LocalModelStorage(tmp_path), Resource("intents")
    context = ExecutionContext(graph_schema=None, model_id="test")
    config = {**LinearIntentClassifier.get_default_config(), "calibration_folds": 2}
    LinearIntentClassifier.create(config, storage, resource, context).train(training_data())

    loaded = LinearIntentClassifier.load(config, storage, resource, context)
    message, chinese, traditional = tokenized(
        Message(data={"text": "whats the fone numbr"}),
        Message(data={"text": "研究医生的电话号码是多少"}),
        Message(data={"text": "還在招募嗎"}),
    )
    loaded.process([message, chinese, traditional])
    assert chinese.get("intent")["name"] == "ask_contact"
    assert traditional.get("intent")["name"] == "ask_status"

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
