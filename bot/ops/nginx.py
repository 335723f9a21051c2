"""nginx in front of the Rasa and action-server replicas: one set of server blocks, two layouts.

* `make run-prod` (bot/ops/prod.py): a child process on this host, replicas on 127.0.0.1 ports,
  config generated at start-up into var/prod/nginx/ with the outage answer inline.
* Containers (deploy/compose.yaml on Compose and Swarm, the Helm chart's action gateway): the
  files `python -m bot.ops.nginx compose` and `python -m bot.ops.nginx helm` print, committed as
  deploy/nginx/nginx.conf and deploy/helm/trialbot/files/actions-gateway.conf (a test checks they
  are current). Replicas are found by DNS at request time, so a replica that comes back with a
  new address, or a scaled service, is used within seconds; the outage answer is a file the
  migration job (or the chart's init container) renders from the trial database.

The listeners behave the same in both: the public Rasa API never resends a POST that reached a
replica; the action endpoint tries the next action server and, when none answers within the
action timeout, returns a valid action response that gives the study phone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple

from bot.config import Settings, get_settings

if TYPE_CHECKING:
    from bot.ops.prod import Profile

# Where the containers' nginx finds the outage answer (deploy/docker/entry.py writes it).
FALLBACK_DIR = "/var/lib/trialbot/fallback"
FALLBACK_FILE = "action.json"
# Without the file (the migration job has not run yet) the answer still points to the study team.
GENERIC_FALLBACK = (
    '{"events": [], "responses": [{"text": "I\'m sorry, I can\'t answer that right now. '
    'Please try again in a few minutes, or call the study team."}]}'
)
CONTAINER_PORTS = {"rasa": 5005, "actions": 5055, "web": 8000}


def _nginx_string(value: str) -> str:
    # nginx expands $variables in `return` text and has no escape for "$": drop it.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("$", "") + "'"


def _timeout(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms"


# -- the shared server blocks ---------------------------------------------------------------


def _rasa_server(
    listen: str, rasa: str, sticky: str, pooled: bool, extra: str = "", limits: str = ""
) -> str:
    """The public Rasa API. A request that could not be sent to a replica (connection refused,
    or not accepted within 1 s: a dead container's address does not answer at all) goes to the
    next one. A POST already sent is never retried (no `non_idempotent`): a replica
    that dies while handling a message makes that one request a 502 for the client to resend,
    instead of nginx resending it and the message being stored twice. `limits`: each
    location's per-address limits (see public_limits)."""
    keepalive = '\n      proxy_set_header Connection "";' if pooled else ""
    return f"""  server {{
    listen {listen};{extra}
    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    location / {{{limits}
      proxy_pass {rasa};{keepalive}
      proxy_connect_timeout 1s;
      proxy_read_timeout 120s;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
    }}
    location /socket.io/ {{{limits}
      proxy_pass {sticky};
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 3600s;
    }}
  }}
"""


def _actions_server(
    listen: str, actions: str, timeout: float, unavailable: Tuple[str, str], extra: str = ""
) -> str:
    """The action endpoint the Rasa replicas call, with an answer when no action server can
    give one. Rasa sends the whole conversation with every action call: tens of kB, more in a
    long chat. Kept in memory up to 1 MB (a temp file cost ~45 ms per call) and accepted up to
    16 MB, so a long conversation is never refused with a 413."""
    t = _timeout(timeout)
    return f"""  server {{
    listen {listen};{extra}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    client_body_buffer_size 1m;
    client_max_body_size 16m;
    location = /health {{ proxy_pass {actions}; }}
    location / {{
      proxy_pass {actions};
      proxy_connect_timeout 500ms;
      proxy_send_timeout {t};
      proxy_read_timeout {t};
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 2;
      proxy_next_upstream_timeout {t};
      proxy_intercept_errors on;
{unavailable[0]}
    }}
{unavailable[1]}  }}
"""


def _inline_unavailable(fallback_json: str) -> Tuple[str, str]:
    """(the error_page line, its location): the answer is in the config."""
    return "      error_page 500 502 503 504 = @unavailable;", (
        f"""    location @unavailable {{
      default_type application/json;
      return 200 {_nginx_string(fallback_json)};
    }}
"""
    )


def _file_unavailable() -> Tuple[str, str]:
    """The answer is a file rendered from the trial database; until it exists, a generic one.
    An error_page URI (not a named location) turns the POST into a GET: a static file is
    served to GET only."""
    return "      error_page 500 502 503 504 =200 /_unavailable/action.json;", (
        f"""    recursive_error_pages on;
    location = /_unavailable/action.json {{
      internal;
      alias {FALLBACK_DIR}/{FALLBACK_FILE};
      default_type application/json;
      error_page 403 404 =200 @generic;
    }}
    location @generic {{
      default_type application/json;
      return 200 {_nginx_string(GENERIC_FALLBACK)};
    }}
"""
    )


def _web_server(listen: str, web: str, extra: str = "") -> str:
    return f"""  server {{
    listen {listen};{extra}
    client_max_body_size 1m;
    location / {{
      proxy_pass {web};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }}
  }}
"""


def _temp_paths(base: str) -> str:
    return "\n".join(
        f"  {kind}_temp_path {base}/{sub};"
        for kind, sub in (
            ("client_body", "body"),
            ("proxy", "proxy"),
            ("fastcgi", "fastcgi"),
            ("uwsgi", "uwsgi"),
            ("scgi", "scgi"),
        )
    )


# -- `make run-prod`: replicas on this host ---------------------------------------------------


# What nginx answers itself on the public API (JSON with a `message` the widget shows, in
# Chinese for browsers that prefer it: nginx cannot read the message to tell its language).
TOO_MANY = {
    "en": "You are sending messages too quickly. Please wait a moment and try again.",
    "zh": "您发送消息太快了。请稍等片刻再试。",
}
TOO_LARGE = {
    "en": "Sorry, that message is too long. Please keep it shorter.",
    "zh": "抱歉，这条消息太长了。请写短一些。",
}
RETRY_AFTER_SECONDS = 1


def _body(texts: dict, language: str) -> str:
    text = texts[language]
    return _nginx_string(json.dumps({"error": text, "message": text}, ensure_ascii=False))


def public_limits(settings: Settings) -> Tuple[str, str, str]:
    """(http-level zones and answers, per-location limits, server-level error pages and
    trusted proxies) for the public Rasa API, from PROD_PUBLIC_RATE, _BURST, _CONNECTIONS."""
    zones = [
        "  # Public Rasa API, per client address: requests per second (burst above it) and open",
        "  # connections; over either: 429 with Retry-After and a JSON message.",
    ]
    # A location with its own proxy_set_header inherits none of the server's: the replicas
    # must still get the client's address (the channels' per-address limits read it).
    location = [
        "      proxy_set_header Host $host;",
        "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    ]
    if settings.prod_public_rate > 0:
        zones.append(
            "  limit_req_zone $binary_remote_addr zone=rasa_public:10m "
            f"rate={settings.prod_public_rate}r/s;"
        )
        location.append(
            f"      limit_req zone=rasa_public burst={settings.prod_public_burst} nodelay;"
        )
    if settings.prod_public_connections > 0:
        zones.append("  limit_conn_zone $binary_remote_addr zone=rasa_connections:10m;")
        location.append(f"      limit_conn rasa_connections {settings.prod_public_connections};")
    zones += [
        "  limit_req_status 429;",
        "  limit_conn_status 429;",
        "  limit_req_log_level warn;",
        "  limit_conn_log_level warn;",
        "  map $http_accept_language $rasa_too_many {",
        f"    default {_body(TOO_MANY, 'en')};",
        f"    ~*^zh {_body(TOO_MANY, 'zh')};",
        "  }",
        "  map $http_accept_language $rasa_too_large {",
        f"    default {_body(TOO_LARGE, 'en')};",
        f"    ~*^zh {_body(TOO_LARGE, 'zh')};",
        "  }",
    ]
    server = [
        "    error_page 429 = @too_many;",
        "    error_page 413 = @too_large;",
        "    location @too_many {",
        "      default_type application/json;",
        f"      add_header Retry-After {RETRY_AFTER_SECONDS} always;",
        '      add_header Access-Control-Allow-Origin "*" always;',
        "      return 429 $rasa_too_many;",
        "    }",
        "    location @too_large {",
        "      default_type application/json;",
        '      add_header Access-Control-Allow-Origin "*" always;',
        "      return 413 $rasa_too_large;",
        "    }",
    ]
    # Behind another proxy (TRUSTED_PROXIES), limit the address it names, not the proxy.
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    if proxies:
        server += [f"    set_real_ip_from {p};" for p in proxies]
        server += ["    real_ip_header X-Forwarded-For;", "    real_ip_recursive on;"]
    return (
        "\n".join(zones),
        "".join("\n" + line for line in location),
        "".join("\n" + line for line in server),
    )


def nginx_config(
    profile: "Profile", fallback_json: str, settings: Optional[Settings] = None
) -> str:
    base = profile.var_dir / "nginx"
    zones, limits, errors = public_limits(settings or get_settings())
    rasa = "\n".join(
        f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in profile.rasa_ports
    )
    actions = "\n".join(
        f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in profile.action_ports
    )
    return f"""# generated by bot/ops/nginx.py at start-up; edits are overwritten
daemon off;
master_process on;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{_temp_paths(f"{base}/tmp")}
  client_max_body_size 256k;

{zones}

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

{
        _rasa_server(
            f"127.0.0.1:{profile.public_port}",
            "http://rasa",
            "http://rasa_sticky",
            True,
            errors,
            limits,
        )
    }
{
        _actions_server(
            f"127.0.0.1:{profile.action_port}",
            "http://actions",
            profile.action_timeout,
            _inline_unavailable(fallback_json),
        )
    }}}
"""


def write_nginx_config(
    profile: "Profile", fallback_json: str, settings: Optional[Settings] = None
) -> Path:
    base = profile.var_dir / "nginx"
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    path = base / "nginx.conf"
    path.write_text(nginx_config(profile, fallback_json, settings))
    return path


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if not found:
        raise RuntimeError("nginx is not installed: apt-get install -y nginx")
    return found


def nginx_command(config: Path) -> List[str]:
    # -e: the error log before the config is read (default is a root-only path)
    return [
        nginx_binary(),
        "-c",
        str(config),
        "-p",
        str(config.parent),
        "-e",
        str(config.parent / "error.log"),
    ]


# -- containers -------------------------------------------------------------------------------


def container_config(
    resolver: str,
    rasa_host: Optional[str] = "rasa",
    actions_host: str = "actions",
    web_host: Optional[str] = "web",
    action_timeout: float = 1.5,
    header: str = "",
    settings: Optional[Settings] = None,
) -> str:
    """The nginx.conf of the gateway container: Rasa's public API on 5005 (when `rasa_host`,
    with the per-address limits of `settings`, see public_limits), the action endpoint on 5055
    and the web app on 8000 (when `web_host`), each service found through `resolver` at
    request time (every address a name has is a replica)."""
    ports = CONTAINER_PORTS
    blocks = []
    zones, limits, errors = public_limits(settings) if rasa_host and settings else ("", "", "")
    # `set` makes proxy_pass resolve the name per request (through `resolver`), not once.
    if rasa_host:
        rasa = f"http://$rasa:{ports['rasa']}"
        extra = f"\n    set $rasa {rasa_host};{errors}"
        blocks.append(_rasa_server(str(ports["rasa"]), rasa, rasa, False, extra, limits))
    blocks.append(
        _actions_server(
            str(ports["actions"]),
            f"http://$actions:{ports['actions']}",
            action_timeout,
            _file_unavailable(),
            f"\n    set $actions {actions_host};",
        )
    )
    if web_host:
        web = f"http://$web:{ports['web']}"
        blocks.append(_web_server(str(ports["web"]), web, f"\n    set $web {web_host};"))
    text = "\n".join(blocks)
    return f"""{header}# The trial assistant's gateway, generated by bot/ops/nginx.py; do not edit.
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  # Which replica answered each request ($upstream_addr): the Swarm test reads it.
  log_format gateway '$remote_addr "$request" $status $upstream_addr $request_time';
  access_log /dev/stdout gateway;
{_temp_paths("/tmp")}
  client_max_body_size 256k;{"" if not zones else chr(10) + zones}

  # Every replica of a service is one address of its name (Compose, Swarm dnsrr, a headless
  # Kubernetes Service); names are looked up again every second, so replicas come and go.
  resolver {resolver} valid=1s ipv6=off;
  resolver_timeout 2s;

{text}}}
"""


def compose_config(settings: Optional[Settings] = None) -> str:
    """deploy/nginx/nginx.conf: Compose and Swarm, Docker's embedded DNS; the public API's
    limits of `settings`, by default their defaults (not this shell's environment)."""
    return container_config("127.0.0.11", settings=settings or Settings.construct())


def helm_config() -> str:
    """deploy/helm/trialbot/files/actions-gateway.conf, a Helm template (rendered with `tpl`):
    the action endpoint only (Rasa and the web app are behind the Ingress), the action servers
    through their headless Service."""
    return container_config(
        "{{ .Values.actionGateway.resolver }}",
        rasa_host=None,
        actions_host='{{ include "trialbot.fullname" . }}-actions-pods.'
        "{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}",
        web_host=None,
        header="# Rendered by the chart with `tpl`.\n",
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="print the containers' nginx config")
    parser.add_argument("layout", choices=["compose", "helm"])
    parser.add_argument(
        "--from-environment",
        action="store_true",
        help="compose: the public API's limits from PROD_PUBLIC_* (default: their defaults)",
    )
    args = parser.parse_args(argv)
    if args.layout == "helm":
        sys.stdout.write(helm_config())
    else:
        sys.stdout.write(compose_config(get_settings() if args.from_environment else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
