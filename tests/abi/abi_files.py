"""The build files the abi checks read: every file named PREFIX*SUFFIX under
a build root, outside tests/, dot folders and meson's private folders."""
import os


def scan(root, prefix, suffix):
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "tests" and not d.startswith(".")
                   and not d.startswith("meson-")]
        found += [os.path.join(top, f) for f in files
                  if f.startswith(prefix) and f.endswith(suffix)]
    return found
