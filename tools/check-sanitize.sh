#!/bin/sh
# tools/check-sanitize.sh - `make check-sanitize` (issue 9): zero errors and
# zero leaks, or exit 1.
#
#  1. The whole meson test suite built with ASan + UBSan (clang by default;
#     UBSan with -fno-sanitize-recover, so any undefined behaviour fails the
#     test) in its own build folder ($SB_SAN_BUILD, default build-sanitize),
#     LeakSanitizer on. Plugins are dlopen()ed: a no-op dlclose() is
#     LD_PRELOADed so that leaks inside plugins keep their symbols, and a
#     self-check first proves such a leak is caught and named.
#  2. The srambench runner on a small run (tests/hardening/bench-small.toml:
#     14 synthetic JPEGs, tiny model, cpu + template + sram backends) under
#     valgrind memcheck --leak-check=full, twice (cache built, cache reused),
#     from the plain build folder ($SB_PLAIN_BUILD, default build).
#
# Installs nothing: needs clang (or SB_SAN_CC=gcc), valgrind, meson, ninja and
# the build dependencies (make deps-test installs them).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
src=${SB_SAN_SRC:-$root}
san=${SB_SAN_BUILD:-$root/build-sanitize}
plain=${SB_PLAIN_BUILD:-$root/build}
cc=${SB_SAN_CC:-clang}
jobs=${SB_SAN_JOBS:-2}
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbsan.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

say() { printf '== %s\n' "$*"; }
bad() { printf 'check-sanitize: FAILED: %s\n' "$*" >&2; fail=1; }

# --------------------------------------------------------------- build
if [ ! -f "$san/build.ninja" ]; then
    say "configure $san ($cc, address,undefined)"
    CC=$cc meson setup "$san" "$src" --buildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        "-Dc_args=['-fno-sanitize-recover=all','-fno-omit-frame-pointer']" \
        "-Dc_link_args=['-fno-sanitize-recover=all']" >"$tmp/setup.log" 2>&1 ||
        { cat "$tmp/setup.log"; echo "check-sanitize: meson setup failed" >&2; exit 2; }
fi
say "build $san"
ninja -C "$san" -j"$jobs" >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log"; echo "check-sanitize: build failed" >&2; exit 2; }

# The shim is built without sanitizers: it is also preloaded under Python.
shim="$san/no_dlclose.so"
$cc -shared -fPIC -O2 -o "$shim" "$src/tests/hardening/selfcheck/no_dlclose.c" || exit 2

asan_opts="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1"
asan_opts="$asan_opts:check_initialization_order=1:print_summary=1"
[ "$cc" = gcc ] && asan_opts="$asan_opts:verify_asan_link_order=0"
export ASAN_OPTIONS="${SB_ASAN_OPTIONS:-$asan_opts}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:print_summary=1"
export LSAN_OPTIONS="print_suppressions=0"

# ------------------------------------------------------- self-check
say "self-check: a leak inside a dlclose()d module is reported with its symbol"
$cc -g -fsanitize=address -fPIC -shared -o "$tmp/leaky.so" "$src/tests/hardening/selfcheck/leaky_module.c" &&
    $cc -g -fsanitize=address -o "$tmp/host" "$src/tests/hardening/selfcheck/dlopen_host.c" -ldl || exit 2
LD_PRELOAD="$shim" "$tmp/host" "$tmp/leaky.so" >"$tmp/self.log" 2>&1
rc=$?
if [ $rc -eq 0 ] || ! grep -q "sb_selfcheck_leaky_open" "$tmp/self.log"; then
    cat "$tmp/self.log"
    bad "LeakSanitizer did not name the leaking plugin function (rc $rc): the sanitizer setup is broken"
fi

# ------------------------------------------------- 1. the test suite
say "meson test under ASan+UBSan (LD_PRELOAD=$shim)"
LD_PRELOAD="$shim" meson test -C "$san" --no-rebuild --print-errorlogs --num-processes "$jobs" \
    --timeout-multiplier 3 ${SB_SAN_TEST_ARGS:-} >"$tmp/test.log" 2>&1
rc=$?
grep -E "^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT|ERROR)" "$tmp/test.log"
grep -E "^(Ok|Fail|Skipped|Timeout|Expected Fail|Unexpected Pass):" "$tmp/test.log" | tr '\n' ' '
echo
if [ $rc -ne 0 ]; then
    grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY:" "$tmp/test.log" | sort | uniq -c | head -20
    cp "$tmp/test.log" "$san/check-sanitize-test.log"
    bad "meson test under sanitizers (full log: $san/check-sanitize-test.log, $san/meson-logs/testlog.txt)"
fi

# ---------------------------------------------- 2. valgrind on a run
if [ ! -f "$plain/build.ninja" ]; then
    meson setup "$plain" "$src" >"$tmp/plain-setup.log" 2>&1 || { cat "$tmp/plain-setup.log"; exit 2; }
fi
ninja -C "$plain" -j"$jobs" >"$tmp/plain-build.log" 2>&1 || { tail -30 "$tmp/plain-build.log"; exit 2; }
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
# The synthetic dataset bench-small.toml reads is generated, never committed.
/usr/bin/python3 "$src/tests/hardening/make_data.py" || exit 2
for pass in build-cache reuse-cache; do
    say "valgrind: srambench run tests/hardening/bench-small.toml ($pass)"
    # JSIMD_FORCENONE: libjpeg-turbo's SIMD code gives memcheck false alarms.
    JSIMD_FORCENONE=1 SRAMBENCH_CACHE_DIR="$tmp/cache" LD_PRELOAD="$shim" \
        valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --num-callers=30 \
        "$plain/srambench" run -q --no-charts --output-dir "$tmp/out-$pass" \
        "$src/tests/hardening/bench-small.toml" >"$tmp/vg-$pass.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || grep -q "^==[0-9]*==" "$tmp/vg-$pass.log"; then
        head -80 "$tmp/vg-$pass.log"
        bad "valgrind ($pass): exit $rc"
    elif [ ! -s "$tmp/out-$pass/results.json" ]; then
        bad "valgrind ($pass): no results.json"
    else
        echo "valgrind ($pass): 0 errors, 0 leaks, results.json written"
    fi
done

[ $fail -eq 0 ] && say "check-sanitize: OK (ASan+UBSan test suite, valgrind run)"
exit $fail
