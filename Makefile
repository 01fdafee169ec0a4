# Developer entry points; `make help` lists them.
# Storage, database and broker come from scripts/stack.sh (two instances: `run` and `test`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK := scripts/stack.sh

# Shared by the storage stack and the service (whose development mode, UC_DEV_MODE, has the
# same values built in), so both always agree on them.
export UC_S3_ACCESS_KEY ?= uc-dev-access
export UC_S3_SECRET_KEY ?= uc-dev-secret
export UC_S3_BUCKET ?= videos
export UC_EVENTS_WEBHOOK_TOKEN ?= dev-webhook-token-for-the-local-stack-only

# The integration tests talk to the `test` instance, which runs beside the `run` one;
# they create their own databases, hence the `postgres` maintenance database here.
TEST_ENV := \
	UC_TEST_S3_ENDPOINT=http://127.0.0.1:8433 \
	UC_TEST_S3_ACCESS_KEY=$(UC_S3_ACCESS_KEY) \
	UC_TEST_S3_SECRET_KEY=$(UC_S3_SECRET_KEY) \
	UC_TEST_S3_BUCKET=$(UC_S3_BUCKET) \
	UC_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres \
	UC_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \
	UC_TEST_WEBHOOK_LISTEN=127.0.0.1:18080

.PHONY: help run test stack test-stack stop status deps require-cargo bench bench-peer k6-smoke

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-11s %s\n", $$1, $$2 }'

run: require-cargo stack web ## Start the local stack, then the service on 127.0.0.1:8080
	UC_DEV_MODE=true UC_DEMO_PAGE=true cargo run --release -- serve

test: require-cargo test-stack web sdk ## Start the test stack, then run every test
	$(TEST_ENV) cargo test --all-targets

bench: require-cargo ## Release build + run stack + k6 scenarios -> bench/REPORT.md (~10 min)
	scripts/bench.sh

bench-peer: require-cargo ## Ours vs @uppy/companion 6.2.2, same k6 script -> bench/PEER.md, REPORT.md (~3 min)
	scripts/bench-peer.sh

k6-smoke: require-cargo test-stack ## The k6 smoke (k6/smoke.js) against a fresh service, as `make test` runs it
	$(TEST_ENV) cargo test --test k6_smoke -- --nocapture

stack: ## Bring up the `run` stack (SeaweedFS on :8333, PostgreSQL, RabbitMQ)
	STACK_NAME=run $(STACK) up

test-stack: ## Bring up the `test` stack (SeaweedFS on :8433, PostgreSQL, RabbitMQ)
	STACK_NAME=test $(STACK) up

stop: ## Stop both SeaweedFS instances (PostgreSQL and RabbitMQ keep running)
	STACK_NAME=run $(STACK) down
	STACK_NAME=test $(STACK) down

status: ## Show what runs in both stacks
	-@STACK_NAME=run $(STACK) status
	-@STACK_NAME=test $(STACK) status

deps: ## Install what is missing: system packages, SeaweedFS, k6, Celery, Chromium, Node.js
	scripts/install-deps.sh

# The demo page (served at / by `run`, driven by the browser test): rebuilt when its sources change.
WEB_SOURCES := web/package.json $(wildcard web/package-lock.json) web/index.html web/embed.html web/vite.config.js $(wildcard web/src/*)

.PHONY: web
web: web/dist/index.html ## Build the demo page into web/dist (npm packages, then Vite)

web/dist/index.html: $(WEB_SOURCES)
	@command -v npm >/dev/null 2>&1 || { \
		echo "error: npm not found. Run make deps (installs Node.js and npm), then make again." >&2; exit 1; }
	cd web && if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	cd web && npm run build

# Client SDKs from openapi/openapi.json into sdk/ (git-ignored), with the generators pinned in
# sdk-tools/; tests/sdk.rs drives an upload through each. Regenerated every time (a few seconds).
.PHONY: sdk
sdk: ## Generate the TypeScript and Python SDKs into sdk/ from openapi/openapi.json
	scripts/sdk.sh

# Toolchains are not downloaded by the build: say what is missing instead.
require-cargo:
	@command -v cargo >/dev/null 2>&1 || { \
		echo "error: cargo not found. Install Rust with rustup, then run make again." >&2; exit 1; }
