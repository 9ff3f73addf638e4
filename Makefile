# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
# Also: `make kerberos` (Kerberos from Linux), `make workflows` (the GitHub workflows' checks).
PYTHON ?= python3.11
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo demo-cli lint typecheck workflows pytest kerberos lock docs clean

$(STAMP): requirements-dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(ESSO_CLI)
	touch $(STAMP)

# The `esso` command (venv/bin/esso, pyproject.toml's console script) for this checkout: a two-line launcher of
# `python -m provider.operate` with the project on PYTHONPATH. Not `pip install -e .`: building it needs `wheel`,
# which the lock files do not pin, and nothing is downloaded outside them.
ESSO_CLI = printf '\043!/bin/sh\nPYTHONPATH="%s$${PYTHONPATH:+:$$PYTHONPATH}" exec "%s" -m provider.operate "$$@"\n' \
	"$(CURDIR)" "$(abspath $(PY))" > $(VENV)/bin/esso && chmod +x $(VENV)/bin/esso

# ---- make lock: every package pinned with its hashes, for pip install --require-hashes ---------------
# Edit requirements.txt or requirements-dev.txt, run `make lock`, commit the two .lock files.
# pip-compile keeps the versions already locked unless a requirement changed (make lock UPGRADE=--upgrade
# moves every transitive dependency to its newest allowed version).
PIP_TOOLS := pip-tools==7.6.2
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links --no-emit-trusted-host $(UPGRADE)
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check $(PIP_TOOLS)
	.lock-venv/bin/pip-compile $(LOCK_FLAGS) --output-file requirements.lock requirements.txt
	.lock-venv/bin/pip-compile $(LOCK_FLAGS) --output-file requirements-dev.lock requirements-dev.txt
	rm -rf .lock-venv

# ---- make docs: rewrite the generated parts (Pulumi.yaml's config block, docs/ tables) after a change
docs: $(STAMP)
	$(PY) -m provider.config project-file --write
	$(PY) -m tests.support.doc_tables

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy provider components __main__.py tests bench
	$(VENV)/bin/mypy examples/biztalk-consumer

# The GitHub workflows: GitHub's workflow schema (vendored in check-jsonschema, no network) and
# zizmor's audits in offline mode; any finding fails. tests/ecosystem/test_workflows.py runs the same.
workflows: $(STAMP)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --persona pedantic --no-progress .github/workflows

pytest: $(STAMP)
	$(PY) -m pytest

test: lint typecheck workflows pytest

# Remote calls, role moves and wall time at 2, 4 and 8 nodes (issue 15); counts are asserted in tests/perf.
.PHONY: bench
bench: $(STAMP)
	$(PY) -m bench.bench

# ---- make kerberos: auth kerberos / secondHop kerberos-delegation from Linux ---------------------
# gssapi builds against MIT Kerberos' development files; then describe your realm in /etc/krb5.conf
# and get a ticket with kinit (docs/kerberos.md). Debian/Ubuntu here; on RHEL install
# krb5-devel krb5-workstation gcc python3-devel instead of the apt-get line.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
kerberos: $(STAMP)
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends libkrb5-dev krb5-user gcc python3-dev
	$(PY) -m pip install --disable-pip-version-check -r requirements-kerberos.txt
	$(PY) -c "import gssapi, krb5; print('Kerberos support loads (gssapi, krb5): now configure /etc/krb5.conf, see docs/winrm.md')"

