# Everything a fresh machine needs, from the repository's own files:
#   make demo   installs, fetches the pinned jars, runs the main job end to end, shows the result
#   make test   installs, fetches the pinned jars, runs lint, type checks and the whole test suite
# Prerequisites: Python 3.11, OpenJDK 17 and Maven on PATH (`make doctor` checks them).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
JARS_STAMP := .streamledger/jars/.fetched
# Quix Streams (a benchmark baseline) pins an older confluent-kafka than the project: own venv.
QUIX_VENV := .streamledger/quix-venv
QUIX_STAMP := $(QUIX_VENV)/.installed
JVM_SOURCES := $(shell find jvm -name pom.xml -o -name '*.java')

.PHONY: setup bench-setup demo test lint typecheck unit integration doctor clean stack-down

setup: $(BIN)/.installed $(JARS_STAMP) $(QUIX_STAMP)

bench-setup: $(QUIX_STAMP)

doctor:
	@command -v $(PYTHON) >/dev/null || command -v python3 >/dev/null || { echo "streamledger: Python 3.11 not found — install python3.11"; exit 1; }
	@command -v java >/dev/null || [ -x "$$JAVA_HOME/bin/java" ] || { echo "streamledger: Java not found — install OpenJDK 17 (apt-get install openjdk-17-jdk-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "streamledger: Maven not found — install Maven (apt-get install maven)"; exit 1; }

$(BIN)/.installed: pyproject.toml | doctor
	@py=$$(command -v $(PYTHON) || command -v python3); \
	  $$py -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "streamledger: $$py is not Python 3.11 — install python3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }; \
	  $$py -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(JARS_STAMP): $(JVM_SOURCES) | $(BIN)/.installed
	$(BIN)/streamledger jars fetch
	@touch $@

$(QUIX_STAMP): benchmarks/quix-requirements.txt | $(BIN)/.installed
	@py=$$(command -v $(PYTHON) || command -v python3); $$py -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/pip install --quiet --upgrade pip
	$(QUIX_VENV)/bin/pip install --quiet -r benchmarks/quix-requirements.txt
	@touch $@

demo: setup
	$(BIN)/streamledger demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit -q

integration: setup
	$(BIN)/pytest tests/integration -q

# The suite's temporary directories live in the checkout: pytest prunes old runs under the shared
# /tmp/pytest-of-$USER, which would delete the broker and cluster directories of a run still going.
test: setup lint typecheck
	$(BIN)/pytest tests -q --durations=10 --basetemp=.streamledger/test-tmp

stack-down:
	-$(BIN)/streamledger stack down

clean: stack-down
	rm -rf $(VENV) .streamledger jvm/*/target
