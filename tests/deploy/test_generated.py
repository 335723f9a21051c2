"""The files deploy/ holds that are generated from the code, checked in `make test` (no Docker):
the gateway's nginx configs (bot/ops/nginx.py) and the chart's copy of the PostgreSQL init file."""

from bot.config import ROOT
from bot.ops import nginx

DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "trialbot"


def test_the_committed_nginx_configs_are_what_bot_ops_nginx_generates():
    assert (DEPLOY / "nginx" / "nginx.conf").read_text() == nginx.compose_config(), (
        "regenerate: python -m bot.ops.nginx compose > deploy/nginx/nginx.conf"
    )
    assert (CHART / "files" / "actions-gateway.conf").read_text() == nginx.helm_config(), (
        "regenerate: python -m bot.ops.nginx helm > deploy/helm/trialbot/files/actions-gateway.conf"
    )


def test_the_chart_and_compose_create_the_same_databases():
    sql = "10-conversations.sql"
    assert (DEPLOY / "postgres" / sql).read_text() == (CHART / "files" / sql).read_text()
