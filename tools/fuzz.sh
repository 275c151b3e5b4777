#!/bin/sh
# tools/fuzz.sh [SECONDS] [TARGET...] - run the libFuzzer targets (tests/fuzz/)
# for a bounded time each (default 30 s). Targets: toml sbm hmnist ham_meta
# npz jpeg sbc tflite (default: all of them).
#
# Builds them in their own clang build folder ($SB_FUZZ_BUILD, default
# build-fuzz) with ASan+UBSan and libFuzzer coverage; installs nothing
# (needs clang, meson, ninja and the build dependencies).
# Each target starts from its seed corpus tests/fuzz/corpus/<t>/ and the
# inputs that once crashed, tests/fuzz/regressions/<t>/; what it learns goes
# to <build>/fuzz-work/<t>/ (the repository is not touched). A crash leaves
# <build>/fuzz-artifacts/<t>/crash-* and makes the script exit 1: fix it, copy
# the input into tests/fuzz/regressions/<t>/, and the 'hardening' test suite
# replays it on every run from then on.
set -u
secs=${1:-30}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
src=${SB_FUZZ_SRC:-$root}
build=${SB_FUZZ_BUILD:-$root/build-fuzz}
targets=${*:-toml sbm hmnist ham_meta npz jpeg sbc tflite}

if [ ! -f "$build/build.ninja" ]; then
    log=$(mktemp "${TMPDIR:-/tmp}/sbfuzz-setup.XXXXXX")
    CC=clang meson setup "$build" "$src" --buildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        "-Dc_args=['-fsanitize=fuzzer-no-link','-fno-sanitize-recover=all']" \
        "-Dc_link_args=['-fno-sanitize-recover=all']" >"$log" 2>&1 ||
        { cat "$log"; rm -f "$log"; echo "fuzz.sh: meson setup failed" >&2; exit 2; }
    rm -f "$log"
fi
built=""
for t in $targets; do
    if ninja -C "$build" -j"${SB_FUZZ_JOBS:-2}" "tests/hardening/fuzz_$t" >"$build/fuzz-build-$t.log" 2>&1; then
        built="$built $t"
    else
        tail -20 "$build/fuzz-build-$t.log"
        echo "fuzz.sh: $t: build failed (see $build/fuzz-build-$t.log)" >&2
    fi
done

# The targets write each input to a file under $TMPDIR; a crash or libFuzzer's
# own exit skips their cleanup, so give them a folder removed here.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/sbfuzz-run.XXXXXX") || exit 2
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for t in $built; do
    work="$build/fuzz-work/$t" art="$build/fuzz-artifacts/$t"
    mkdir -p "$work" "$art"
    echo "== fuzz_$t: $secs s"
    "$build/tests/hardening/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "$src/tests/fuzz/corpus/$t" "$src/tests/fuzz/regressions/$t" >"$build/fuzz-$t.log" 2>&1
    rc=$?
    grep -E "^stat::number_of_executed_units|^stat::new_units_added|^#[0-9]+.*DONE" "$build/fuzz-$t.log" | tr '\n' ' '
    echo
    if [ $rc -ne 0 ]; then
        status=1
        grep -m1 -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error" "$build/fuzz-$t.log"
        echo "fuzz_$t FAILED (rc $rc): $build/fuzz-$t.log, input in $art/"
    fi
done
[ -n "$built" ] || status=2
[ $status -eq 0 ] && echo "fuzz.sh: no crash in$built"
exit $status
