"""Fit a softmax temperature for an INT8 .sbm on val and store it in the file's header
(docs/model-format.md, `temperature`), so that the framework's confidences mean what they say:

    /usr/bin/python3 tools/train/calibrate.py MODEL.sbm CACHE.sbc MANIFEST.csv [--split val]
        [--out OUT.sbm] [--dry-run]

The logits are the INT8 ones of the numpy reference (tools/reference), the bytes the C framework
computes; they are dequantised with the output scale, as sb_runner.c's postprocess does. T
minimises the negative log-likelihood (golden-section search on log T over [0.05, 20]); dividing
by a positive T never changes the argmax. Prints, as JSON, T, NLL and ECE (15 bins, as
sb_metrics.c's sb_ece) before (T = 1) and after. The file is rewritten with only the header key
`temperature` changed (sbm.rewrite_header: the tensors' bytes are copied). The test split is
never used: fit and report on val (docs/training.md)."""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from sbtools import data, sbm  # noqa: E402
from reference.run import run_model  # noqa: E402

T_MIN, T_MAX = 0.05, 20.0      # the range a reader accepts (SB_TEMPERATURE_MIN/MAX)
ECE_BINS = 15                  # as the framework's results (sb_ece)


def int8_logits(model, pixels, idx):
    """The graph's int8 output for each image, as the C framework feeds it: q = pixel - 128."""
    out = []
    for k, i in enumerate(idx):
        q = (pixels[i].astype(np.int16) - 128).astype(np.int8)
        y, _ = run_model(model, q.reshape(-1), check=k == 0)
        out.append(y.reshape(-1))
    return np.array(out, np.int8)


def real_logits(model, q):
    """Dequantised logits in double: scale * (q - zero_point), as postprocess computes them."""
    t = model.tensors[model.output]
    return float(np.float32(t["scale"])) * (q.astype(np.float64) - float(t["zero_point"]))


def softmax(z, temperature):
    z = z / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(z, labels, temperature):
    z = z / temperature
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(labels)), labels]))


def ece(confidence, correct, bins=ECE_BINS):
    """sb_ece: bin b holds (b/bins, (b+1)/bins], 0 in the first; sum of n_b/n |acc_b - conf_b|."""
    b = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    total = 0.0
    for k in range(bins):
        sel = b == k
        if sel.any():
            total += sel.sum() / len(confidence) * abs(correct[sel].mean() - confidence[sel].mean())
    return float(total)


def fit_temperature(z, labels, iters=80):
    """Golden-section search on log T for the minimum NLL (convex in 1/T, so unimodal)."""
    lo, hi = math.log(T_MIN), math.log(T_MAX)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(z, labels, math.exp(a)), nll(z, labels, math.exp(b))
    for _ in range(iters):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(z, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(z, labels, math.exp(b))
    return math.exp((lo + hi) / 2)


def report(z, labels, temperature):
    p = softmax(z, temperature)
    pred = p.argmax(axis=1)
    return {"nll": nll(z, labels, temperature),
            "ece": ece(p.max(axis=1), (pred == labels).astype(np.float64)),
            "accuracy": float(np.mean(pred == labels))}


def calibrate(model_path, z, labels, out_path=None, dry_run=False):
    """Fit T on (z, labels), write it (as the float32 the reader keeps) unless dry_run."""
    t = sbm.f32(fit_temperature(z, labels))
    before, after = report(z, labels, 1.0), report(z, labels, t)
    res = {"temperature": t, "n": int(len(labels)), "nll_before": before["nll"],
           "nll_after": after["nll"], "ece_before": before["ece"], "ece_after": after["ece"],
           "accuracy": before["accuracy"], "ece_bins": ECE_BINS}
    if not dry_run:
        res["file_bytes"] = sbm.rewrite_header(model_path, {"temperature": t}, out_path)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("cache")
    p.add_argument("manifest")
    p.add_argument("--split", default="val", choices=("val", "train"),
                   help="the split to fit on (default val; never test, docs/training.md)")
    p.add_argument("--out", help="write the calibrated model here (default: rewrite MODEL in place)")
    p.add_argument("--dry-run", action="store_true", help="fit and report, write nothing")
    a = p.parse_args(argv)
    model = sbm.read(a.model)
    pixels, splits = data.load_splits(a.cache, a.manifest)
    idx, labels = splits[a.split]
    size = model.tensors[model.input]["shape"][1]
    if pixels.shape[1] != size:
        p.error("%s holds %d px images, %s expects %d px" % (a.cache, pixels.shape[1], a.model, size))
    z = real_logits(model, int8_logits(model, pixels, idx))
    res = calibrate(a.model, z, np.asarray(labels, np.int64), a.out, a.dry_run)
    res["split"] = a.split
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
