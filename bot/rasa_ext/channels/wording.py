"""What the public chat channels (REST, socket.io) answer on their own, in the patient's
language: Chinese when the message has Chinese characters or ``metadata.language`` is zh."""

from __future__ import annotations

from typing import Any, Dict

from bot.language import HAN

TEXTS: Dict[str, Dict[str, str]] = {
    "too_long": {
        "en": "Sorry, that message is too long for me to read ({length} characters; I can take "
        "up to {limit}). Please keep it shorter: one question at a time works best. If it is "
        "urgent, please call the study team or your doctor.",
        "zh": "抱歉，这条消息太长了，我读不了（{length} 个字符；我最多能读 {limit} 个字符）。"
        "请写短一些：一次问一个问题效果最好。如有紧急情况，请致电研究团队或您的医生。",
    },
    "rate_limited": {
        "en": "You are sending messages too quickly. Please wait {seconds} seconds and try again.",
        "zh": "您发送消息太快了。请等待 {seconds} 秒后再试。",
    },
    "unavailable": {
        "en": "Sorry, the assistant is not available right now. Please try again in a few "
        "minutes or call the study team.",
        "zh": "抱歉，助手暂时无法使用。请过几分钟再试，或致电研究团队。",
    },
    "body_too_large": {
        "en": "the request body is larger than {limit} bytes",
        "zh": "请求内容超过 {limit} 字节",
    },
    "body_empty": {
        "en": 'the request body is empty: send a JSON object {{"sender": "...", "message": "..."}}',
        "zh": '请求内容为空：请发送 JSON 对象 {{"sender": "...", "message": "..."}}',
    },
    "body_not_json": {
        "en": "the request body is not valid JSON",
        "zh": "请求内容不是有效的 JSON",
    },
    "body_not_object": {
        "en": 'the request body must be a JSON object {{"sender": ..., "message": ...}}',
        "zh": '请求内容必须是 JSON 对象 {{"sender": ..., "message": ...}}',
    },
    "sender_missing": {
        "en": "'sender' is required: a string naming the conversation",
        "zh": "缺少 'sender'：它是标识对话的字符串",
    },
    "sender_empty": {"en": "'sender' is empty", "zh": "'sender' 为空"},
    "sender_too_long": {
        "en": "'sender' is longer than {limit} characters",
        "zh": "'sender' 超过 {limit} 个字符",
    },
    "sender_control": {
        "en": "'sender' contains control characters",
        "zh": "'sender' 含有控制字符",
    },
    "message_not_string": {"en": "'message' must be a string", "zh": "'message' 必须是字符串"},
    "message_empty": {"en": "'message' is empty", "zh": "'message' 为空"},
    "metadata_not_object": {
        "en": "'metadata' must be a JSON object",
        "zh": "'metadata' 必须是 JSON 对象",
    },
    "input_channel": {
        "en": "'input_channel' is set by the server (this is the {channel} channel): leave it out",
        "zh": "'input_channel' 由服务器决定（这是 {channel} 渠道）：请不要发送",
    },
    "payload_not_object": {
        "en": 'the message must be an object {{"message": ...}}',
        "zh": '消息必须是对象 {{"message": ...}}',
    },
    "no_session": {
        "en": "send a session_request first (no session_id)",
        "zh": "请先发送 session_request（缺少 session_id）",
    },
    "session_not_requested": {
        "en": "this session_id was not requested on this connection: send a session_request "
        "with it first",
        "zh": "此连接没有请求过这个 session_id：请先用它发送 session_request",
    },
    "too_many_sessions": {
        "en": "too many sessions on one connection (at most {limit})",
        "zh": "一个连接上的会话太多（最多 {limit} 个）",
    },
}


def language_of(text: Any = None, metadata: Any = None) -> str:
    """ "zh" when the message has Chinese characters or metadata.language is zh, else "en"."""
    if isinstance(metadata, dict):
        hint = metadata.get("language")
        if isinstance(hint, str) and hint.strip().lower().startswith("zh"):
            return "zh"
    if isinstance(text, str) and HAN.search(text):
        return "zh"
    return "en"


def say(key: str, language: str, **params: Any) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["en"]).format(**params)


def too_long_reply(length: int, limit: int, language: str = "en") -> str:
    return say("too_long", language, length=f"{length:,}", limit=f"{limit:,}")


class BadInput(ValueError):
    """The request cannot be answered; the reason is given back (400), in both languages."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key, self.params = key, params
        super().__init__(say(key, "en", **params))

    def text(self, language: str) -> str:
        return say(self.key, language, **self.params)
