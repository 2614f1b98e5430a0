# Stockroom: two commands do everything on a fresh machine.
#   make run   install what is missing, build (release), migrate, serve on :3000 with the demo seller
#   make test  install what is missing, then fmt, clippy (server and wasm), Rust tests, Playwright,
#              the API contract suite and the chaos suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# cargo-leptos is for designers' live reload only (`make watch`): `make run` and the tests
# build the site with site-build, a crate of the workspace.
CARGO_LEPTOS_VERSION := 0.3.10
# cargo-leptos runs the wasm-bindgen CLI, which must equal the crate: Cargo.lock is the pin.
WASM_BINDGEN_VERSION = $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
CARGO_BIN := $(HOME)/.cargo/bin
TOOLS_BIN := $(CURDIR)/end2end/node_modules/.bin
export PATH := $(CARGO_BIN):$(TOOLS_BIN):$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# cargo-leptos sets this for its builds and Leptos bakes it in at compile time: setting it
# for every cargo command keeps one target/ valid for builds, tests and clippy alike.
export LEPTOS_OUTPUT_NAME := stockroom
# The recipes name target/ themselves (./target/release/stockroom): a CARGO_TARGET_DIR set
# in the caller's shell must not move the build elsewhere.
export CARGO_TARGET_DIR := $(CURDIR)/target

# The demo runs with SQLite in data/ (the seller's data: `make clean-data` removes it and
# nothing else). The database, the address, the demo and its server key are the recipes'
# own settings, not taken from the caller's environment: override them on the command
# line (`make run LEPTOS_SITE_ADDR=0.0.0.0:3000`). The server's other settings (README's
# table) are read from the environment, as documented.
DATABASE_URL := sqlite://data/stockroom.db?mode=rwc
LEPTOS_SITE_ADDR := 127.0.0.1:3000
DEMO := 1
DEMO_CONNECTIONS := 1

.PHONY: help setup tools browser e2e-deps run release release-server release-site release-small watch test fmt-check clippy rust-test e2e contract chaos postgres-tools bench bench-bundle clean-data

help:
	@echo "make run   - set up (first time ~15 min), build and serve http://$(LEPTOS_SITE_ADDR) with the demo seller"
	@echo "make test  - set up, then fmt, clippy, Rust tests (SQLite and PostgreSQL), Playwright, the API contract and the chaos suite"
	@echo "make watch - live reload for designers (installs cargo-leptos the first time, ~13 min)"
	@echo "make contract - the API contract suite alone (schemathesis against the release server)"
	@echo "make chaos - the chaos suite alone (faults of real infrastructure; PostgreSQL's initdb, root for a tmpfs)"

## Tools -------------------------------------------------------------------------------

# The toolchain (rust-toolchain.toml): no build tool is compiled, and `make run` needs no
# npm package. wasm-bindgen is a library of site-build, pinned by Cargo.lock.
tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy

# end2end's npm packages: Playwright, and binaryen 132's wasm-opt for SITE_FINISH=wasm-opt.
e2e-deps:
	@if [ ! -x end2end/node_modules/.bin/playwright ] || [ ! -x end2end/node_modules/.bin/wasm-opt ] \
		|| [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then \
		cd end2end && npm ci --no-audit --no-fund; \
	fi

browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

# The chaos suite starts PostgreSQL clusters of its own.
postgres-tools:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "Installing Debian's postgresql (initdb, pg_ctl)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi

setup: tools e2e-deps browser postgres-tools

## Run ---------------------------------------------------------------------------------

# Release: pages split into their own wasm modules (lazy routes), on the pinned stable
# compiler (rust-toolchain.toml) with no unstable options: what `make run` serves and
# Playwright tests.
#
# How site-build finishes each wasm module: `strip` (custom sections dropped, in
# milliseconds) or `wasm-opt` (npm's binaryen -Oz: smaller raw, minutes). BENCHMARKS.md
# has both, side by side.
SITE_FINISH := strip

# The server and the browser's wasm build side by side (two target folders, so neither
# waits for the other's lock; the wasm's long single-threaded link fills the second core).
# site-build itself is a small debug build, shared with the tests' dependencies.
release: tools $(if $(filter wasm-opt,$(SITE_FINISH)),e2e-deps)
	cargo build -p site-build
	@echo "Building the server (release) and the site (site-build) side by side"
	@$(MAKE) --no-print-directory -j2 release-server release-site

release-server:
	cargo build --release -p server --bin stockroom

release-site:
	./target/debug/site-build --finish $(SITE_FINISH)

# Opt-in: the same site with the browser's code built against a std compiled for
# `panic = immediate-abort` and without panic locations: about 30 KiB less per page,
# gzipped (BENCHMARKS.md, side by side with `release`), but a panic in the browser stops
# the module without a message. Those are unstable compiler options, enabled for this one
# build with RUSTC_BOOTSTRAP and the rust-src component. Target rustflags replace
# `build.rustflags`, so the erase_components cfg is repeated here.
WASM_SMALL_RUSTFLAGS := --cfg erase_components -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none
release-small: tools $(if $(filter wasm-opt,$(SITE_FINISH)),e2e-deps)
	@rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
	cargo build -p site-build
	cargo build --release -p server --bin stockroom
	RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='$(WASM_SMALL_RUSTFLAGS)' \
		./target/debug/site-build --finish $(SITE_FINISH) --cargo-arg=-Zbuild-std=std,panic_abort

# The server key that seals the demo's marketplace credentials: made once, kept in data/
# (not in git, readable by the owner only).
run: release
	@mkdir -p data
	@if [ ! -s data/secret-key ]; then \
		(umask 077 && ./target/release/stockroom secret-key > data/secret-key); \
		echo "Made a server key for marketplace credentials in data/secret-key"; \
	fi
	LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD STOCKROOM_DEMO=$(DEMO) \
		STOCKROOM_DEMO_CONNECTIONS=$(DEMO_CONNECTIONS) \
		STOCKROOM_SECRET_KEY="$$(cat data/secret-key)" \
		DATABASE_URL='$(DATABASE_URL)' LEPTOS_SITE_ADDR=$(LEPTOS_SITE_ADDR) \
		./target/release/stockroom serve

# Designers' live reload: cargo-leptos rebuilds on every change (debug, not split).
watch: tools
	@if ! cargo leptos --version 2>/dev/null | grep -q "$(CARGO_LEPTOS_VERSION)"; then \
		echo "Installing cargo-leptos $(CARGO_LEPTOS_VERSION) (compiles once, ~13 min on 2 cores)"; \
		cargo install cargo-leptos --locked --version $(CARGO_LEPTOS_VERSION) --features no_downloads; \
	fi
	@if ! wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)"; then \
		echo "Installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (~2 min)"; \
		cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force; \
	fi
	cargo leptos watch


