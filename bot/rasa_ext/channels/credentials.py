"""Authenticated messaging channels, and the credentials file Rasa is started with.

Channel classes (credentials keys are their module paths):

* ``bot.rasa_ext.channels.telegram.VerifiedTelegramInput`` -- Telegram, webhook secret checked.
* ``bot.rasa_ext.channels.twilio.VerifiedTwilioInput`` -- Twilio SMS and WhatsApp, signature
  checked.
* ``bot.rasa_ext.channels.wechat.WeChatInput`` -- WeChat Official Account.
* Slack and Facebook use Rasa's own ``slack`` / ``facebook`` channels, which already verify
  ``X-Slack-Signature`` / ``X-Hub-Signature``.

Rasa refuses to start when a ``${VAR}`` in its credentials file is unset, so the channel
sections live in ``credentials.channels.yml`` and :func:`write_credentials` builds the file
Rasa gets: ``credentials.yml`` (REST and socket.io, always on) plus each channel section whose
environment variables are set. The ``${VAR}`` placeholders are copied, not their values, so
no secret is written to disk; Rasa expands them when it starts. A channel with some but not
all of its required variables set is an error, not a silently missing channel.

This module imports nothing from Rasa, so it is cheap to import from the CLI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Set, Union

import yaml

from bot.config import ROOT

BASE_CREDENTIALS = ROOT / "credentials.yml"
CHANNEL_CREDENTIALS = ROOT / "credentials.channels.yml"

REST = "bot.rasa_ext.channels.rest.CheckedRestInput"
SOCKETIO = "bot.rasa_ext.channels.socketio.CheckedSocketIOInput"
ALWAYS_ON = (REST, SOCKETIO)  # credentials.yml
TELEGRAM = "bot.rasa_ext.channels.telegram.VerifiedTelegramInput"
TWILIO = "bot.rasa_ext.channels.twilio.VerifiedTwilioInput"
WECHAT = "bot.rasa_ext.channels.wechat.WeChatInput"

# Keys a channel cannot work (or cannot verify requests) without. Keys not listed are
# optional: when their variable is unset the key is left out and the default applies.
REQUIRED_KEYS: Dict[str, Set[str]] = {
    TELEGRAM: {"access_token", "verify", "secret_token"},
    TWILIO: {"account_sid", "auth_token"},
    "slack": {"slack_token", "slack_signing_secret"},
    "facebook": {"verify", "secret", "page-access-token"},
    WECHAT: {"token", "app_id", "app_secret"},
}
# At least one of these per channel.
ONE_OF_KEYS: Dict[str, Set[str]] = {TWILIO: {"twilio_number", "whatsapp_number"}}

_ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")


class ChannelConfigError(ValueError):
    """A channel is partly configured: some of its required variables are missing."""


def _variables(value: Any) -> List[str]:
    if isinstance(value, str):
        return _ENV_REFERENCE.findall(value)
    return []


def _is_set(name: str, env: Mapping[str, str]) -> bool:
    return bool(env.get(name))


def enabled_channel_sections(
    template: Mapping[str, Any], env: Mapping[str, str]
) -> Dict[str, Dict[str, Any]]:
    """The template sections whose variables are set, without the keys whose (optional)
    variables are unset. A section is enabled as soon as any of its variables is set."""
    enabled: Dict[str, Dict[str, Any]] = {}
    problems: List[str] = []
    for channel, section in (template or {}).items():
        section = dict(section or {})
        referenced = {name for value in section.values() for name in _variables(value)}
        if not referenced or not any(_is_set(name, env) for name in referenced):
            continue
        kept: Dict[str, Any] = {}
        missing: List[str] = []
        for key, value in section.items():
            unset = [name for name in _variables(value) if not _is_set(name, env)]
            if not unset:
                kept[key] = value
            elif key in REQUIRED_KEYS.get(channel, set()):
                missing.extend(unset)
        one_of = ONE_OF_KEYS.get(channel)
        if one_of and not one_of & kept.keys():
            missing.extend(name for key in sorted(one_of) for name in _variables(section.get(key)))
            missing.append("(at least one of these)")
        if missing:
            problems.append(f"{channel}: set {', '.join(missing)}")
            continue
        enabled[channel] = kept
    if problems:
        raise ChannelConfigError("Messaging channels are partly configured. " + "; ".join(problems))
    return enabled


def _read(path: Path) -> Dict[str, Any]:
    # plain safe_load: no ${VAR} expansion here, the placeholders are copied as they are
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def build_credentials(
    env: Mapping[str, str],
    base: Union[Path, str] = BASE_CREDENTIALS,
    channels: Union[Path, str] = CHANNEL_CREDENTIALS,
) -> Dict[str, Any]:
    """``credentials.yml`` plus the enabled sections of ``credentials.channels.yml``."""
    credentials = _read(Path(base))
    credentials.update(enabled_channel_sections(_read(Path(channels)), env))
    return credentials


def write_credentials(
    out: Union[Path, str],
    env: Mapping[str, str],
    base: Union[Path, str] = BASE_CREDENTIALS,
    channels: Union[Path, str] = CHANNEL_CREDENTIALS,
) -> Path:
    """Write the credentials file for ``rasa run --credentials``; returns its path."""
    credentials = build_credentials(env, base, channels)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Generated by bot.rasa_ext.channels.credentials.write_credentials from "
        "credentials.yml and credentials.channels.yml.\n"
        "# Do not edit; ${VAR} placeholders are expanded by Rasa.\n"
        + yaml.safe_dump(credentials, sort_keys=False, default_flow_style=False)
    )
    out.write_text(text, encoding="utf-8")
    return out


def enabled_channel_names(credentials: Mapping[str, Any]) -> Iterable[str]:
    """The credentials keys beyond REST and socket.io (for a start-up log line)."""
    return [key for key in credentials if key not in ALWAYS_ON]
