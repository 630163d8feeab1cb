# ossm-conformance — every entry point a person or CI uses. `make help` lists them.
# Newcomers: `make demo` (the suite against the local lab, with reports) and `make test` (all tests).

SHELL := /bin/bash
PY ?= .venv/bin/python
PYTEST = $(PY) -m pytest
REPORTS = reports
# The history outlives --clean-alluredir: runs sharing this reports directory say what changed.
REPORT_OPTS = --alluredir $(REPORTS)/allure-results --clean-alluredir --junitxml $(REPORTS)/junit.xml --history $(REPORTS)/history.jsonl
LAB_DIR ?= .lab
LAB_KUBECONFIG = $(LAB_DIR)/kubeconfig
PROFILE ?= profiles/spoke-dc-v6.yaml
CONTEXT ?=
CONTEXT_OPT = $(if $(CONTEXT),--context $(CONTEXT),)
# The lab's counters tick every second: a short window is enough evidence there.
# `python -m lab.suite_runner` adds the lab's kubeconfig and mTLS sources (lab/suite_runner.py:
# the one command line the lab tests, bench and reliability also run).
LAB_SUITE_OPTS = --profile $(PROFILE) --mtls-window 5 --settle-timeout 10

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

test: install lab-deps lab-build report-deps ## all tests: unit, lab self-tests, the suite end to end against the lab
	$(PYTEST) tests/unit tests/lab -q

demo: install lab-deps lab-up ## the whole suite against the local twin of spoke-dc-v6, with reports
	@set +e; OSSM_LAB_DIR=$(LAB_DIR) $(PY) -m lab.suite_runner $(LAB_SUITE_OPTS) $(REPORT_OPTS); \
	echo $$? > $(REPORTS)/.exit
	@$(MAKE) --no-print-directory report || echo "(HTML report not rendered: see the message above)"
	@echo
	@echo "Exit status $$(cat $(REPORTS)/.exit) (see README: Exit codes). Reports:"
	@echo "  $(REPORTS)/html/index.html   (HTML, one self-contained file: open it from disk or serve it)"
	@echo "  $(REPORTS)/history.jsonl     (what changed since the last run: the terminal summary above)"
	@echo "  $(REPORTS)/junit.xml         (JUnit)"
	@echo "  $(REPORTS)/allure-results/   (Allure results)"
	@echo "The same against a real cluster:  make conformance KUBECONFIG=~/.kube/configs/spoke-dc-v6.kubeconfig [CONTEXT=...] [PROFILE=...]"
	@echo "Faults to try:  make lab-fault FAULT=list;  stop the lab:  make lab-down"
	@exit $$(cat $(REPORTS)/.exit)

# conformance and nightly run the same recipe; $@ names the target the user ran in the message.
# KUBECONFIG goes to the suite as the environment variable, not --kubeconfig: a list of files
# (KUBECONFIG=a:b) is then merged as kubectl merges it.
define SUITE_ON_CLUSTER
@test -n "$(KUBECONFIG)" || { echo "make $@: set KUBECONFIG=<file>"; exit 4; }
KUBECONFIG="$(KUBECONFIG)" $(PYTEST) tests_conformance $(CONTEXT_OPT) --profile $(PROFILE) $(REPORT_OPTS)
endef

conformance: install ## the suite against a real cluster: make conformance KUBECONFIG=... [CONTEXT=...] [PROFILE=...]
	$(SUITE_ON_CLUSTER)

nightly: install ## CI against a cluster: everything, all reports (serial: xdist is slower here, see README)
	$(SUITE_ON_CLUSTER)

preupgrade: install ## go/no-go before a patch bump: make preupgrade TARGET=v1.28.N [KUBECONFIG=...]
	@test -n "$(TARGET)" || { echo "make preupgrade: set TARGET=vX.Y.Z"; exit 4; }
	$(PYTEST) tests_conformance --target-version $(TARGET) --kubeconfig $(or $(KUBECONFIG),$(LAB_KUBECONFIG)) $(CONTEXT_OPT) --profile $(PROFILE) $(REPORT_OPTS)

# --- onboarding another cluster (issue 15) ---
# make profile KUBECONFIG=... [CONTEXT=...] OUT=profiles/<cluster>.yaml [FORCE=1] [PROMETHEUS_URL=...] [WINDOW=60]
# make profile-diff KUBECONFIG=... PROFILE=profiles/<cluster>.yaml   (exit 0: no difference, 1: differences)
WINDOW ?= 60
DRAFT = $(if $(KUBECONFIG),KUBECONFIG="$(KUBECONFIG)",) $(PY) -m ossm_conformance.draft $(CONTEXT_OPT) --window $(WINDOW) \
	$(if $(PROMETHEUS_URL),--prometheus-url $(PROMETHEUS_URL),)
