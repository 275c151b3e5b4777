#!/usr/bin/env python3
"""A plugin exports its entry symbol and nothing else (docs/writing-a-backend.md).

Usage: check_exports.py --nm NM --scan BUILD_ROOT [PLUGIN.so ...]
       check_exports.py --nm NM --expect SYMBOL PLUGIN.so ...  (self-test)

Runs `nm -D --defined-only` on each plugin named, and on every
srambench-*.so found under BUILD_ROOT outside tests/ (so a plugin added
later is checked without editing this test). Exits 1, naming the plugin
and the extra symbols, when any plugin exports more than it may.

Why: a helper exported by a plugin (sb_crc32, sb_resize_area, ...) is
interposed by the first loaded copy of the same name in another plugin or
the host; two plugins built from different versions of a shared library
would then run each other's code.
"""
import argparse
import os
import re
import subprocess
import sys

import abi_files  # beside this script

ENTRY = "sb_plugin_entry"  # SB_PLUGIN_ENTRY_SYMBOL in sb_plugin.h
# Documented extra exports, by file name (docs/gpu.md: gpu-run's timed loop).
EXTRA = {"srambench-backend-gpu.so": {"sb_gpu_bench"}}
# Defined by the linker in every shared object on some binutils versions.
LINKER = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def exports(nm, path):
    out = subprocess.run([nm, "-D", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()}


def check(nm, path):
    """The message for a plugin that exports too much, or None."""
    base = os.path.basename(path)
    allowed = {ENTRY} | EXTRA.get(base, set())
    got = exports(nm, path) - LINKER
    extra = sorted(got - allowed)
    if ENTRY not in got:
        return f"{path}: does not export {ENTRY}"
    if extra:
        return (f"{path}: exports {len(extra)} symbol(s) besides {ENTRY}: "
                f"{' '.join(extra)}: expected only {' '.join(sorted(allowed))} "
                "(build its static libraries with gnu_symbol_visibility : 'hidden')")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--scan", help="build root to search for srambench-*.so")
    ap.add_argument("--expect", help="self-test: pass only if every plugin "
                    "is refused for exporting this symbol")
    ap.add_argument("plugins", nargs="*")
    a = ap.parse_args()
    paths = [os.path.realpath(p) for p in a.plugins]
    if a.scan:
        paths += [os.path.realpath(p) for p in abi_files.scan(a.scan, "srambench-", ".so")]
    paths = sorted(set(paths))
    if not paths:
        print("no plugin to check: expected plugin files or --scan", file=sys.stderr)
        return 1
    bad = [m for m in (check(a.nm, p) for p in paths) if m]
    if a.expect:
        caught = [m for m in bad if re.search(rf"\b{a.expect}\b", m)]
        print("\n".join(bad) or "nothing refused")
        return 0 if len(caught) == len(paths) else 1
    for m in bad:
        print(m, file=sys.stderr)
    print(f"{len(paths)} plugin(s) checked, {len(bad)} export too much")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
