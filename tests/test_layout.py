"""The tree reads as the architecture: small modules, packages by concern, handlers without ORM
code, and every test package beside the code it covers."""

from bot.config import ROOT

MAX_LINES = 500


def modules():
    for folder in ("bot", "actions"):
        yield from (ROOT / folder).rglob("*.py")


def test_no_module_is_over_500_lines():
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and "migrations/versions" not in p.as_posix()
    }
    assert long == {}


def test_bot_has_at_most_eight_modules_at_its_top():
    top = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    assert len(top) <= 8, top


def test_web_handlers_hold_no_orm_code():
    """Handlers call query modules (bot.console, bot.trial, ...); they build no queries."""
    offenders = []
    for path in (ROOT / "bot" / "web").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "from sqlalchemy import" in text or "session.add(" in text or "select(" in text:
            offenders.append(path.relative_to(ROOT).as_posix())
    assert offenders == []
