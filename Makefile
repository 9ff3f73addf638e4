# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3.11
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck pytest clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy provider components __main__.py tests

pytest: $(STAMP)
	$(PY) -m pytest

test: lint typecheck pytest

# Remote calls, role moves and wall time at 2, 4 and 8 nodes (issue 15); counts are asserted in tests/perf.
.PHONY: bench
bench: $(STAMP)
	$(PY) -m bench.bench

# ---- make demo: the demo stack (simulator target, local state, local escrow) --------------------------
PULUMI_VERSION := 3.272.0
DEMO_DIR := $(CURDIR)/.pulumi
DEMO_ENV := PULUMI_HOME=$(DEMO_DIR)/home PULUMI_BACKEND_URL=file://$(DEMO_DIR)/state \
	PULUMI_CONFIG_PASSPHRASE=demo-only-passphrase PULUMI_SKIP_UPDATE_CHECK=true \
	PATH=$(DEMO_DIR)/cli/bin:$(CURDIR)/$(VENV)/bin:$$PATH

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

demo: $(VENV)/.runtime
	@mkdir -p $(DEMO_DIR)/state $(DEMO_DIR)/home
	@if ! env $(DEMO_ENV) sh -c 'command -v pulumi' >/dev/null 2>&1; then \
		echo "Pulumi CLI not found: installing $(PULUMI_VERSION) into $(DEMO_DIR)/cli"; \
		curl -fsSL https://get.pulumi.com | sh -s -- --version $(PULUMI_VERSION) \
			--install-root $(DEMO_DIR)/cli --no-edit-path || { \
			echo ""; \
			echo "Could not download the Pulumi CLI (offline?). Install Pulumi $(PULUMI_VERSION) yourself:"; \
			echo "  https://www.pulumi.com/docs/install/  (or: brew install pulumi / choco install pulumi)"; \
			echo "then put 'pulumi' on PATH, or unpack it so that $(DEMO_DIR)/cli/bin/pulumi exists,"; \
			echo "and run 'make demo' again."; \
			exit 1; }; \
	fi
	env $(DEMO_ENV) pulumi stack select demo --create --non-interactive
	env $(DEMO_ENV) pulumi config set --secret serviceAccountPassword 'Demo-Svc-Pass-1!' -s demo
	env $(DEMO_ENV) pulumi config set --secret backupPassword 'Demo-Backup-Pass-1!' -s demo
	env $(DEMO_ENV) pulumi up --yes -s demo
	env $(DEMO_ENV) pulumi stack output -s demo
	@echo ""
	@echo "The simulated world: $(PY) -m provider.remote.simulator show --state .state/demo-world.json"

clean:
	rm -rf $(VENV) .pulumi .state
