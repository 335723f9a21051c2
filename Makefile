# The two commands: `make run` (set up, load the trial data, train if needed, start everything)
# and `make test` (the whole suite). See README.md.
SHELL := /bin/bash
VENV := .venv/bin
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
# Rasa's anonymous usage telemetry stays off: nothing about a hospital's chats leaves the machine.
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)

.PHONY: setup seed train run run-prod bench test test-unit validate core-test nlu-report shell lock clean

setup:
	@scripts/setup.sh

seed: setup
	@$(VENV)/python -m bot seed

# Rasa fingerprints data, config and domain: an unchanged project reuses the newest model.
train: setup
	@$(VENV)/rasa train --quiet --out models

run: seed train
	@$(VENV)/python -m bot run

# Production profile: PostgreSQL, Redis lock store, Rasa and action replicas behind nginx.
run-prod: seed train
	@$(VENV)/python -m bot.prod

# Benchmark (not a test): prints throughput, latency percentiles, memory and ratios.
bench: setup train
	@$(VENV)/python -m bot.bench

validate: setup
	@$(VENV)/rasa data validate --fail-on-warnings --quiet

core-test: train
	@scripts/core-test.sh

# 5-fold NLU cross-validation; writes results/nlu/intent_report.json and prints the F1.
nlu-report: setup
	@$(VENV)/python -m bot nlu-report

# Everything, including the 5-fold NLU cross-validation (tests/test_nlu.py, about 14 minutes
# on 2 cores); pytest's summary line comes last.
test: setup validate train core-test
	@$(VENV)/python -m pytest

test-unit: setup
	@$(VENV)/python -m pytest -m "not live and not slow and not browser"

shell: seed train
	@$(VENV)/python -m bot shell

lock: setup
	@(echo "# pip freeze of a working environment (Python 3.10, Rasa 3.6.21). Regenerate: make lock"; \
	  $(VENV)/pip freeze --exclude-editable) > constraints.txt

clean:
	rm -rf var results models/*.tar.gz
