"""A few seconds of everything the training tools do, on a tiny synthetic cache, so that a
machine's PyTorch and numpy are proven before minutes are spent on it:

    python3 tools/train/smoke.py [--device cuda] [--no-qat]

Runs tools/train for 2 epochs (augmentation, the autocast the device gets by default, EMA,
evaluation, checkpoint save and reload, metrics.json), then tools/train/qat.py for one epoch
on that checkpoint (calibration, fake quantisation, the .sbm write), all in a temporary folder
and through the very functions a real run calls. bench/gpu_train.sh runs it before building
the caches: on a borrowed GPU with another PyTorch (2.x) or numpy (2.x) than Debian's, an API
change then fails here, in seconds, rather than after the training budget. On PyTorch 2.6+
it also tries torch.load(weights_only=True), that version's default (a warning only: the tools
load with weights_only=False). Exit 0 ok, 1 failed (the error is printed).
"""

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sbtools import data, models, sbm  # noqa: E402
from train import loop, qat  # noqa: E402

ARCH_KWARGS = {"width": 0.25, "depth": 0.25, "head_channels": 32, "max_stages": 3}


def synthetic(tmp, n=42, size_px=32, seed=1, by_lesion=False, name="smoke"):
    """A cache whose classes differ in mean colour, and a manifest splitting it 4:1:1 by image
    (like DermaMNIST) or, with by_lesion, by lesion (two images each). Returns (cache path,
    manifest path, pixels). tests/tools use it too."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    pixels = rng.integers(0, 60, (n, size_px, size_px, 3)).astype(np.uint8)
    pixels += (labels * 25).astype(np.uint8)[:, None, None, None]
    ids = ["ISIC_%07d" % i for i in range(n)]
    cache = os.path.join(tmp, name + ".sbc")
    data.write_cache(cache, pixels, ids, labels)
    manifest = os.path.join(tmp, name + ".csv")
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "image_id", "lesion_id", "label", "split"])
        for i in range(n):
            split = ("train", "train", "train", "train", "val", "test")[(i // 2 if by_lesion else i) % 6]
            w.writerow([i, ids[i], "HAM_%07d" % (i // 2), int(labels[i]), split])
    return cache, manifest, pixels


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def smoke(tmp, device, with_qat):
    cache, manifest, _ = synthetic(tmp)
    run = os.path.join(tmp, "run")
    rc = loop.main(["--cache", cache, "--manifest", manifest, "--device", device,
                    "--epochs", "2", "--batch", "8", "--limit", "24", "--threads", "1",
                    "--minutes", "30", "--test", "--out-dir", run, "--arch", "effnet",
                    "--arch-kwargs", json.dumps(ARCH_KWARGS)])
    check(rc == 0, "tools/train exit %s" % rc)
    path = os.path.join(run, "checkpoint.pt")
    ck = models.load_checkpoint(path)
    check(all(v.dtype in (torch.float32, torch.int64) for v in ck["state_dict"].values()),
          "checkpoint tensors not all float32/int64")
    with open(os.path.join(run, "metrics.json")) as f:
        metrics = json.load(f)
    check(len(metrics["history"]) == 2 and metrics["test"]["n"] > 0, "metrics.json incomplete")
    if tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 6):
        try:  # PyTorch 2.6+'s default; the tools themselves load with weights_only=False
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            print("smoke: warning: torch.load(weights_only=True) refuses the checkpoint: %s" % e)
    if with_qat:
        out = os.path.join(tmp, "qat.sbm")
        rc = qat.main(["--checkpoint", path, "--cache", cache, "--manifest", manifest,
                       "--out-dir", os.path.join(tmp, "qat"), "-o", out, "--epochs", "1",
                       "--batch", "8", "--calib", "16", "--threads", "1", "--device", device])
        check(rc == 0, "tools/train/qat.py exit %s" % rc)
        check(len(sbm.read(out).ops) > 0, "qat.py wrote no ops")


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/train/smoke.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--no-qat", action="store_true", help="skip the qat.py epoch")
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.time()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            smoke(tmp, a.device, not a.no_qat)
    except Exception:  # anything at all: say what, and fail
        traceback.print_exc()
        print("smoke: FAILED on %s (torch %s, numpy %s)" % (a.device, torch.__version__,
                                                          np.__version__), file=sys.stderr)
        return 1
    print("smoke: ok on %s (torch %s, numpy %s), %.1f s" % (a.device, torch.__version__,
                                                           np.__version__, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
