# ossm-conformance — every entry point a person or CI uses. `make help` lists them.
# Newcomers: `make demo` (the suite against the local lab, with reports) and `make test` (all tests).

SHELL := /bin/bash
PY ?= .venv/bin/python
PYTEST = $(PY) -m pytest
REPORTS = reports
REPORT_OPTS = --alluredir $(REPORTS)/allure-results --clean-alluredir --junitxml $(REPORTS)/junit.xml
LAB_DIR ?= .lab
LAB_KUBECONFIG = $(LAB_DIR)/kubeconfig
PROFILE ?= profiles/spoke-dc-v6.yaml
CONTEXT ?=
CONTEXT_OPT = $(if $(CONTEXT),--context $(CONTEXT),)
# The lab's counters tick every second: a short window is enough evidence there.
LAB_SUITE_OPTS = --kubeconfig $(LAB_KUBECONFIG) --profile $(PROFILE) --mtls-window 5 --settle-timeout 10

.PHONY: help install test unit demo conformance nightly preupgrade report clean
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

install: .venv/.installed ## create the Python environment (.venv) in one step
.venv/.installed: pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e '.[lab]'
	touch $@

unit: install ## unit tests only (no lab needed)
	$(PYTEST) tests/unit -q

test: install lab-deps lab-build ## all tests: unit, lab self-tests, the suite end to end against the lab
	$(PYTEST) tests/unit tests/lab -q

demo: install lab-deps lab-up ## the whole suite against the local twin of spoke-dc-v6, with reports
	@. $(LAB_DIR)/env; set +e; \
	$(PYTEST) tests_conformance $(LAB_SUITE_OPTS) --mtls-source both --prometheus-url "$$LAB_PROMETHEUS_URL" $(REPORT_OPTS); \
	echo $$? > $(REPORTS)/.exit
	@$(MAKE) --no-print-directory report || echo "(HTML report not rendered: see the message above)"
	@echo
	@echo "Exit status $$(cat $(REPORTS)/.exit) (see README: Exit codes). Reports:"
	@echo "  $(REPORTS)/html/index.html   (HTML: open in a browser)"
	@echo "  $(REPORTS)/junit.xml         (JUnit)"
	@echo "  $(REPORTS)/allure-results/   (Allure results)"
	@echo "The same against a real cluster:  make conformance KUBECONFIG=~/.kube/configs/spoke-dc-v6.kubeconfig [CONTEXT=...] [PROFILE=...]"
	@echo "Faults to try:  make lab-fault FAULT=list;  stop the lab:  make lab-down"
	@exit $$(cat $(REPORTS)/.exit)

# conformance and nightly run the same recipe; $@ names the target the user ran in the message.
define SUITE_ON_CLUSTER
@test -n "$(KUBECONFIG)" || { echo "make $@: set KUBECONFIG=<file>"; exit 4; }
$(PYTEST) tests_conformance --kubeconfig $(KUBECONFIG) $(CONTEXT_OPT) --profile $(PROFILE) $(REPORT_OPTS)
endef

conformance: install ## the suite against a real cluster: make conformance KUBECONFIG=... [CONTEXT=...] [PROFILE=...]
	$(SUITE_ON_CLUSTER)

nightly: install ## CI against a cluster: everything, all reports (serial: xdist is slower here, see README)
	$(SUITE_ON_CLUSTER)

preupgrade: install ## go/no-go before a patch bump: make preupgrade TARGET=v1.28.N [KUBECONFIG=...]
	@test -n "$(TARGET)" || { echo "make preupgrade: set TARGET=vX.Y.Z"; exit 4; }
	$(PYTEST) tests_conformance --target-version $(TARGET) --kubeconfig $(or $(KUBECONFIG),$(LAB_KUBECONFIG)) $(CONTEXT_OPT) --profile $(PROFILE) $(REPORT_OPTS)

report: ## render reports/allure-results as HTML with Allure 3 (npm, no Java) into reports/html
	@test -d $(REPORTS)/allure-results || { echo "make report: no $(REPORTS)/allure-results yet (run the suite first)"; exit 4; }
	npm install --no-audit --no-fund --silent
	npx allure generate $(REPORTS)/allure-results -o $(REPORTS)/html

clean: ## remove generated reports and caches (not the lab binaries)
	rm -rf $(REPORTS)/allure-results $(REPORTS)/html $(REPORTS)/junit.xml $(REPORTS)/gate.json .pytest_cache

# --- lab (control plane) ---
# The local twin of spoke-dc-v6 (lab/): real kube-apiserver + etcd, seeded from lab/twin.
# LAB_DIR selects the lab's state directory, so several labs can run side by side.
LAB = OSSM_LAB_DIR=$(LAB_DIR) $(PY) -m lab
.PHONY: lab-build lab-up lab-down lab-fault
lab-build: ## build kube-apiserver and etcd into .lab/bin (a no-op unless lab/go changed)
	$(PY) -m lab build

lab-up: install ## start the lab and seed the twin (builds first if needed); says so if one runs
	$(LAB) up

lab-down: ## stop the lab's processes (by pid) and remove its state (keeps .lab/bin)
	$(LAB) down

lab-fault: ## make lab-fault FAULT=<name>|list|reset
	@test -n "$(FAULT)" || { echo "make lab-fault: set FAULT=<name>, FAULT=list or FAULT=reset"; exit 4; }
	$(LAB) fault $(FAULT)

# --- lab (services) ---
# The lab's ztunnel endpoints, node agent and Prometheus (lab/services.py) need Debian's prometheus.
.PHONY: lab-deps
lab-deps: ## install what the lab's services need (Debian's prometheus) when it is missing
	@command -v prometheus >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

# --- bench ---
# Issue 7: seed a scaled twin in its own lab (.lab-bench, audit log on), measure the suite against
# the floor at 10 tenants and at TENANTS, write docs/performance.md; non-zero when a target fails.
NODES ?= 300
TENANTS ?= 500
NAMESPACES ?= 2000
RUNS ?= 3
.PHONY: bench
bench: install lab-deps ## scale benchmark: make bench [NODES=300 TENANTS=500 NAMESPACES=2000 RUNS=3]
	$(PY) -m bench.run --nodes $(NODES) --tenants $(TENANTS) --namespaces $(NAMESPACES) --runs $(RUNS)

# --- reliability ---
# The suite under real API faults (APF 429s, etcd pause, apiserver restart, Toxiproxy latency,
# bandwidth, resets) on the healthy twin and three lab faults: 0 verdict changes required.
# Runs its own lab (RELIABILITY_LAB, started and stopped if not running) because it restarts
# kube-apiserver and freezes etcd; writes docs/reliability.md.
RELIABILITY_LAB ?= .lab-reliability
.PHONY: reliability
reliability: install lab-deps lab-build ## the suite under API faults; writes docs/reliability.md, fails on any verdict change
	OSSM_LAB_DIR=$(RELIABILITY_LAB) $(PY) -m reliability
