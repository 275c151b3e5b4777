#!/usr/bin/env python3
"""Each global symbol is defined in one static library of the project.

Usage: check_one_definition.py --nm NM --scan BUILD_ROOT [LIB.a ...]

Runs `nm -g --defined-only` on each static library named, and on every
lib*.a found under BUILD_ROOT outside tests/. Exits 1, naming the symbol
and the libraries, when two libraries define the same global symbol.

Why: a program that links both libraries links only while the linker
happens not to need both object files (sb_crc32 was in libsbmfile and
libsbimage); one more call and it stops linking, or worse, a plugin binds
to the other copy.
"""
import argparse
import os
import subprocess
import sys

import abi_files  # beside this script

# Strong definitions: text, data, bss, read-only (weak and common ones can
# legitimately repeat).
STRONG = set("TDBRG")


def defined(nm, path):
    out = subprocess.run([nm, "-g", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in STRONG:
            syms.add(f[2])
    return syms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--scan", help="build root to search for lib*.a")
    ap.add_argument("libs", nargs="*")
    a = ap.parse_args()
    paths = {os.path.realpath(p) for p in a.libs}
    if a.scan:
        paths |= {os.path.realpath(p) for p in abi_files.scan(a.scan, "lib", ".a")}
    where = {}
    for p in sorted(paths):
        for s in defined(a.nm, p):
            where.setdefault(s, []).append(os.path.basename(p))
    twice = {s: libs for s, libs in where.items() if len(libs) > 1}
    for s in sorted(twice):
        print(f"{s}: defined in {' and '.join(twice[s])}: expected one "
              "definition, in the lowest library the others depend on",
              file=sys.stderr)
    print(f"{len(paths)} static libraries checked, {len(twice)} symbol(s) "
          "defined more than once")
    return 1 if twice or not paths else 0


if __name__ == "__main__":
    sys.exit(main())
