"""The production profile (`make run-prod`): replicas behind nginx, PostgreSQL and Redis.

Started in the foreground, Ctrl-C stops all of them:

* N action-server replicas (``PROD_ACTION_REPLICAS``, default 2) on ``PROD_ACTION_BASE_PORT+i``
* nginx (a non-daemon child, config generated into ``var/nginx/``) with two listeners:
  - ``RASA_PORT`` (5005): the public Rasa API, round robin over the Rasa replicas (socket.io
    sticky by client address); a request that cannot reach a replica goes to the next one.
  - ``ACTION_PORT`` (5055): the action endpoint the Rasa replicas call; round robin over the
    action servers, the next one on a connection error or timeout, and when none answers
    within ``PROD_ACTION_TIMEOUT`` (1.5 s) a valid action-server response whose text says
    the bot can't answer right now and gives the study phone, read from the trial database
    (bot.trials) when the profile starts. So the patient always gets an answer.
* M Rasa server replicas (``PROD_RASA_REPLICAS``, default 2) on ``PROD_RASA_BASE_PORT+i``,
  with deploy/endpoints.prod.yml: tracker store ``TRACKER_STORE_URL`` (PostgreSQL), lock
  store bot.lock_store.AtomicRedisLockStore on ``REDIS_URL``, actions via nginx.
* the web app on ``WEB_PORT`` (8000), talking to nginx.

See deploy/prod.env.example for the variables.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from bot.settings import ROOT, VAR_DIR
from bot.stack import Supervisor, action_command, rasa_command, run_foreground, stack_env

DEPLOY = ROOT / "deploy"
ENDPOINTS = DEPLOY / "endpoints.prod.yml"
FALLBACK_TEXT = ("I'm sorry, I can't answer that right now. Please try again in a few minutes, "
                 "or call the study team{contact}.")


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass
class Profile:
    rasa_replicas: int = field(default_factory=lambda: _int("PROD_RASA_REPLICAS", 2))
    action_replicas: int = field(default_factory=lambda: _int("PROD_ACTION_REPLICAS", 2))
    public_port: int = field(default_factory=lambda: _int("RASA_PORT", 5005))
    action_port: int = field(default_factory=lambda: _int("ACTION_PORT", 5055))
    web_port: int = field(default_factory=lambda: _int("WEB_PORT", 8000))
    rasa_base_port: int = field(default_factory=lambda: _int("PROD_RASA_BASE_PORT", 5100))
    action_base_port: int = field(default_factory=lambda: _int("PROD_ACTION_BASE_PORT", 5200))
    action_timeout: float = field(
        default_factory=lambda: float(os.environ.get("PROD_ACTION_TIMEOUT") or 1.5))
    var_dir: Path = field(default_factory=lambda: VAR_DIR / "prod")
    # Explicit replica ports (tests); otherwise BASE+1, BASE+2, ...
    rasa_port_list: Optional[List[int]] = None
    action_port_list: Optional[List[int]] = None

    @property
    def rasa_ports(self) -> List[int]:
        return self.rasa_port_list or [self.rasa_base_port + i + 1
                                       for i in range(self.rasa_replicas)]

    @property
    def action_ports(self) -> List[int]:
        return self.action_port_list or [self.action_base_port + i + 1
                                         for i in range(self.action_replicas)]


# -- the fallback answer --------------------------------------------------------------------

def fallback_text(nct_id: Optional[str] = None) -> str:
    """The outage answer, with the study phone read from the trial database now."""
    from bot import trials
    from bot.settings import get_settings

    contact = ""
    try:
        study = trials.get_study(nct_id or get_settings().trial_id)
        phone = study.phone_contact if study else None
        if phone is not None:
            contact = f": {phone.name} at {phone.phone}" if phone.name else f": {phone.phone}"
    except Exception as error:  # no database at start-up: still a polite answer
        print(f"warning: no study phone for the fallback answer ({error})", file=sys.stderr)
    return FALLBACK_TEXT.format(contact=contact)


def fallback_text_from(database_url: str) -> str:
    """fallback_text() read from the given trial database (the environment is restored)."""
    from bot.db import dispose_engines

    previous = os.environ.get("TRIAL_DATABASE_URL")
    os.environ["TRIAL_DATABASE_URL"] = database_url
    try:
        return fallback_text()
    finally:
        if previous is None:
            os.environ.pop("TRIAL_DATABASE_URL", None)
        else:
            os.environ["TRIAL_DATABASE_URL"] = previous
        dispose_engines()


def fallback_response(text: str) -> str:
    return json.dumps({"events": [], "responses": [{"text": text}]}, ensure_ascii=False)


def _nginx_string(value: str) -> str:
    # nginx expands $variables in `return` text and has no escape for "$": drop it.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("$", "") + "'"


# -- nginx ----------------------------------------------------------------------------------

def nginx_config(profile: Profile, fallback_json: str) -> str:
    base = profile.var_dir / "nginx"
    rasa = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;"
                     for p in profile.rasa_ports)
    actions = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;"
                        for p in profile.action_ports)
    timeout = f"{int(profile.action_timeout * 1000)}ms"
    return f"""# generated by bot/prod.py at start-up; edits are overwritten