# ---- make demo: the demo stack (simulator target, local state, local escrow) --------------------
# The Pulumi CLI is the release archive of the pinned version, checked against the checksums file
# published with that release, then unpacked into .pulumi/cli (never `curl | sh`). Offline, put the
# two files in .pulumi/downloads/ yourself: the demo verifies and unpacks them the same way.
# The demo's secrets go into a working copy of stacks/Pulumi.demo.yaml, stacks/Pulumi.demo-local.yaml
# (git-ignored), never into the tracked file; its state lives in .pulumi/state, its world in .state/.
PULUMI_VERSION := 3.272.0
PULUMI_RELEASES ?= https://github.com/pulumi/pulumi/releases/download
PULUMI_OS := $(shell uname -s | tr A-Z a-z)
PULUMI_ARCH := $(shell uname -m | sed -e 's/^x86_64$$/x64/' -e 's/^amd64$$/x64/' -e 's/^aarch64$$/arm64/')
PULUMI_ARCHIVE := pulumi-v$(PULUMI_VERSION)-$(PULUMI_OS)-$(PULUMI_ARCH).tar.gz
PULUMI_CHECKSUMS := pulumi-$(PULUMI_VERSION)-checksums.txt
DEMO_DIR ?= $(CURDIR)/.pulumi
DEMO_DL := $(DEMO_DIR)/downloads
DEMO_CLI := $(DEMO_DIR)/cli/$(PULUMI_VERSION)/pulumi
DEMO_STACK := demo-local
DEMO_STACK_FILE := stacks/Pulumi.$(DEMO_STACK).yaml
DEMO_WORLD := .state/demo-world.json
DEMO_ENV := PULUMI_HOME=$(DEMO_DIR)/home PULUMI_BACKEND_URL=file://$(DEMO_DIR)/state \
	PULUMI_CONFIG_PASSPHRASE=demo-only-passphrase PULUMI_SKIP_UPDATE_CHECK=true \
	PATH=$(DEMO_CLI):$(CURDIR)/$(VENV)/bin:$$PATH
PULUMI := env $(DEMO_ENV) $(DEMO_CLI)/pulumi --non-interactive

$(VENV)/.runtime: requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock || { \
		echo ""; \
		echo "Could not install the Python packages of requirements.lock (offline, or no access to PyPI?)."; \
		echo "Point pip at a mirror (pip config set global.index-url <your mirror>) and run 'make demo' again."; \
		exit 1; }
	$(ESSO_CLI)
	touch $@

demo-cli: $(DEMO_CLI)/pulumi

$(DEMO_CLI)/pulumi:
	@mkdir -p $(DEMO_DL)
	@cd $(DEMO_DL) && for f in $(PULUMI_ARCHIVE) $(PULUMI_CHECKSUMS); do \
		[ -s "$$f" ] && continue; \
		echo "downloading $(PULUMI_RELEASES)/v$(PULUMI_VERSION)/$$f"; \
		curl -fsSL --proto '=https' --tlsv1.2 --retry 2 --connect-timeout 15 -o "$$f.part" \
			"$(PULUMI_RELEASES)/v$(PULUMI_VERSION)/$$f" && mv "$$f.part" "$$f" && continue; \
		rm -f "$$f.part"; \
		echo ""; \
		echo "Could not download the Pulumi CLI $(PULUMI_VERSION) (offline, or a proxy in the way?)."; \
		echo "To run the demo without internet access, on a machine that has it download"; \
		echo "  $(PULUMI_RELEASES)/v$(PULUMI_VERSION)/$(PULUMI_ARCHIVE)"; \
		echo "  $(PULUMI_RELEASES)/v$(PULUMI_VERSION)/$(PULUMI_CHECKSUMS)"; \
		echo "copy both files into $(DEMO_DL)/ and run 'make demo' again:"; \
		echo "it checks the archive against the published checksums and unpacks it into $(DEMO_DIR)/cli."; \
		exit 1; \
	done
	@cd $(DEMO_DL) && grep -E "^[0-9a-f]{64}  $(PULUMI_ARCHIVE)$$" $(PULUMI_CHECKSUMS) > $(PULUMI_ARCHIVE).sha256 || { \
		echo "$(PULUMI_CHECKSUMS) lists no SHA-256 for $(PULUMI_ARCHIVE): delete both files in $(DEMO_DL) and run 'make demo' again."; \
		exit 1; }
	@cd $(DEMO_DL) && { sha256sum -c $(PULUMI_ARCHIVE).sha256 2>/dev/null || shasum -a 256 -c $(PULUMI_ARCHIVE).sha256; } || { \
		echo "$(PULUMI_ARCHIVE) does not match its published SHA-256: it was not unpacked. Delete it and run 'make demo' again."; \
		rm -f $(PULUMI_ARCHIVE); exit 1; }
	@rm -rf $(DEMO_CLI).tmp && mkdir -p $(DEMO_CLI).tmp
	tar -xzf $(DEMO_DL)/$(PULUMI_ARCHIVE) -C $(DEMO_CLI).tmp
	@rm -rf $(DEMO_CLI) && mv $(DEMO_CLI).tmp/pulumi $(DEMO_CLI) && rm -rf $(DEMO_CLI).tmp
	@$(DEMO_CLI)/pulumi version

