# A thin layer over CMake; see README.md. Everything real is in CMakeLists.txt.
#   make run     install what is missing, build, start a node (ARGS=... passes
#                options to `knit daemon`)
#   make test    install what the tests need, build the normal and the
#                ASan+UBSan configurations, run every test in both
#   make fuzz    build the libFuzzer targets (in build-asan/tests/)

BUILD      ?= build
ASAN_BUILD ?= build-asan
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=

.PHONY: all build run test test-normal test-asan fuzz deps test-deps clean

all: build

deps:
	@sh scripts/deps.sh build

test-deps:
	@sh scripts/deps.sh test

build: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(GENERATOR)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/knit daemon $(ARGS)

# The normal build: gcc, warnings as errors.
test-normal: test-deps
	cmake -S . -B $(BUILD) $(GENERATOR) -DKNIT_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The sanitizer build: clang with ASan+UBSan, fuzz targets on libFuzzer.
test-asan: test-deps
	CC=clang cmake -S . -B $(ASAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
	    -DKNIT_SANITIZE=ON -DKNIT_LIBFUZZER=ON -DKNIT_WERROR=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS)

test: test-normal test-asan

fuzz: test-deps
	CC=clang cmake -S . -B $(ASAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
	    -DKNIT_SANITIZE=ON -DKNIT_LIBFUZZER=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	@echo "fuzz targets: $$(ls $(ASAN_BUILD)/tests/fuzz_* | tr '\n' ' ')"
	@echo "run one: $(ASAN_BUILD)/tests/fuzz_msg -max_total_time=600 /tmp/corpus tests/fuzz/corpus/fuzz_msg"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
