"""Demo hospital page and the embeddable chat widget.

A hospital website embeds the widget with one script tag:

    <script src="http://HOST:8000/static/widget/widget.js"></script>

optionally preceded by `window.TrialChatConfig = {serverUrl, title, colors: {primary}, language}`.
The widget speaks English and Simplified Chinese: it starts in `language`, else in the page's
`<html lang>`, and follows the conversation from there.
The widget is static JavaScript and CSS under bot/web/static/widget/; it talks to the Rasa
server's REST channel directly (Rasa runs with `--cors "*"`), so this app only serves files.

`/` is a demo hospital page with the widget embedded and pointed at the settings' Rasa URL;
`/?lang=zh` is the same page in Chinese (`<html lang="zh-CN">`, so the widget starts in
Chinese). It states no trial facts: every fact comes from the assistant, which reads the trial
database.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import jinja2
from aiohttp import web
from yarl import URL

from bot.web.keys import SETTINGS

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
WIDGET_PREFIX = "/static/widget/"

# The demo page is the only template of this area: a private Jinja2 environment keeps it
# independent of any aiohttp_jinja2 set-up another area (the staff console) makes.
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


# The demo page's wording. Nothing here is a trial fact.
DEMO_TEXT = {
    "en": {
        "html_lang": "en",
        "page_title": "Clinical trials | Our Hospital",
        "skip": "Skip to content",
        "home": "Our Hospital, home",
        "brand": "Our Hospital",
        "center": "Clinical Research Center",
        "nav": "Main",
        "nav_trials": "Clinical trials",
        "nav_taking_part": "Taking part",
        "nav_questions": "Questions",
        "other_language": {"href": "/?lang=zh", "lang": "zh-CN", "label": "中文"},
        "heading": "Clinical trials at our hospital — ask our assistant",
        "lead": "Clinical trials test new ways to prevent, find and treat illness. Our assistant "
        "answers questions about the studies at our hospital around the clock: what a study is "
        "about, whether it is looking for participants, who to contact, and whether you might "
        "qualify.",
        "cta": "Ask our assistant",
        "hint": "You can also use the chat button in the lower right corner of any page.",
        "finding": "Finding a study",
        "finding_text": "Each study has its own aims, treatments and rules about who can take "
        "part. The assistant reads the current study records, so its answers stay up to date.",
        "registry_before": "Every study is listed in the public registry. The registry record "
        "for the study this assistant covers is",
        "registry_link": "{trial_id} on ClinicalTrials.gov",
        "registry_after": ".",
        "taking_part": "Taking part",
        "taking_part_items": [
            "Taking part is always voluntary. You can leave a study at any time.",
            "Before you join, the study team explains the study and asks for your written consent.",
            "The assistant can check a few questions with you, but only the study team decides "
            "who can take part.",
            "Talk to your own doctor before you make any change to your treatment.",
        ],
        "questions": "Questions?",
        "questions_text": "Open the chat and ask in your own words, for example “What is the "
        "study about?” or “Who do I contact?”. The assistant gives you the study team's contact "
        "details.",
        "note": "The assistant is an automated service. It does not give medical advice and "
        "cannot see your medical records. In an emergency, call your local emergency number.",
        "noscript": "The chat assistant needs JavaScript.",
    },
    "zh": {
        "html_lang": "zh-CN",
        "page_title": "临床试验 | 示例医院",
        "skip": "跳到正文",
        "home": "示例医院首页",
        "brand": "示例医院",
        "center": "临床研究中心",
        "nav": "主导航",
        "nav_trials": "临床试验",
        "nav_taking_part": "参加试验",
        "nav_questions": "常见问题",
        "other_language": {"href": "/?lang=en", "lang": "en", "label": "English"},
        "heading": "本院的临床试验 — 欢迎咨询我们的助手",
        "lead": "临床试验用于研究预防、发现和治疗疾病的新方法。我们的助手全天候为您解答有关本院"
        "研究的问题：研究内容、是否正在招募参与者、应该联系谁，以及您是否可能符合参加条件。",
        "cta": "咨询助手",
        "hint": "您也可以点击任意页面右下角的聊天按钮。",
        "finding": "查找研究",
        "finding_text": "每项研究都有各自的目的、治疗方法和参加条件。助手读取最新的研究记录，"
        "所以回答始终是最新的。",
        "registry_before": "每项研究都在公开的登记平台上登记。本助手所介绍研究的登记记录见",
        "registry_link": "ClinicalTrials.gov 上的 {trial_id}",
        "registry_after": "。",
        "taking_part": "参加试验",
        "taking_part_items": [
            "参加试验完全自愿，您可以随时退出。",
            "加入之前，研究团队会向您详细说明研究内容，并请您签署书面知情同意书。",
            "助手可以和您一起核对几个问题，但能否参加由研究团队决定。",
            "在改变任何治疗之前，请先咨询您的医生。",
        ],
        "questions": "有疑问？",
        "questions_text": "打开对话，用您自己的话提问，例如“这项研究是关于什么的？”或“我应该"
        "联系谁？”。助手会告诉您研究团队的联系方式。",
        "note": "本助手为自动服务，不提供医疗建议，也无法查看您的病历。如遇紧急情况，请立即拨打"
        " 120 急救电话。",
        "noscript": "聊天助手需要启用 JavaScript。",
    },
}


def demo_language(request: web.Request) -> str:
    """`?lang=zh` (or zh-CN, zh-Hans...) shows the Chinese page; anything else English."""
    return "zh" if request.query.get("lang", "").strip().lower().startswith("zh") else "en"


def rasa_origin(rasa_url: str) -> str:
    """`scheme://host[:port]` of the Rasa URL, for the page's connect-src; refuses non-HTTP URLs.

    Only the origin goes into the header, so a path or anything odd in RASA_URL can never add
    a directive to the Content-Security-Policy.
    """
    url = URL(rasa_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"RASA_URL must be an http(s) URL, got {rasa_url!r}")
    return str(url.origin())


def content_security_policy(nonce: str, rasa_url: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {rasa_origin(rasa_url)}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


async def demo_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    nonce = secrets.token_urlsafe(16)
    # No language and no title: the widget takes both from the page's <html lang>.
    config = {"serverUrl": settings.rasa_url.rstrip("/")}
    body = _templates.get_template("demo.html").render(
        nonce=nonce, config=config, trial_id=settings.trial_id, t=DEMO_TEXT[demo_language(request)]
    )
    return web.Response(
        text=body,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": content_security_policy(nonce, settings.rasa_url),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-cache",
        },
    )


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers for the widget's files, which hospital pages on other origins load."""
    if request.path.startswith(WIDGET_PREFIX):
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Loadable from pages that set Cross-Origin-Embedder-Policy.
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        # Short, so a fixed widget reaches every hospital page within minutes.
        response.headers.setdefault("Cache-Control", "public, max-age=300")


def setup(app: web.Application) -> None:
    """Registers the widget's routes: the demo page at / and the static files under /static/."""
    app.router.add_get("/", demo_page, name="widget-demo")
    app.router.add_static("/static/", STATIC_DIR, name="widget-static", append_version=False)
    app.on_response_prepare.append(_static_headers)  # type: ignore[arg-type]  # aiosignal typing
