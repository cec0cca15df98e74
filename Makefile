# Sesame: `make run` starts the server on the local profile; `make test` runs every test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PY := /usr/bin/python3
ASAN_E2E := smtp_test.py delivery_test.py api_test.py dkim_test.py authz_test.py \
  feedback_loop_test.py alarms_test.py dashboard_test.py

.PHONY: all deps build run test unit e2e asan fuzz bench format clean

all: build

deps:
	@scripts/install-deps
	@if command -v npm >/dev/null && { [ ! -d tests/node/node_modules ] || \
	  [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; }; then \
	  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error) || \
	  echo "WARNING: npm ci failed; the JavaScript client tests will be skipped" >&2; fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	./$(BUILD)/sesame serve $(if $(CONFIG),--config $(CONFIG))

unit: build
	ctest --test-dir $(BUILD) --output-on-failure

e2e: build
	$(PY) -m unittest discover -s tests -p '*_test.py' -v

asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSESAME_SANITIZE=ON
	cmake --build $(ASAN_BUILD) --target base_test smtp_test mime_test spool_test config_test dns_test delivery_test auth_test store_test api_unit_test dkim_test feedback_test events_test stats_test dashboard_test sesame
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure
	# End-to-end suites again, against the sanitized binary.
	for t in $(ASAN_E2E); do \
	  SESAME_BINARY=$(ASAN_BUILD)/sesame ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
	    $(PY) -m unittest discover -s tests -p "$$t" || exit 1; done

fuzz: deps
	CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSESAME_ONLY_PROTOCOLS=ON -DSESAME_TESTS=OFF -DSESAME_FUZZ=ON
	cmake --build $(FUZZ_BUILD) --target smtp_fuzz
	mkdir -p $(FUZZ_BUILD)/corpus
	./$(FUZZ_BUILD)/smtp_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	  $(FUZZ_BUILD)/corpus fuzz/seeds

test: build unit e2e asan fuzz

bench: build
	bench/ingest.sh

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'fuzz/*.cc')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