demo: demo-cli $(VENV)/.runtime
	@mkdir -p $(DEMO_DIR)/state $(DEMO_DIR)/home
	@{ grep -E '^encryptionsalt:' $(DEMO_STACK_FILE) 2>/dev/null || true; \
		echo "# Working copy of stacks/Pulumi.demo.yaml made by 'make demo' (git-ignored): it holds the demo's"; \
		echo "# encrypted secrets. Edit stacks/Pulumi.demo.yaml instead; this file is rewritten on every run."; \
		cat stacks/Pulumi.demo.yaml; } > $(DEMO_STACK_FILE).new && mv $(DEMO_STACK_FILE).new $(DEMO_STACK_FILE)
	$(PULUMI) stack select $(DEMO_STACK) --create
	@printf '%s' 'Demo-Svc-Pass-1!' | $(PULUMI) config set --secret serviceAccountPassword -s $(DEMO_STACK)
	@printf '%s' 'Demo-Backup-Pass-1!' | $(PULUMI) config set --secret backupPassword -s $(DEMO_STACK)
	$(PULUMI) up --yes --skip-preview -s $(DEMO_STACK)
	@echo ""
	@echo "Stack outputs (what a BizTalk deployment reads; see examples/biztalk-consumer):"
	@$(PULUMI) stack output -s $(DEMO_STACK)
	@echo ""
	@$(PY) -m provider.remote.simulator show --summary --state $(DEMO_WORLD)
	@echo ""
	@echo "'make demo' can be re-run. To see a failed run and its recovery (README, 'Two commands'):"
	@echo "  rm -rf .pulumi/state .state $(DEMO_STACK_FILE)"
	@echo "  $(PY) -m provider.remote.simulator init"
	@echo "  $(PY) -m provider.remote.simulator fault --node SSO02 --script Join-SsoSystem --kind drop_after"
	@echo "  make demo; make demo"

clean:
	rm -rf $(VENV) .pulumi .state

# ---- make orders: every order in which the engine may delete the SSO system's dependents (2 nodes: 720) -----
.PHONY: orders
orders: $(STAMP)
	ESSO_ORDERS=all $(PY) -m pytest -q -p no:randomly --timeout=3600 tests/engine/test_delete_orders.py -k 2-nodes

# ---- make faults: the fault matrix of issue 14 (every call of a first up, a network name change, a password
# rotation, an added and a replaced node, destroy; 2 and 3 nodes; every fault kind, interrupts at every phase).
# Prints cells, converged in one re-run, differing from a clean build, files left, backups lost, errors without
# an ESSO id; exits non-zero when a target is missed. tests/faults/test_fault_sample.py runs a sample in `make test`.
# Then a master secret rotation under the engine harness with a fault at every recorded step, at 3 nodes too
# (ESSO_FAULTS=all; `make test` runs every step at 2 nodes): tests/engine/test_rotation.py.
.PHONY: faults
faults: $(STAMP)
	$(PY) -m tests.faults.matrix --nodes 2,3 --jobs 2
	ESSO_FAULTS=all $(PY) -m pytest -q -p no:randomly tests/engine/test_rotation.py
