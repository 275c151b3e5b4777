"""Shared helpers of the suite 'tools' Python tests: paths, skipping, running
the C tool sbm-run and the numpy reference, and comparing their tensors."""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

from reference.run import run_model  # noqa: E402
from sbtools import sbm  # noqa: E402

SKIP = 77
__all__ = ["run_model", "sbm", "skip", "sbm_run_path", "c_run", "first_difference", "random_input",
           "find_cache", "REPO", "SKIP", "CRunError"]


def skip(msg):
    print("SKIP: %s" % msg)
    sys.exit(SKIP)


def sbm_run_path(argv):
    """sbm-run from --sbm-run PATH (meson passes the built target) or $SBM_RUN."""
    path = None
    if "--sbm-run" in argv:
        path = argv[argv.index("--sbm-run") + 1]
    path = path or os.environ.get("SBM_RUN")
    if not path or not os.access(path, os.X_OK):
        return None
    return path


class CRunError(Exception):
    pass


def c_run(exe, model_path, x_int8, workdir, ref=False, dump=False):
    """Run sbm-run on one input; returns (logits int8, {tensor: int8 array} or None)."""
    inp = os.path.join(workdir, "in.bin")
    out = os.path.join(workdir, "out.bin")
    np.asarray(x_int8, np.int8).tofile(inp)
    cmd = [exe, model_path, inp, out]
    ddir = None
    if dump:
        ddir = tempfile.mkdtemp(dir=workdir)
        cmd += ["--dump", ddir]
    if ref:
        cmd.append("--ref")
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise CRunError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    logits = np.fromfile(out, np.int8)
    acts = None
    if ddir:
        acts = {}
        for f in glob.glob(os.path.join(ddir, "t*.bin")):
            acts[int(os.path.basename(f)[1:-4])] = np.fromfile(f, np.int8)
    return logits, acts


def first_difference(model, ref_acts, c_acts):
    """None when every activation tensor agrees; else a message naming the
    first op (in execution order) whose output differs, and where."""
    for i, op in enumerate(model.ops):
        t = op["output"]
        r = ref_acts[t].reshape(-1)
        c = c_acts.get(t)
        if c is None:
            return "ops[%d] %s (%s): C dumped no tensor t%d" % (i, op["name"], op["type"], t)
        if c.size != r.size:
            return "ops[%d] %s (%s): C tensor t%d has %d values, reference %d" % (
                i, op["name"], op["type"], t, c.size, r.size)
        bad = np.nonzero(c != r)[0]
        if bad.size:
            k = bad[0]
            return ("ops[%d] %s (%s) first differs: output t%d %s, %d of %d values differ; "
                    "first at flat index %d (NHWC %s): C %d, reference %d" % (
                        i, op["name"], op["type"], t, model.tensors[t]["shape"], bad.size, r.size, k,
                        np.unravel_index(k, model.tensors[t]["shape"]), c[k], r[k]))
    return None


def random_input(model, rng):
    shape = model.tensors[model.input]["shape"]
    return rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)


def find_cache(size_px=64, argv=None):
    """The HAM10000 image cache (.sbc) of the given size, or None.

    With `--sbprep PATH` in argv and the data present (HAM10000_DIR, else
    ../shared/data/ham10000 beside the repository), a missing cache is built
    with sbprep, so that CI, which starts from a clean clone, runs the test
    instead of skipping it."""
    d = os.environ.get("SRAMBENCH_CACHE_DIR") or os.path.join(REPO, ".cache")   # docs/dataset-cache.md
    pattern = os.path.join(d, "ham10000-%dpx-*.sbc" % size_px)
    found = sorted(glob.glob(pattern))
    if found or not argv or "--sbprep" not in argv:
        return found[-1] if found else None
    sbprep = argv[argv.index("--sbprep") + 1]
    data_dir = os.environ.get("HAM10000_DIR") or os.path.join(os.path.dirname(REPO), "shared", "data", "ham10000")
    if not os.path.isfile(os.path.join(data_dir, "HAM10000_metadata.csv")):
        return None
    manifest = os.path.join(tempfile.mkdtemp(prefix="sbtest-"), "manifest.csv")
    subprocess.run([sbprep, "--dataset-dir", data_dir, "--size", str(size_px), "--cache-dir", d,
                    "--manifest", manifest], check=True, stdout=subprocess.DEVNULL)
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None
