# Makefile - thin wrapper over CMake, ctest and pytest. Variables can be
# overridden on the command line, e.g. `make test PYTEST_ARGS=-x JOBS=4`.

BUILD_DIR   ?= build
ASAN_DIR    ?= build-asan
BUILD_TYPE  ?= RelWithDebInfo
SANITIZE    ?= address,undefined
JOBS        ?= 2
CMAKE       ?= cmake
CMAKE_ARGS  ?=
PYTHON      ?= /usr/bin/python3
PYTEST_ARGS ?=
PORT        ?= 4221
RUN_ARGS    ?=
DEMO_DIR    ?= demo-files
CLANG_FORMAT ?= clang-format
DEPS        ?= scripts/deps.sh
QUICK       ?=
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
FUZZ_ARGS    ?=
PREFIX       ?= /usr/local
DESTDIR      ?=
INSTALL_DIR  ?= build-install

# The suite once more on the uring engine with two rings per server
# (connection handoff between workers, per-worker access logs).
URING_2W = RINGHTTPD_ENGINES=uring RINGHTTPD_URING_WORKERS=2

SOURCES = $(shell find src tests fuzz bench -name '*.[ch]' 2>/dev/null)

ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all build run test test-release test-asan test-load deps clean format format-check bench fuzz \
	install uninstall

# bash: `make run` probes the port with /dev/tcp.
SHELL := /bin/bash

# One step at a time even under `make -j`: the build steps parallelise inside.
.NOTPARALLEL:

all: build

deps:
	@bash $(DEPS)

build: deps
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)

# Builds the server alone (not the tests) and serves demo-files/ on PORT.
run: deps
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS) --target ringhttpd
	@mkdir -p $(DEMO_DIR)
	@[ -e $(DEMO_DIR)/hello.txt ] || echo 'Hello from ringhttpd!' > $(DEMO_DIR)/hello.txt
	@if (exec 3<>/dev/tcp/127.0.0.1/$(PORT)) 2>/dev/null; then \
		echo "make run: port $(PORT) is busy; try: make run PORT=8080" >&2; exit 1; fi
	@echo "try: curl http://localhost:$(PORT)/files/hello.txt"
	exec $(BUILD_DIR)/ringhttpd --directory $(DEMO_DIR) --port $(PORT) $(RUN_ARGS)

# The server (sbin), ringhttpd(8) and the systemd units under
# $(DESTDIR)$(PREFIX), from a Release build in $(INSTALL_DIR); uninstall
# removes what the last install wrote (its install_manifest.txt, under the
# same DESTDIR).
install: deps
	$(CMAKE) -S . -B $(INSTALL_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
		$(CMAKE_ARGS)
	$(CMAKE) --build $(INSTALL_DIR) -j$(JOBS) --target ringhttpd
	DESTDIR=$(DESTDIR) $(CMAKE) --install $(INSTALL_DIR)

uninstall:
	@[ -f $(INSTALL_DIR)/install_manifest.txt ] || \
		{ echo "make uninstall: nothing installed from $(INSTALL_DIR)" >&2; exit 1; }
	@while IFS= read -r f || [ -n "$$f" ]; do rm -fv -- "$(DESTDIR)$$f"; done < $(INSTALL_DIR)/install_manifest.txt
	@rm -f $(INSTALL_DIR)/install_manifest.txt

test: test-release test-asan

# Release-like build with -Werror: unit tests, then the integration suite
# (both engines), then the suite again on uring with --workers 2.
test-release: deps
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRINGHTTPD_WERROR=ON $(CMAKE_ARGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)
	RINGHTTPD_BIN=$(CURDIR)/$(BUILD_DIR)/ringhttpd $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)
	RINGHTTPD_BIN=$(CURDIR)/$(BUILD_DIR)/ringhttpd $(URING_2W) $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

# The same tests on an ASan+UBSan build: any leak or undefined behaviour fails.
test-asan: deps
	$(CMAKE) -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DRINGHTTPD_WERROR=ON \
		-DRINGHTTPD_SANITIZE=$(SANITIZE) $(CMAKE_ARGS)
	$(CMAKE) --build $(ASAN_DIR) -j$(JOBS)
	$(ASAN_ENV) ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS)
	$(ASAN_ENV) RINGHTTPD_BIN=$(CURDIR)/$(ASAN_DIR)/ringhttpd \
		$(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)
	$(ASAN_ENV) RINGHTTPD_BIN=$(CURDIR)/$(ASAN_DIR)/ringhttpd $(URING_2W) \
		$(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

# The load cases (tests/integration/test_load.py: 19,000 idle connections,
# 4,200 stalled downloads, 9,000 partial heads) on the release build, both
# engines; a few minutes, so not part of `make test`. .ci/run calls it.
test-load: deps
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRINGHTTPD_WERROR=ON $(CMAKE_ARGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)
	RINGHTTPD_LOAD=1 RINGHTTPD_BIN=$(CURDIR)/$(BUILD_DIR)/ringhttpd $(PYTHON) -m pytest -q -m load \
		tests/integration $(PYTEST_ARGS)

# Benchmarks against the threads engine, nginx, lighttpd and h2o (see BENCHMARKS.md).
# QUICK=1: one short run per workload, under 2 minutes.
bench:
	QUICK=$(QUICK) PYTHON=$(PYTHON) bash bench/run.sh

# libFuzzer targets (clang, build-fuzz/), each for FUZZ_SECONDS; FUZZ_TARGETS picks
# some, FUZZ_ARGS adds libFuzzer flags (CI: -seed=1).
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_ARGS="$(FUZZ_ARGS)" JOBS=$(JOBS) bash scripts/fuzz.sh $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(INSTALL_DIR) $(DEMO_DIR)

format:
	@bash $(DEPS) format
	$(CLANG_FORMAT) -i $(SOURCES)

format-check:
	@bash $(DEPS) format
	$(CLANG_FORMAT) --dry-run -Werror $(SOURCES)
	$(PYTHON) scripts/check_sizes.py src
