# configguard: every set-up step lives here; nothing is installed by hand.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAMBDA_SITE := .lambda-site
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
SAM_CLI_VERSION := 1.170.0
PIP_QUIET := --quiet --disable-pip-version-check
# boto3 that the python3.13 Lambda runtime provides; only used to mimic the runtime locally.
RUNTIME_BOTO3 := boto3==1.44.5

.PHONY: help venv lambda-site test lint fmt typecheck pytest demo report build validate stackset bench bench-quick bench-tools security security-template security-deps clean

help:
	@echo "make demo   - run the main job: rule -> fix -> audit on the embedded AWS stand-in"
	@echo "make test   - lint, type-check and run the test suite"
	@echo "make build  - sam build (needs a python3.13 interpreter)"
	@echo "make validate - sam validate --lint"
	@echo "make stackset - build/stackset.yaml: Transform-free template for a SERVICE_MANAGED StackSet"
	@echo "make report - scan the seeded stand-in to build/report.html and screenshot it"
	@echo "make security - checkov + cfn-lint on the template, pip-audit on the pinned dependencies"
	@echo "make bench  - configguard vs Cloud Custodian vs Prowler: docs/benchmarks.md (bench-quick: 1/10)"

$(BIN)/.installed: pyproject.toml requirements-dev.txt shared/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "configguard needs Python >= 3.11 (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) --upgrade pip
	$(BIN)/pip install $(PIP_QUIET) -e ".[dev]"
	@touch $@

venv: $(BIN)/.installed

# A Lambda-shaped site-packages: the layer's requirements plus the runtime's boto3,
# used by the contract test to import each handler the way Lambda does.
$(LAMBDA_SITE)/.installed: shared/requirements.txt $(BIN)/.installed
	rm -rf $(LAMBDA_SITE)
	$(BIN)/pip install $(PIP_QUIET) --target $(LAMBDA_SITE) -r shared/requirements.txt $(RUNTIME_BOTO3)
	@touch $@

lambda-site: $(LAMBDA_SITE)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared/configguard cli/configguard_cli rules remediations router bench/configguard_bench
	$(BIN)/cfn-lint template.yaml

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

pytest: venv lambda-site
	$(BIN)/pytest -n 2 -q

test: lint pytest

demo: venv
	$(BIN)/configguard demo

# Debian's Chromium, for looking at the HTML scan report as a person would.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

report: venv $(CHROMIUM)
	$(BIN)/python scripts/report-screenshot.py

$(SAM): 
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install $(PIP_QUIET) aws-sam-cli==$(SAM_CLI_VERSION)

validate: $(SAM)
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint

build: $(SAM)
	@PY313=$$(scripts/find-python313.sh) || exit 1; \
	PATH="$$(dirname $$PY313):$$PATH" $(SAM) build --no-cached
	scripts/prune-layer.sh .aws-sam/build/ConfigGuardLayer

# The StackSet template and its code zips; the command runs `make build` itself.
stackset: venv $(SAM)
	$(BIN)/configguard stackset-template --output build/stackset.yaml

# Benchmarks: each peer in its own virtual environment under .bench/, never in the project's.
BENCH := .bench
$(BIN)/.bench-installed: bench/requirements.txt $(BIN)/.installed
	$(BIN)/pip install $(PIP_QUIET) -r bench/requirements.txt
	@touch $@

$(BENCH)/%/.installed: bench/requirements-%.txt
	rm -rf $(BENCH)/$*
	$(PYTHON) -m venv $(BENCH)/$*
	$(BENCH)/$*/bin/pip install $(PIP_QUIET) --upgrade pip
	$(BENCH)/$*/bin/pip install $(PIP_QUIET) -r $<
	@touch $@

bench-tools: $(BIN)/.bench-installed $(BENCH)/c7n/.installed $(BENCH)/prowler/.installed lambda-site build

bench: bench-tools
	$(BIN)/python -m configguard_bench.run

bench-quick: bench-tools
	$(BIN)/python -m configguard_bench.run --quick

# Security scanners, each in its own virtual environment under .tools/.
$(TOOLS)/%/.installed: security/requirements-%.txt
	rm -rf $(TOOLS)/$*
	$(PYTHON) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/pip install $(PIP_QUIET) -r $<
	@touch $@

security: security-template security-deps

# checkov: no failed check; every exception is a justified skip (docs/reliability.md).
security-template: venv $(TOOLS)/checkov/.installed
	$(BIN)/cfn-lint template.yaml
	@mkdir -p build
	BC_SKIP_MAPPING=TRUE $(TOOLS)/checkov/bin/checkov -f template.yaml \
		--config-file security/checkov.yaml -o json > build/checkov.json || true
	$(BIN)/python scripts/checkov-summary.py build/checkov.json security/checkov.yaml

# --strict: a package pip-audit could not look up fails the audit instead of passing it.
# Audits the resolved dependency trees: the Lambda layer's and the development venv's.
security-deps: venv lambda-site $(TOOLS)/pip-audit/.installed
	$(TOOLS)/pip-audit/bin/pip-audit --strict --progress-spinner off --path $(LAMBDA_SITE)
	$(TOOLS)/pip-audit/bin/pip-audit --strict --progress-spinner off \
		--path $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

clean:
	rm -rf $(VENV) $(LAMBDA_SITE) $(TOOLS) $(BENCH) .aws-sam build .pytest_cache .mypy_cache .ruff_cache
