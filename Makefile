SHELL := /bin/bash
# Sesame: `make run` starts the server on the local profile; `make test` runs every test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PY := /usr/bin/python3
ASAN_E2E := smtp_test.py delivery_test.py api_test.py dkim_test.py authz_test.py \
  feedback_loop_test.py alarms_test.py dashboard_test.py receiving_test.py \
  iam_test.py

# ccache across clones of the repository (CI builds a fresh clone here):
# paths are hashed relative to the checkout.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps deps-runtime build deb run test unit e2e e2e-postgres asan tsan fuzz bench format clean

all: build

deps-runtime:
	@scripts/install-deps --runtime

deps:
	@scripts/install-deps
	@command -v npm >/dev/null || { echo "make: npm is missing (scripts/install-deps installs it)" >&2; exit 1; }
	@if [ ! -d tests/node/node_modules ] || \
	  [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; then \
	  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error) || \
	  { echo "make: npm ci failed: the JavaScript client and dashboard tests cannot run" >&2; exit 1; }; fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

# Running needs only the server: the runtime packages and the one binary
# (no npm, browsers, test peers or test binaries).
run: deps-runtime $(BUILD)/build.ninja
	cmake --build $(BUILD) --target sesame
	./$(BUILD)/sesame serve $(if $(CONFIG),--config $(CONFIG))

# The Debian package (dpkg-deb): build/sesame_<version>_<arch>.deb.
deb: deps-runtime $(BUILD)/build.ninja
	cmake --build $(BUILD) --target sesame
	scripts/make-deb

unit: build
	ctest --test-dir $(BUILD) --output-on-failure

e2e: build
	SESAME_REQUIRE_ALL=1 $(PY) -m unittest discover -s tests -p '*_test.py' -v

# The API, feedback-loop and dashboard suites again with every server on a
# fresh database of one throwaway PostgreSQL (store.backend postgres).
PG_E2E := api_test feedback_loop_test feedback_test dashboard_test
e2e-postgres: build
	cd tests && SESAME_TEST_STORE=postgres SESAME_REQUIRE_ALL=1 $(PY) -m unittest $(PG_E2E)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSESAME_SANITIZE=ON
	cmake --build $(ASAN_BUILD) --target base_test smtp_test mime_test spool_test config_test dns_test delivery_test auth_test store_test api_unit_test ses_unit_test metrics_test dkim_test feedback_test events_test stats_test dashboard_test httpc_test mailauth_test sesame
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure
	# End-to-end suites again, against the sanitized binary.
	for t in $(ASAN_E2E); do \
	  SESAME_BINARY=$(ASAN_BUILD)/sesame ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
	    $(PY) -m unittest discover -s tests -p "$$t" || exit 1; done

# Every parser of hostile input, each for FUZZ_SECONDS under ASan+UBSan, from
# its committed seeds (fuzz/seeds/<target>, minimised crashes included) and
# the labelled corpora in ../shared/corpora. A crash or sanitizer report
# fails the run (libFuzzer exits non-zero).
FUZZ_TARGETS := smtp mime feedback dns request template config mailauth
CORPORA := $(abspath ../shared/corpora)
fuzz_seeds_mime := $(CORPORA)/mime/stalwart
fuzz_seeds_feedback := $(CORPORA)/bounces/sisimai
fuzz_seeds_smtp := $(CORPORA)/smtp
fuzz: deps
	CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSESAME_ONLY_PROTOCOLS=ON -DSESAME_TESTS=OFF -DSESAME_FUZZ=ON
	cmake --build $(FUZZ_BUILD) --target $(addsuffix _fuzz,$(FUZZ_TARGETS))
	set -e; for t in $(FUZZ_TARGETS); do \
	  test -n "$$(ls fuzz/seeds/$$t)" || { echo "fuzz/seeds/$$t has no seeds" >&2; exit 1; }; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t; \
	  extra=""; case $$t in mime) extra="$(fuzz_seeds_mime)";; feedback) extra="$(fuzz_seeds_feedback)";; \
	    smtp) extra="$(fuzz_seeds_smtp)";; esac; \
	  [ -z "$$extra" ] || [ -d "$$extra" ] || extra=""; \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  ./$(FUZZ_BUILD)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
	    -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ \
	    $(FUZZ_BUILD)/corpus/$$t fuzz/seeds/$$t $$extra 2>&1 | tail -n 25; \
	  test $${PIPESTATUS[0]} -eq 0 || { echo "fuzz $$t failed: a finding is in $(FUZZ_BUILD)/crashes/$$t" >&2; exit 1; }; \
	done

# ThreadSanitizer: the unit tests, then the delivery (SMTP ingestion and
# delivery) and events suites against the instrumented binary. Reports go
# to $(TSAN_BUILD)/reports; any report fails the run (and is printed).
# tsan.supp lists the suppressions, each with its reason.
TSAN_E2E := delivery_test.py events_test.py
TSAN_REPORTS := $(CURDIR)/$(TSAN_BUILD)/reports
TSAN_ENV = TSAN_OPTIONS="log_path=$(TSAN_REPORTS)/$(1) second_deadlock_stack=1 suppressions=$(CURDIR)/tsan.supp"
tsan: deps
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSESAME_TSAN=ON
	cmake --build $(TSAN_BUILD)
	rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	$(call TSAN_ENV,unit) ctest --test-dir $(TSAN_BUILD) --output-on-failure
	for t in $(TSAN_E2E); do \
	  SESAME_BINARY=$(TSAN_BUILD)/sesame SESAME_OUTAGE_SECONDS=20 $(call TSAN_ENV,e2e) \
	    $(PY) -m unittest discover -s tests -p "$$t" || exit 1; done
	@if ls $(TSAN_REPORTS)/* >/dev/null 2>&1; then cat $(TSAN_REPORTS)/*; \
	  echo "ThreadSanitizer reported the races above" >&2; exit 1; fi
	@echo "ThreadSanitizer: no reports"

test: build unit e2e e2e-postgres asan tsan fuzz

bench: build
	bench/ingest.sh

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'fuzz/*.cc')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
