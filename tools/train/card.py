"""Write a trained model's MODEL_CARD.md from its run's metrics.json and the INT8 scores
(JSON from tools/train/score_sbm.py, or from the C framework in the same keys):

    /usr/bin/python3 tools/train/card.py --name tiny --metrics RUN/metrics.json \
        --sbm plugins/models/tiny/tiny.sbm --int8-val V.json --int8-test T.json \
        --int8-source "numpy reference (tools/reference)" --reproduce CMDS.txt > MODEL_CARD.md
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sbtools import sbm  # noqa: E402
from train import ledger  # noqa: E402

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def pct(v):
    return "-" if v is None else "%.4f" % v


def load(path):
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--sbm", required=True)
    p.add_argument("--int8-val")
    p.add_argument("--int8-test")
    p.add_argument("--int8-source", default="numpy reference (tools/reference)")
    p.add_argument("--cache", required=True, help="cache file name the model was trained on")
    p.add_argument("--reproduce", required=True, help="text file with the commands")
    p.add_argument("--summary", default="")
    p.add_argument("--test-use", action="append", default=[],
                   help="a use of the test split that no ledger holds, e.g. 'WHEN: srambench "
                        "batch --split test (INT8)' (repeatable)")
    a = p.parse_args()
    uses = ["%s: %s (%s)" % (u["when"], u["tool"], u["what"])
            for folder in sorted({os.path.dirname(os.path.abspath(a.metrics)),
                                  os.path.dirname(os.path.abspath(a.sbm))})
            for u in ledger.read(folder)] + a.test_use
    m = load(a.metrics)
    qv, qt = load(a.int8_val), load(a.int8_test)
    r, cost = m["recipe"], m["cost"]
    with open(a.reproduce) as f:
        reproduce = f.read().strip()
    tb = {}
    for t in sbm.read(a.sbm).tensors:  # constant tensors of the file, by dtype
        if "offset" in t:
            tb[t["dtype"]] = tb.get(t["dtype"], 0) + int(t["nbytes"])
    lines = [
        "# %s" % a.name, "",
        a.summary, "",
        "| | |", "|---|---|",
        "| file | `%s` (%d bytes), requant `fixed` |" % (os.path.basename(a.sbm),
                                                       os.path.getsize(a.sbm)),
        "| architecture | `%s` %s (tools/sbtools/models.py) |" % (m["arch"],
                                                                 json.dumps(m["arch_kwargs"])),
        "| input | %dx%dx3 uint8 RGB (int8 q = pixel - 128), no normalisation |"
        % (r["input_size"], r["input_size"]),
        "| parameters | %d |" % cost["params"],
        "| MACs | %.2f M per image (conv + fc; %d elementwise ops besides) |"
        % (cost["macs"] / 1e6, cost["elementwise_ops"]),
        "| INT8 weights | %d bytes (int8 weights + int32 biases after BatchNorm folding); in the "
        "file: %s |" % (cost["int8_weight_bytes"],
                        ", ".join("%s %d B" % kv for kv in sorted(tb.items()))),
        "", "## Data", "",
        "HAM10000 (Tschandl, Rosendahl, Kittler, \"The HAM10000 dataset\", Scientific Data 5, "
        "180161, 2018), licensed CC BY-NC-SA 4.0: the model inherits its non-commercial terms. "
        "Pixels: the benchmark's own preprocessing (`sbprep`, docs/dataset-cache.md: whole "
        "200x150 image squashed to %d px by exact area averaging), cache `%s`. Split: official "
        "DermaMNIST (train %d / val %d / test %d images); selection on val only (docs/training.md, "
        "the selection rule); the test split was scored %s. Caveat: the DermaMNIST split is by image, and 641 lesions have images in both "
        "train and test, so test accuracy is optimistic compared with a lesion-disjoint split."
        % (r["input_size"], a.cache, r["train_images"], m["val"]["n"],
           m.get("test", {}).get("n", 0),
           "%d time(s): %s" % (len(uses), "; ".join(uses)) if uses else "never"),
        "", "## Recipe", "",
        "AdamW lr %g, weight decay %g, batch %d, warm-up %g epochs then cosine%s; label smoothing "
        "%g; class-weighted cross-entropy, weights (1/frequency)^%g; augmentation strength %g "
        "(90-degree rotations and flips, +-15 degrees, scale 0.9-1.1, shift, brightness/contrast/"
        "saturation); weight EMA %g; seed %d; %d epochs run (`--epochs %d%s`), checkpoint from "
        "epoch %d (%s); CPU, PyTorch %s, %d thread(s), niced, on a shared 2-core machine."
        % (r["lr"], r["wd"], r["batch"], r["warmup"],
           " (time-driven: the schedule follows the %g-minute budget)" % r["minutes"]
           if r.get("minutes") else "", r["smoothing"], r["balance_power"], r["aug"], r["ema"],
           r["seed"], m["epochs_run"], r["epochs"],
           " --minutes %g" % r["minutes"] if r.get("minutes") else "", m["epoch"],
           m["selection"], r["torch"], r["threads"]),
    ]
    adj = r.get("logit_adjust")
    if adj:
        lines += ["", "Then logit adjustment (tools/train/adjust.py): tau x log(training prior) "
                  "added to the classifier bias, tau = %g chosen on val for the best val %s%s "
                  "(the class-weighted loss had shifted predictions towards the rare classes; "
                  "this trades balanced accuracy for accuracy)."
                  % (adj["tau"], adj["select"],
                     " among the taus whose val balanced accuracy is at least %g (`--min-bal`)"
                     % adj["min_bal"] if adj.get("min_bal") else "")]
    lines += [
        "", "## Accuracy", "",
        "INT8: %s. Float: the PyTorch checkpoint." % a.int8_source, "",
        "| | val acc | val balanced | test acc | test balanced |", "|---|---|---|---|---|",
        "| float32 | %s | %s | %s | %s |" % (pct(m["val"]["accuracy"]),
                                            pct(m["val"]["balanced_accuracy"]),
                                            pct(m.get("test", {}).get("accuracy")),
                                            pct(m.get("test", {}).get("balanced_accuracy"))),
        "| INT8 | %s | %s | %s | %s |" % (pct(qv and qv["accuracy"]),
                                         pct(qv and qv["balanced_accuracy"]),
                                         pct(qt and qt["accuracy"]),
                                         pct(qt and qt["balanced_accuracy"])),
    ]
    before = m.get("before_adjust")
    if before and before.get("val"):
        lines.append("| float32 before logit adjustment | %s | %s | %s | %s |" % (
            pct(before["val"]["accuracy"]), pct(before["val"]["balanced_accuracy"]),
            pct((before.get("test") or {}).get("accuracy")),
            pct((before.get("test") or {}).get("balanced_accuracy"))))
    lines += [
        "", "Per-class recall on test (%s):" % ", ".join(
            "%s %d" % (c, n) for c, n in zip(CLASSES, [sum(row) for row in m["test"]["confusion"]]))
        if "test" in m else "", "",
        "| | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|",
    ]
    for label, src in (("float32", m.get("test")), ("INT8", qt)):
        if src:
            lines.append("| %s | " % label + " | ".join(pct(src["recall"][c]) for c in CLASSES)
                         + " |")
    lines += ["", "Always answering `nv` scores 0.669 accuracy (0.143 balanced) on this test "
              "split; a ResNet-18 (11 M parameters) from scratch reaches 0.810 / 0.676 (data "
              "README).", "", "## Reproduce", "", "```sh", reproduce, "```", "",
              "The training log (`train-log.txt`) and metrics (`metrics.json`, with the "
              "confusion matrices and the per-epoch history) sit beside this card.", ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
