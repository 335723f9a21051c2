# The two commands: `make run` (set up, load the trial data, train if needed, start everything)
# and `make test` (the whole suite). See README.md.
SHELL := /bin/bash
VENV := .venv/bin
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
# Rasa's anonymous usage telemetry stays off: nothing about a hospital's chats leaves the machine.
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)

.PHONY: setup setup-dev seed train run run-prod bench lint rules validate core-test nlu-report \
	test test-unit shell lock clean deploy-tools deploy-build deploy-up deploy-down deploy-test

setup:
	@scripts/setup.sh

# The test and lint tools on top of the assistant's packages.
setup-dev:
	@scripts/setup.sh dev

# Stops `make run` with the importer's message when a shipped record does not load.
seed: setup
	@$(VENV)/python -m bot seed

# Rasa fingerprints data, config and domain: an unchanged project reuses the newest model.
train: setup
	@$(VENV)/rasa train --quiet --out models

run: seed train
	@$(VENV)/python -m bot run

# Production profile on one host: PostgreSQL, Redis lock store, replicas behind nginx.
run-prod: seed train
	@$(VENV)/python -m bot.ops.prod

# Benchmark (not a test): prints throughput, latency percentiles, memory and ratios.
bench: setup train
	@$(VENV)/python -m bot.ops.bench

# ruff (lint and format check) and mypy over bot/ and actions/ (tests are linted too).
lint: setup-dev
	@$(VENV)/ruff check bot actions tests
	@$(VENV)/ruff format --check bot actions tests
	@$(VENV)/mypy

# Regenerates data/rules/side_questions.yml from the domain and the study-question rules.
rules: setup
	@$(VENV)/python -m bot.ops.rules

validate: setup
	@$(VENV)/rasa data validate --fail-on-warnings --quiet

core-test: train
	@scripts/core-test.sh

# 5-fold NLU cross-validation per language, confusion pairs, threshold sweep (not in make test).
nlu-report: setup
	@$(VENV)/python -m bot nlu-report

# Everything: lint, data validation, training (reused when unchanged), conversation tests,
# then pytest (unit, PostgreSQL and Redis, held-out NLU sets, live, browser). Each stage's time
# is printed; pytest's summary line comes last.
test: setup-dev
	@scripts/test.sh

test-unit: setup-dev
	@$(VENV)/python -m pytest -m "not live and not slow and not browser"

shell: seed train
	@$(VENV)/python -m bot shell

lock: setup-dev
	@(echo "# pip freeze of the development environment (Python 3.10, Rasa 3.6.21): pins every package of"; \
	  echo "# requirements.in and requirements-dev.in. Regenerate: make lock"; \
	  $(VENV)/pip freeze --exclude-editable) > constraints.txt

clean:
	rm -rf var results models/*.tar.gz

# -- containers (README "Deployment"): images, Compose (and Swarm), the Helm chart -------------
# The tools (Compose v2, Helm's SDK, kubernetes-validate) in deploy/.venv, pinned in
# deploy/constraints.txt; never in .venv or an image.
deploy-tools:
	@deploy/tools/venv.sh

# The three images (Rasa with the newest model, actions, web); base images only when missing.
deploy-build: train deploy-tools
	@python3 deploy/tools/deploy.py build

# The Compose stack: REST channel on localhost:5005, web app on localhost:8000.
deploy-up: train deploy-tools
	@python3 deploy/tools/deploy.py up

deploy-down:
	@python3 deploy/tools/deploy.py down

# Images, the Compose stack under load and failures, a two-node Swarm, the Helm chart (its own
# dockerd, started and stopped by the test; .ci/run runs it after `make test`).
deploy-test: setup-dev train deploy-tools
	@deploy/tools/test.sh