## Test --------------------------------------------------------------------------------

test: setup fmt-check clippy rust-test e2e contract chaos

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy -p backend -p app -p server -p site-build --features app/ssr --all-targets -- -D warnings
	cargo clippy -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

# Both databases, always: the PostgreSQL at TEST_POSTGRES_URL, or a cluster of our own
# (scripts/with-postgres). One cargo invocation builds each crate once; each crate's
# integration tests are one binary (tests/it).
# The chaos suite's driver is this same build (same packages, same features: nothing
# compiles twice).
TEST_PACKAGES := -p task-model -p backend -p app -p server -p site-build --features app/ssr
rust-test:
	@if [ -z "$${TEST_POSTGRES_URL:-}" ]; then $(MAKE) --no-print-directory postgres-tools; fi
	scripts/with-postgres cargo test $(TEST_PACKAGES)

# Playwright tests what ships: the release build with its split wasm modules. It starts the
# server itself on a fresh SQLite file, with the demo's three connections as `make run` has.
e2e: release browser e2e-deps
	cd end2end && npx playwright test

# The API contract: schemathesis, generated from /api/v1/openapi.json, drives every
# operation of the release server (fresh database, demo seller) and must find nothing.
# Its pinned client goes into target/contract-venv the first time (contract/run.sh).
contract: release
	contract/run.sh

# The chaos suite: real processes put through faults (PostgreSQL restarted, the marketplace
# stopped, SIGKILLs, a full disk, a stalled event stream, fifty sellers on three servers).
# The servers are the release build (what operators run); the driver is the same test
# build as `rust-test`, whose plain `cargo test` skips these scenarios.
# `make chaos CHAOS_FILTER=disk_full` runs the scenarios whose names contain it.
CHAOS_FILTER ?=
chaos: release postgres-tools
	STOCKROOM_BIN=$(CURDIR)/target/release/stockroom \
		cargo test $(TEST_PACKAGES) --test it -- --ignored --test-threads=1 --nocapture $(CHAOS_FILTER)

bench:
	cargo run --release -p backend --example catalog_bench --features testing
	cargo run --release -p backend --example engine_bench --features testing
	cargo run --release -p backend --example bulk_day_bench --features testing
	cargo run --release -p backend --example import_bench --features testing
	@if [ -n "$${TEST_POSTGRES_URL:-}" ]; then \
		cd bench/peer && { [ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null; } && node pgboss.mjs; \
	else echo "SKIPPED: the pg-boss peer (set TEST_POSTGRES_URL to run it)"; fi
	cargo run --release -p server --example marketplace_bench
	cargo run --release -p server --example estimate_bench
	cargo run --release -p server --example events_bench
	cargo run --release -p server --example connectors_bench
	$(MAKE) --no-print-directory bench-bundle

# What each page downloads before it is interactive (release build, fresh cache). Run
# `make release-small` first and `make bench-bundle BUNDLE_BUILD=` to measure that build.
BUNDLE_PORT ?= 3200
BUNDLE_BUILD ?= release
bench-bundle: $(BUNDLE_BUILD) browser e2e-deps
	@rm -rf target/bundle && mkdir -p target/bundle
	@DATABASE_URL=sqlite://target/bundle/stockroom.db?mode=rwc ./target/release/stockroom migrate >/dev/null
	@set -m; LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD STOCKROOM_DEMO=1 RUST_LOG=warn \
		DATABASE_URL=sqlite://target/bundle/stockroom.db?mode=rwc LEPTOS_SITE_ADDR=127.0.0.1:$(BUNDLE_PORT) \
		./target/release/stockroom serve & server=$$!; \
	trap "kill $$server" EXIT; \
	for _ in $$(seq 100); do curl -sf http://127.0.0.1:$(BUNDLE_PORT)/healthz >/dev/null && break; sleep 0.2; done; \
	cd end2end && BASE_URL=http://127.0.0.1:$(BUNDLE_PORT) SITE_ROOT=../target/site node bundle-size.mjs

clean-data:
	rm -rf data
