"""Whole networks: C (sbm-run, fast and --ref kernels) bit-identical to the
numpy reference on every activation tensor (compared through --dump; a
failure names the first op that differs). Random-weight EfficientNet-B0 at
64x64 and 224x224 (fixed requant) and MobileNetV2 at 96x96 (float requant),
each exported by tools/export, on a few random images.

usage: test_networks.py --sbm-run PATH [--images N]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbtest  # noqa: E402

NETWORKS = [  # (arch, size, requant, width)
    ("effnet_b0", 64, "fixed", 1.0),
    ("effnet_b0", 224, "fixed", 1.0),   # 1 image at 224 (see main)
    ("mobilenet_v2", 96, "float", 1.0),
]


def export(tmp, arch, size, requant, width):
    path = os.path.join(tmp, "%s_%d_%s.sbm" % (arch, size, requant))
    cmd = [sys.executable, os.path.join(sbtest.REPO, "tools", "export"), "--random-arch", arch,
           "--size", str(size), "--width", str(width), "--requant", requant, "--calib", "4",
           "--calib-random", "-o", path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), p.stderr))
    return path


def main(argv):
    exe = sbtest.sbm_run_path(argv)
    if exe is None:
        sbtest.skip("sbm-run not built or not given (--sbm-run PATH or $SBM_RUN)")
    n_images = int(argv[argv.index("--images") + 1]) if "--images" in argv else 2
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for arch, size, requant, width in NETWORKS:
            path = export(tmp, arch, size, requant, width)
            model = sbtest.sbm.read(path)
            rng = np.random.default_rng(size)
            for i in range(n_images if size < 200 else 1):   # 224 px: one image keeps it quick
                x = sbtest.random_input(model, rng)
                ref_out, ref_acts = sbtest.run_model(model, x, check=(i == 0))
                for ref in (False, True):
                    _, c_acts = sbtest.c_run(exe, path, x, tmp, ref=ref, dump=True)
                    diff = sbtest.first_difference(model, ref_acts, c_acts)
                    label = "%s %dpx %s image %d, %s kernels" % (arch, size, requant, i,
                                                                  "--ref" if ref else "fast")
                    if diff:
                        failures += 1
                        print("FAIL: %s: %s" % (label, diff))
                    else:
                        print("ok: %s: %d ops, %d tensors identical, logits %s" % (
                            label, len(model.ops), len(c_acts), ref_out.reshape(-1).tolist()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
