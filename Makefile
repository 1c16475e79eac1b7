# m365.defender — developer entry points. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY311 ?= $(shell bash tools/find_python.sh 3.11)
PY312 ?= $(shell bash tools/find_python.sh 3.12)
VENV := .venv
VENV312 := .venv-py312
VENVEDA := .venv-eda
# ansible-test needs the collection at a physical ansible_collections/ path outside this git work tree
BUILD ?= $(or $(TMPDIR),/tmp)/m365.defender-build-$(shell printf %s "$(CURDIR)" | md5sum | cut -c1-8)
# ansible-core per interpreter: the newest each supports (2.20+ needs Python 3.12)
CORE311 := ansible-core>=2.19,<2.20
CORE312 := ansible-core>=2.21,<2.22

.PHONY: help venv venv312 demo test test-emulator test-sanity test-units test-integration test-docs \
        test-lint test-molecule test-examples test-py311 test-py312 test-eda test-rulebook venv-eda bench clean

help:
	@echo "make demo   - start the emulator, onboard an app and hunt (playbooks/demo.yml)"
	@echo "make test   - every test: emulator, sanity, units, integration (py3.11+2.19, py3.12+2.21), docs, lint, molecule, examples, EDA source, rulebook end to end"
	@echo "make bench  - benchmark scripts (print figures)"

$(VENV)/.stamp: requirements.txt requirements-dev.txt emulator/pyproject.toml
	$(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q '$(CORE311)' -r requirements-dev.txt
	touch $@

$(VENV312)/.stamp: requirements.txt requirements-dev.txt emulator/pyproject.toml
	$(PY312) -m venv $(VENV312)
	$(VENV312)/bin/pip install -q --upgrade pip
	$(VENV312)/bin/pip install -q '$(CORE312)' -r requirements-dev.txt
	touch $@

$(VENVEDA)/.stamp: requirements.txt requirements-eda.txt emulator/pyproject.toml
	PYTHON=$(PY311) bash tools/make_eda_venv.sh $(VENVEDA)
	touch $@

venv: $(VENV)/.stamp
venv312: $(VENV312)/.stamp
venv-eda: $(VENVEDA)/.stamp

demo: venv
	@bash tools/demo.sh $(VENV)

# Two suites at a time (this is a 2-core machine and the integration suites mostly wait on the emulator); each
# suite's output is printed whole when it ends. The longest suites start first.
SUITES := test-py311 test-py312 test-emulator test-molecule test-lint test-docs test-examples test-eda test-rulebook
# -k: every suite runs even when one fails, and the report at the end names each failing suite with its failure.
LOGS := $(BUILD)/logs
SUITE = bash tools/run_suite.sh $@ $(LOGS)
test: venv venv312 venv-eda
	@rm -rf $(LOGS) && mkdir -p $(LOGS)
	@rc=0; $(MAKE) --no-print-directory -k -j2 --output-sync=target $(SUITES) || rc=$$?; \
	  bash tools/suite_report.sh $(LOGS) || rc=1; exit $$rc
	@echo "make test: all suites passed"

test-emulator: venv
	$(SUITE) bash -c 'cd emulator && ../$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests'

test-py311: venv
	$(SUITE) bash tools/run_collection_tests.sh $(VENV) 3.11 $(BUILD)/py311

test-py312: venv312
	$(SUITE) bash tools/run_collection_tests.sh $(VENV312) 3.12 $(BUILD)/py312

test-docs: venv
	$(SUITE) bash tools/run_docs_checks.sh $(VENV) $(BUILD)/docs

test-lint: venv
	$(SUITE) bash tools/run_lint.sh $(VENV) $(BUILD)/lint

test-molecule: venv
	$(SUITE) bash tools/run_molecule.sh $(VENV) $(BUILD)/molecule

test-examples: venv
	$(SUITE) bash tools/run_examples.sh $(VENV) $(BUILD)/examples

test-eda: venv
	$(SUITE) bash tools/run_eda_tests.sh $(VENV)

test-rulebook: venv-eda
	$(SUITE) bash tools/run_rulebook_e2e.sh $(VENVEDA)

bench: venv
	@for b in benchmarks/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(BUILD) tests/output
