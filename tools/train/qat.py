"""Quantisation-aware fine-tuning of a trained checkpoint, written as an .sbm:

    /usr/bin/python3 tools/train/qat.py --checkpoint RUN/adjusted.pt --cache C.sbc \
        --manifest M.csv --out-dir RUN/qat -o MODEL.sbm --name NAME [--epochs 6] [--lr 5e-5] \
        [--device cuda]

When post-training quantisation (tools/export) loses more than a point, this fine-tunes the
very graph the exporter quantises, with the int8 rounding of weights, biases and activations
simulated (tools/sbtools/qat.py), then writes the .sbm with the activation ranges it trained
against (calibrated once at the start, as tools/export calibrates: the first --calib training
images, --calib-method). The loss is the training's (class-weighted, label-smoothed
cross-entropy, augmentation as recorded in the checkpoint's recipe) on the logits without the
checkpoint's logit adjustment, so that adjustment stays as it was chosen on val.

Epoch 0 is the post-training-quantised model itself. Every epoch is scored on val with the
fake-quantised graph; the best by --select (among the epochs whose val balanced accuracy is at
least --min-bal, when given and reached) is written. Test is never evaluated here: score the
written file with the C framework. Writes OUT_DIR/log.txt and OUT_DIR/metrics.json. The file
is rewritten after every new best, so a run that is interrupted (Ctrl-C) or whose loss goes
non-finite keeps the best epoch so far, and says so in the file and metrics.json.
"""