daemon off;
master_process on;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {base}/tmp/body;
  proxy_temp_path {base}/tmp/proxy;
  fastcgi_temp_path {base}/tmp/fastcgi;
  uwsgi_temp_path {base}/tmp/uwsgi;
  scgi_temp_path {base}/tmp/scgi;
  client_max_body_size 256k;

  upstream rasa {{
{rasa}
    keepalive 64;
  }}
  upstream rasa_sticky {{
    hash $remote_addr consistent;
{rasa}
  }}
  upstream actions {{
{actions}
    keepalive 64;
  }}

  # Public Rasa API. A request that could not be sent to a replica (connection refused) goes
  # to the next one. A POST already sent is never retried (no `non_idempotent`): a replica
  # that dies while handling a message makes that one request a 502 for the client to resend,
  # instead of nginx resending it and the message being stored twice.
  server {{
    listen 127.0.0.1:{profile.public_port};
    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    location / {{
      proxy_pass http://rasa;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      proxy_read_timeout 120s;
      proxy_next_upstream error;
      proxy_next_upstream_tries 2;
    }}
    location /socket.io/ {{
      proxy_pass http://rasa_sticky;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 3600s;
    }}
  }}

  # Action endpoint for the Rasa replicas, with an answer when no action server can give one.
  server {{
    listen 127.0.0.1:{profile.action_port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # Rasa sends the whole conversation with every action call: tens of kB, more in a long
    # chat. Kept in memory up to 1 MB (a temp file cost ~45 ms per call) and accepted up to
    # 16 MB, so a long conversation is never refused with a 413.
    client_body_buffer_size 1m;
    client_max_body_size 16m;
    location = /health {{ proxy_pass http://actions; }}
    location / {{
      proxy_pass http://actions;
      proxy_connect_timeout 500ms;
      proxy_send_timeout {timeout};
      proxy_read_timeout {timeout};
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 2;
      proxy_next_upstream_timeout {timeout};
      proxy_intercept_errors on;
      error_page 500 502 503 504 = @unavailable;
    }}
    location @unavailable {{
      default_type application/json;
      return 200 {_nginx_string(fallback_json)};
    }}
  }}
}}
"""


def write_nginx_config(profile: Profile, text: Optional[str] = None) -> Path:
    base = profile.var_dir / "nginx"
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    path = base / "nginx.conf"
    path.write_text(nginx_config(profile, fallback_response(text or fallback_text())))
    return path


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)
    if not found:
        raise RuntimeError("nginx is not installed: apt-get install -y nginx")
    return found


def nginx_command(config: Path) -> List[str]:
    # -e: the error log before the config is read (default is a root-only path)
    return [nginx_binary(), "-c", str(config), "-p", str(config.parent),
            "-e", str(config.parent / "error.log")]


# -- processes ------------------------------------------------------------------------------

def prod_env(profile: Profile) -> Dict[str, str]:
    # Checked before stack_env(), which would fill in the embedded SQLite defaults.
    missing = [v for v in ("TRIAL_DATABASE_URL", "TRACKER_STORE_URL", "REDIS_URL")
               if not os.environ.get(v)]
    env = stack_env()
    if missing:
        raise RuntimeError("the production profile needs " + ", ".join(missing)
                           + " (see deploy/prod.env.example)")
    env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{profile.action_port}/webhook"
    env.setdefault("REDIS_LOCK_PREFIX", "trialbot")
    env["RASA_URL"] = f"http://127.0.0.1:{profile.public_port}"
    env["RASA_PORT"] = str(profile.public_port)
    env["WEB_PORT"] = str(profile.web_port)
    return env


def rasa_replica_command(port: int) -> List[str]:
    command = rasa_command(port)
    command[command.index("--endpoints") + 1] = str(ENDPOINTS)
    return command


def start_services(supervisor: Supervisor, profile: Profile, web: bool = True) -> None:
    profile.var_dir.mkdir(parents=True, exist_ok=True)
    for i, port in enumerate(profile.action_ports):
        supervisor.start(f"actions-{i + 1}", action_command(port),
                         f"http://127.0.0.1:{port}/health")
    # The phone for the outage answer comes from the trial database, read now.
    config = write_nginx_config(profile, fallback_text_from(supervisor.env["TRIAL_DATABASE_URL"]))
    supervisor.start("nginx", nginx_command(config),
                     f"http://127.0.0.1:{profile.action_port}/health", 30)
    # One after the other: the first creates the tracker tables.
    for i, port in enumerate(profile.rasa_ports):
        supervisor.start(f"rasa-{i + 1}", rasa_replica_command(port),
                         f"http://127.0.0.1:{port}/")
    if web:
        supervisor.start("web", [sys.executable, "-m", "bot", "web"],
                         f"http://127.0.0.1:{profile.web_port}/health")


def start_profile(profile: Profile, env: Dict[str, str], log_dir: Optional[Path] = None,
                  web: bool = True) -> Supervisor:
    """Everything up and healthy; the caller stops it with supervisor.stop_all()."""
    supervisor = Supervisor(env, log_dir)
    try:
        start_services(supervisor, profile, web)
    except BaseException:
        supervisor.stop_all()
        raise
    return supervisor


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rasa-replicas", type=int)
    parser.add_argument("--action-replicas", type=int)
    parser.add_argument("--no-web", action="store_true")
    args = parser.parse_args(argv)
    profile = Profile()
    if args.rasa_replicas:
        profile.rasa_replicas = args.rasa_replicas
    if args.action_replicas:
        profile.action_replicas = args.action_replicas
    try:
        env = prod_env(profile)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    supervisor = Supervisor(env)

    def start() -> str:
        start_services(supervisor, profile, web=not args.no_web)
        return (f"\nproduction profile up: {profile.rasa_replicas} Rasa replicas "
                f"{profile.rasa_ports}, {profile.action_replicas} action servers "
                f"{profile.action_ports}, nginx on :{profile.public_port} (Rasa) and "
                f":{profile.action_port} (actions)"
                + ("" if args.no_web else f", web app on :{profile.web_port}"))

    return run_foreground(supervisor, start)


if __name__ == "__main__":
    sys.exit(main())