.PHONY: profile profile-diff
profile: install ## draft a profile from the live cluster: make profile KUBECONFIG=... OUT=profiles/<cluster>.yaml [FORCE=1]
	@test -n "$(OUT)" || { echo "make profile: set OUT=profiles/<cluster>.yaml"; exit 4; }
	$(DRAFT) --output $(OUT) $(if $(FORCE),--force,)

profile-diff: install ## what differs between PROFILE and the live cluster: make profile-diff KUBECONFIG=... PROFILE=...
	$(DRAFT) --diff $(PROFILE)

# One self-contained reports/html/index.html (allurerc.mjs: singleFile), so it renders opened
# from disk (file://) or as a CI artifact; Allure reads the runs before this one from the history.
report: report-deps ## render reports/allure-results as one HTML file with Allure 3 (npm, no Java): reports/html/index.html
	@test -d $(REPORTS)/allure-results || { echo "make report: no $(REPORTS)/allure-results yet (run the suite first)"; exit 4; }
	$(PY) -m ossm_conformance.reporting.history_for_report $(REPORTS)/history.jsonl $(REPORTS)/allure-results $(REPORTS)/.history-before-run.jsonl
	OSSM_REPORT_HISTORY=$(REPORTS)/.history-before-run.jsonl npx allure generate $(REPORTS)/allure-results -o $(REPORTS)/html
	@# Allure 3.18's awesome report always loads Google Tag Manager (plugin-awesome dist/generators.js,
	@# analyticsEnable: true), which would send the page's address to a third party whenever someone
	@# opens a cluster's report online. The tag's one line goes; the report needs nothing from it.
	sed -i '/www\.googletagmanager\.com/d' $(REPORTS)/html/index.html

.PHONY: report-deps
report-deps: node_modules/.installed ## Allure 3 from npm (package.json) for make report
node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

clean: ## remove generated reports and caches (not the lab binaries)
	rm -rf $(REPORTS)/allure-results $(REPORTS)/html $(REPORTS)/junit.xml $(REPORTS)/gate.json $(REPORTS)/.history-before-run.jsonl .pytest_cache
	@echo "kept $(REPORTS)/history.jsonl (the runs' history): remove it by hand to start afresh"

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
# Debian packages the lab and its tests use: prometheus (scrapes the twin's ztunnels),
# prometheus-pushgateway (receives --metrics-push), chromium (the report test opens the HTML
# report from disk, headless). Each package's command has its name; installed only when missing.
LAB_DEBS = prometheus prometheus-pushgateway chromium
.PHONY: lab-deps
lab-deps: ## install what the lab and its tests need (Debian's prometheus, prometheus-pushgateway, chromium) when missing
	@missing="$$(for deb in $(LAB_DEBS); do command -v $$deb >/dev/null 2>&1 || echo $$deb; done)"; \
	test -z "$$missing" || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; }

# --- bench ---
# Issue 14: seed scaled twins in their own lab (.lab-bench, audit log on): the mesh-only twin of
# issue 7, and a realistic spoke (PODS OpenShift-sized pods, MESH_PODS of them in TENANTS ambient
# tenants) measured with 10 and with all tenants profiled, plus one run under the CronJob's memory
# limit; write docs/performance.md; non-zero when a target fails.
NODES ?= 300
TENANTS ?= 500
NAMESPACES ?= 2000
PODS ?= 20000
MESH_PODS ?= 2500
MEMORY_LIMIT_MB ?= 512
RUNS ?= 3
.PHONY: bench
bench: install lab-deps ## scale benchmark: make bench [NODES=300 TENANTS=500 NAMESPACES=2000 PODS=20000 MESH_PODS=2500 RUNS=3]
	$(PY) -m bench.run --nodes $(NODES) --tenants $(TENANTS) --namespaces $(NAMESPACES) --pods $(PODS) \
	  --mesh-pods $(MESH_PODS) --memory-limit-mb $(MEMORY_LIMIT_MB) --runs $(RUNS)

# Issue 15: time `make profile` on a scaled twin with its edges (its own lab, .lab-bench-draft).
.PHONY: bench-draft
bench-draft: install lab-deps ## time the profile draft at scale: make bench-draft [TENANTS=500 NAMESPACES=2000]
	$(PY) -m bench.draft_time --nodes 20 --tenants $(TENANTS) --namespaces $(NAMESPACES)

# --- reliability ---
# The suite under real API faults (APF 429s, etcd pause, apiserver restart, Toxiproxy latency,
# bandwidth, resets) on the healthy twin and three lab faults: 0 verdict changes required.
# Runs its own lab (RELIABILITY_LAB, started and stopped if not running) because it restarts
# kube-apiserver and freezes etcd; writes docs/reliability.md.
RELIABILITY_LAB ?= .lab-reliability
.PHONY: reliability
reliability: install lab-deps lab-build ## the suite under API faults; writes docs/reliability.md, fails on any verdict change
	OSSM_LAB_DIR=$(RELIABILITY_LAB) $(PY) -m reliability