import argparse
import copy
import json
import math
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sbtools import data as sbdata, exporter, models, qat  # noqa: E402
from train.loop import (Progress, augment, class_weights, criterion_value, evaluate,  # noqa: E402
                        seed_everything)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tools/train/qat.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="tools/train (or adjust.py) checkpoint")
    p.add_argument("--cache", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--out-dir", required=True, help="folder for log.txt and metrics.json")
    p.add_argument("-o", "--output", required=True, help="the .sbm to write")
    p.add_argument("--name", help="model name in the header (default: from the output file)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--minutes", type=float, default=0,
                   help="stop at the end of the epoch that uses this budget up (0: none)")
    p.add_argument("--lr", type=float, default=5e-5, help="AdamW peak, cosine to zero")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--calib", type=int, default=500, help="calibration images (first of train)")
    p.add_argument("--calib-method", choices=["minmax", "percentile"], default="percentile")
    p.add_argument("--percentile", type=float, default=99.99)
    p.add_argument("--select", choices=["acc", "bal", "mean"], default="acc")
    p.add_argument("--min-bal", type=float, default=None,
                   help="keep only epochs whose val balanced accuracy is at least this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu",
                   help="cpu or cuda; fp32 either way (bf16 would blur the int8 steps it simulates)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N images per split")
    return p.parse_args(argv)


def calibrated_graph(a, model, ck, pixels, train_idx):
    """The exporter's graph and its activation ranges, calibrated as tools/export does."""
    g, how = exporter.prepare_graph(model, ck["normalize"])
    cal, n = exporter.calibrate(g, exporter.first_images(pixels, train_idx[:a.calib]),
                                a.calib_method, a.percentile)
    ranges = {op.output: cal.range(op.output) for op in g.ops if op.type != "maxpool"}
    calibration = exporter.calibration_record(a.calib_method, a.percentile, n, split="train")
    return qat.QatGraph(g, ranges), how, calibration


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(a.threads)
    seed_everything(a.seed)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("tools/train/qat.py: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "log.txt"), "a") as log_file:
        def log(msg):
            print(msg, flush=True)
            log_file.write(msg + "\n")
            log_file.flush()
        try:
            return run(a, device, log)
        except (OSError, sbdata.CacheError, ValueError) as e:
            print("tools/train/qat.py: %s" % e, file=sys.stderr)
            return 2


def run(a, device, log):
    ck = models.load_checkpoint(a.checkpoint)
    model = models.build(ck["arch"], **ck["arch_kwargs"])
    model.load_state_dict(ck["state_dict"])
    pixels, splits = sbdata.load_splits(a.cache, a.manifest)
    if a.limit:
        splits = {k: (i[:a.limit], l[:a.limit]) for k, (i, l) in splits.items()}
    if pixels.shape[1] != int(ck["input_size"]):
        raise ValueError("%s: images are %dpx, the checkpoint was trained at %dpx"
                         % (a.cache, pixels.shape[1], int(ck["input_size"])))
    tr_idx, tr_lab = splits["train"]
    net, how, calibration = calibrated_graph(a, model, ck, pixels, tr_idx)  # on the CPU
    net.to(device)
    # Into memory (the GPU's, there), as tools/train does.
    pixels_t = torch.from_numpy(np.array(pixels)).to(device)
    # The graph reads pixel/255: any normalisation is folded into it.
    no_norm = (torch.zeros(1, 3, 1, 1, device=device), torch.ones(1, 3, 1, 1, device=device))
    recipe = ck["recipe"]
    # The loss sees the logits before the logit adjustment that adjust.py put in the bias.
    adj = recipe.get("logit_adjust")
    offset = torch.zeros(len(sbdata.CLASSES), device=device) if not adj else \
        torch.tensor(adj["tau"] * np.asarray(adj["log_prior"]), dtype=torch.float32, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(class_weights(tr_lab, recipe["balance_power"]), dtype=torch.float32,
                            device=device),
        label_smoothing=recipe["smoothing"])
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=0.0)
    steps_per_epoch = max(1, len(tr_idx) // a.batch)
    total = steps_per_epoch * a.epochs
    gen = torch.Generator().manual_seed(a.seed)
    log("qat %s: %d ops at %dpx, %d calibration images (%s); train %d val %d; lr %g, %d epochs"
        " on %s" % (a.checkpoint, len(net.g.ops), pixels.shape[1], calibration["images"],
                    a.calib_method, len(tr_idx), len(splits["val"][0]), a.lr, a.epochs, device))

    def score(epoch, entry):
        val = evaluate(net, pixels_t, *splits["val"], *no_norm, device)
        entry.update(epoch=epoch, val_accuracy=val["accuracy"],
                     val_balanced_accuracy=val["balanced_accuracy"])
        return val

    name = a.name or os.path.splitext(os.path.basename(a.output))[0]

    def save(best, history, final):
        """Write the best epoch's .sbm (replacing the file only once it is whole) and
        metrics.json: after every new best, so that a run stopping early keeps what it has,
        and at the end, when the file's provenance can say the selection is final."""
        (floor_ok, _), epoch, val, state = best
        selection = "best val %s%s (epoch %d%s)" % (
            a.select, "" if a.min_bal is None else
            " among epochs with val balanced accuracy >= %g%s" % (
                a.min_bal, "" if floor_ok else ", none reached: best overall"), epoch,
            "" if final else ", so far")
        info = {"from": os.path.abspath(a.checkpoint), "epochs": a.epochs,
                "epochs_run": len(history) - 1, "lr": a.lr, "batch": a.batch,
                "optimizer": "AdamW, weight decay 0, cosine to zero, no warm-up",
                "selection": selection, "epoch": epoch, "seed": a.seed, "threads": a.threads,
                "device": str(device),
                "torch": str(torch.__version__), "python": platform.python_version()}
        current = copy.deepcopy(net.state_dict())
        net.load_state_dict(state)
        prov = {"arch": ck["arch"], "arch_kwargs": ck["arch_kwargs"], "weights": a.checkpoint,
                "recipe": dict(recipe, qat=info), "dataset": "ham10000",
                "calibration_data": {"cache": a.cache, "manifest": a.manifest, "split": "train"}}
        tmp = a.output + ".part"
        exporter.write_graph(net.graph(), net.fixed_ranges(), tmp, pixels.shape[1],
                             ck["classes"], dict(ck["normalize"], applied=how), calibration,
                             name=name, provenance=prov,
                             params=int(sum(p.numel() for p in model.parameters())))
        os.replace(tmp, a.output)
        net.load_state_dict(current)
        with open(os.path.join(a.out_dir, "metrics.json"), "w") as f:
            json.dump({"qat": info, "calibration": calibration, "val": val,
                       "history": history}, f, indent=1)
        return selection

    history, best = [], None
    t_start = time.time()
    try:
        for epoch in range(0, a.epochs + 1):
            t0, entry = time.time(), {}
            if epoch > 0:
                entry["loss"] = train_epoch(a, net, opt, loss_fn, offset, pixels_t, tr_idx, tr_lab,
                                            gen, epoch, steps_per_epoch, total, recipe["aug"])
                if not math.isfinite(entry["loss"]):
                    history.append(dict(entry, epoch=epoch))
                    save(best, history, False)
                    log("epoch %d: loss is %r, stopping; %s keeps epoch %d"
                        % (epoch, entry["loss"], a.output, best[1]))
                    return 1
            val = score(epoch, entry)
            entry["seconds"] = time.time() - t0
            history.append(entry)
            floor_ok = a.min_bal is None or val["balanced_accuracy"] >= a.min_bal
            key = (floor_ok, criterion_value(val, a.select))
            mark = ""
            if best is None or key > best[0]:
                best, mark = (key, epoch, val, copy.deepcopy(net.state_dict())), " *"
                save(best, history, False)
            log("epoch %2d/%d loss %s val acc %.4f bal %.4f (fake-quantised, %.0f s)%s"
                % (epoch, a.epochs, "%.4f" % entry["loss"] if "loss" in entry else "-",
                   val["accuracy"], val["balanced_accuracy"], entry["seconds"], mark))
            if a.minutes and epoch < a.epochs and time.time() - t_start >= 60 * a.minutes:
                log("time budget of %g min used up after epoch %d" % (a.minutes, epoch))
                break
    except KeyboardInterrupt:
        if best is None:
            raise
        save(best, history, False)
        log("interrupted in epoch %d; %s keeps epoch %d" % (len(history), a.output, best[1]))
        return 130
    selection = save(best, history, True)
    log("%s: %s; %d ops" % (a.output, selection, len(net.g.ops)))
    return 0


def train_epoch(a, net, opt, loss_fn, offset, pixels, tr_idx, tr_lab, gen, epoch,
                steps_per_epoch, total, aug):
    net.train()
    order = torch.randperm(len(tr_idx), generator=gen)
    bar = Progress(steps_per_epoch, "qat epoch %d/%d" % (epoch, a.epochs))
    loss_sum = 0.0
    for step in range(steps_per_epoch):
        done = (epoch - 1) * steps_per_epoch + step
        for group in opt.param_groups:  # cosine from the peak to zero, no warm-up
            group["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * done / max(1, total)))
        sel = order[step * a.batch:(step + 1) * a.batch].numpy()
        rows = torch.from_numpy(tr_idx[sel]).to(pixels.device)
        x = augment(pixels[rows], aug, gen)
        loss = loss_fn(net(x) - offset, torch.from_numpy(tr_lab[sel]).to(pixels.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += float(loss)
        bar.update(step + 1, loss_sum / (step + 1))
    return loss_sum / steps_per_epoch


if __name__ == "__main__":
    sys.exit(main())
