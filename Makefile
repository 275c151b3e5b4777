# The README's two commands. Both install what is missing (apt-get, with sudo
# when not root), configure and build; then run the benchmark or the tests.
BUILD ?= build
DEPS_BUILD = meson ninja-build pkg-config gcc libuv1-dev libcjson-dev libjpeg-dev libzip-dev gnuplot-nox
DEPS_TEST  = libcmocka-dev python3 python3-numpy python3-torch python3-torchvision python3-pil clang valgrind

.PHONY: bench test build deps deps-test clean

bench: build
	./$(BUILD)/srambench run bench.toml

test: deps-test build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

build: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then meson setup $(BUILD); else meson setup --reconfigure $(BUILD) >/dev/null; fi
	ninja -C $(BUILD)

deps:
	@./tools/install-deps.sh $(DEPS_BUILD)

deps-test:
	@./tools/install-deps.sh $(DEPS_BUILD) $(DEPS_TEST)

clean:
	rm -rf $(BUILD)
