"""Score an INT8 .sbm on a split of the cache with the numpy reference (tools/reference),
as a cross-check of the C framework's figure (which is the one reported):

    /usr/bin/python3 tools/train/score_sbm.py MODEL.sbm CACHE.sbc MANIFEST.csv [--split val|test]

Prints accuracy, balanced accuracy and per-class recall as JSON, and the bytes of the file's
tensors by dtype (int8 weights, int32 biases, float32 scales)."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from sbtools import data, sbm  # noqa: E402
from reference.run import run_model  # noqa: E402
from train import ledger  # noqa: E402
from train.loop import scores  # noqa: E402


def tensor_bytes(model):
    out = {}
    for t in model.tensors:
        if "offset" in t:
            out[t["dtype"]] = out.get(t["dtype"], 0) + int(t["nbytes"])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("cache")
    p.add_argument("manifest")
    p.add_argument("--split", default="val", choices=data.SPLITS,
                   help="the split to score (default val: test only when asked, docs/training.md)")
    p.add_argument("--limit", type=int, default=0)
    a = p.parse_args()
    model = sbm.read(a.model)
    pixels, splits = data.load_splits(a.cache, a.manifest)
    idx, labels = splits[a.split]
    if a.limit:
        idx, labels = idx[:a.limit], labels[:a.limit]
    preds = []
    for i in idx:
        q = (pixels[i].astype(np.int16) - 128).astype(np.int8)
        out, _ = run_model(model, q.reshape(-1), check=not preds)
        preds.append(int(np.argmax(out.reshape(-1))))
    res = scores(np.array(preds), labels)
    if a.split == "test" and not a.limit:
        ledger.record(os.path.dirname(os.path.abspath(a.model)), "score_sbm.py --split test",
                      "INT8 %s (numpy reference)" % os.path.basename(a.model))
    res["tensor_bytes"] = tensor_bytes(model)
    res["file_bytes"] = os.path.getsize(a.model)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
