# The README's two commands. Both install what is missing (apt-get, with sudo
# when not root, only the packages not yet installed), configure and build;
# then run the benchmark or the tests.
#
#   make bench   build, then ./build/srambench run bench.toml
#   make test    build, then every test suite (meson test)
#   make build   install build dependencies, configure, build
#   make venv    the pinned Python reference runtime of the tflite tests
#   make clean   remove the build folder
BUILD ?= build
BENCH ?= bench.toml
NINJAFLAGS ?=
DEPS_BUILD = meson ninja-build pkg-config gcc libuv1-dev libcjson-dev libjpeg-dev libzip-dev gnuplot-nox
DEPS_TEST  = libcmocka-dev python3 python3-venv python3-numpy python3-torch python3-torchvision python3-pil clang valgrind

.PHONY: bench test build deps deps-test clean check-sanitize fuzz venv

bench: build
	./$(BUILD)/srambench run $(BENCH)

test: deps-test build venv
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# meson setup once; afterwards ninja re-runs meson itself when a meson.build
# changes. A folder left half-configured (no build.ninja) is set up again.
build: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then meson setup --reconfigure $(BUILD) >/dev/null 2>&1 || meson setup $(BUILD); fi
	ninja -C $(BUILD) $(NINJAFLAGS)

# LiteRT, the tflite tests' reference (tests/tflite/requirements.txt), in
# $(BUILD)/venv; Debian's numpy stays visible to the other tests.
VENV = $(BUILD)/venv
venv: $(VENV)/.installed
$(VENV)/.installed: tests/tflite/requirements.txt
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install --quiet -r tests/tflite/requirements.txt
	touch $@

deps:
	@./tools/install-deps.sh $(DEPS_BUILD)

deps-test:
	@./tools/install-deps.sh $(DEPS_BUILD) $(DEPS_TEST)

# The whole suite under ASan + UBSan (clang), then a small run under valgrind.
check-sanitize: deps-test
	SB_PLAIN_BUILD=$(BUILD) ./tools/check-sanitize.sh

# Each libFuzzer target for FUZZ_SECONDS (crashes go to tests/fuzz/regressions/).
FUZZ_SECONDS ?= 30
fuzz: deps-test
	./tools/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
