"""Logit adjustment of a trained checkpoint, chosen on val only:

    /usr/bin/python3 tools/train/adjust.py --checkpoint RUN/checkpoint.pt --cache C.sbc \
        --manifest M.csv --out RUN/adjusted.pt [--select acc|bal|mean] [--min-bal B]

Training weights the loss by (1/frequency)^p, which pushes predictions towards the rare
classes: good for balanced accuracy, costly for plain accuracy. Adding tau * log(prior) to the
classifier's bias moves that trade-off after training (Menon et al., "Long-tail learning via
logit adjustment", ICLR 2021). tau is scanned on val and the best by --select is kept (with
--min-bal, the best among the taus whose val balanced accuracy is at least B: accuracy under a
floor on balanced accuracy, as a goal of both asks; none reaching it: the tau with the best
balanced accuracy, which comes closest to the floor, as docs/training.md's rule says); the
result is an ordinary checkpoint (only the classifier bias differs) whose recipe records tau.
With --test the test split is evaluated once, for the chosen tau.
"""

import argparse
import copy
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sbtools import data, models  # noqa: E402
from train import ledger  # noqa: E402
from train.loop import criterion_value, scores  # noqa: E402


@torch.no_grad()
def logits_of(model, pixels, idx, norm, batch=256):
    mean = torch.tensor(norm["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(norm["std"]).view(1, 3, 1, 1)
    out = []
    for i in range(0, len(idx), batch):
        x = torch.from_numpy(np.array(pixels[idx[i:i + batch]])).permute(0, 3, 1, 2).float() / 255
        out.append(model((x - mean) / std))
    return torch.cat(out).numpy()


def main():
    p = argparse.ArgumentParser(prog="tools/train/adjust.py", description=__doc__)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--select", choices=["acc", "bal", "mean"], default="acc")
    p.add_argument("--min-bal", type=float, default=None,
                   help="keep only taus whose val balanced accuracy is at least this")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--test", action="store_true",
                   help="also evaluate the test split (once, for the chosen tau)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ck = models.load_checkpoint(a.checkpoint)
    model = models.build(ck["arch"], **ck["arch_kwargs"])
    model.load_state_dict(ck["state_dict"])
    model.eval()
    pixels, splits = data.load_splits(a.cache, a.manifest)
    counts = np.bincount(splits["train"][1], minlength=len(data.CLASSES)).astype(np.float64)
    log_prior = np.log(np.maximum(counts, 1) / counts.sum())
    val_logits = logits_of(model, pixels, splits["val"][0], ck["normalize"])
    best = best_floor = best_bal = None
    for tau in np.round(np.arange(-0.5, 1.51, 0.05), 2):
        m = scores((val_logits + tau * log_prior).argmax(1), splits["val"][1])
        v = criterion_value(m, a.select)
        print("tau %5.2f val acc %.4f bal %.4f" % (tau, m["accuracy"], m["balanced_accuracy"]))
        if best is None or v > best[0] + 1e-12:
            best = (v, float(tau), m)
        if a.min_bal is not None and m["balanced_accuracy"] >= a.min_bal and \
                (best_floor is None or v > best_floor[0] + 1e-12):
            best_floor = (v, float(tau), m)
        if best_bal is None or m["balanced_accuracy"] > best_bal[2]["balanced_accuracy"] + 1e-12:
            best_bal = (v, float(tau), m)
    if a.min_bal is not None:
        # None reaching the floor: the closest to it, not the most accurate (which
        # gave micro 3 points of accuracy for 8 of balanced accuracy, docs/training.md).
        print("no tau reaches val balanced accuracy %.4f: the tau with the best val balanced "
              "accuracy is kept" % a.min_bal
              if best_floor is None else "taus with val balanced accuracy >= %.4f only" % a.min_bal)
        best = best_floor or best_bal
    _, tau, val = best
    with torch.no_grad():
        model.classifier.bias += torch.tensor(tau * log_prior, dtype=torch.float32)
    test = None
    if a.test:
        test_logits = logits_of(model, pixels, splits["test"][0], ck["normalize"])
        test = scores(test_logits.argmax(1), splits["test"][1])
        ledger.record(os.path.dirname(os.path.abspath(a.out)), "adjust.py --test",
                      "float, tau %.2f" % tau)
    out = copy.deepcopy(ck)
    out["state_dict"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out["recipe"] = dict(ck["recipe"], logit_adjust={
        "tau": tau, "log_prior": log_prior.tolist(), "select": a.select, "min_bal": a.min_bal,
        "from": os.path.abspath(a.checkpoint)})
    out["metrics"] = dict(ck["metrics"], val=val, test=test,
                          before_adjust={"val": ck["metrics"].get("val"),
                                         "test": ck["metrics"].get("test")})
    torch.save(out, a.out)
    # The run's metrics.json, updated, beside the new checkpoint (for tools/train/card.py).
    run_metrics = os.path.join(os.path.dirname(a.checkpoint), "metrics.json")
    if os.path.exists(run_metrics):
        with open(run_metrics) as f:
            mj = json.load(f)
        mj["before_adjust"] = {"val": mj.get("val"), "test": mj.get("test")}
        mj.update(val=val, recipe=out["recipe"])
        if test:
            mj["test"] = test
        else:
            mj.pop("test", None)
        with open(os.path.splitext(a.out)[0] + ".metrics.json", "w") as f:
            json.dump(mj, f, indent=1)
    print("chosen tau %.2f (best val %s): val acc %.4f bal %.4f%s -> %s"
          % (tau, a.select, val["accuracy"], val["balanced_accuracy"],
             "; test acc %.4f bal %.4f" % (test["accuracy"], test["balanced_accuracy"])
             if test else "", a.out))
    return 0 if math.isfinite(tau) else 1


if __name__ == "__main__":
    sys.exit(main())
