"""The training loop behind `tools/train` (see docs/training.md)."""

import argparse
import copy
import json
import math
import os
import platform
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from sbtools import data as sbdata
from sbtools import models
from train import ledger

RUNS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tools/train", description=__doc__)
    p.add_argument("--cache", required=True, help=".sbc file from sbprep (sets the input size)")
    p.add_argument("--manifest", required=True, help="manifest CSV from sbprep")
    p.add_argument("--split", choices=["dermamnist", "lesion"], default="dermamnist",
                   help="the manifest's split (sbprep --split); lesion: check it is lesion-disjoint")
    p.add_argument("--arch", default="effnet", choices=sorted(models.ARCHS))
    p.add_argument("--arch-kwargs", default="{}", help="JSON keyword arguments for the arch")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--minutes", type=float, default=0,
                   help="time budget: the cosine schedule follows elapsed time when that is "
                        "further along than the step count, and training stops at the end of "
                        "the epoch that uses it up (0: no budget)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    p.add_argument("--wd", type=float, default=0.02, help="AdamW weight decay")
    p.add_argument("--warmup", type=float, default=2.0, help="linear warm-up, in epochs")
    p.add_argument("--smoothing", type=float, default=0.1, help="label smoothing")
    p.add_argument("--balance", choices=["loss", "sampler", "none"], default="loss",
                   help="class imbalance: class-weighted loss, weighted sampler, or nothing")
    p.add_argument("--balance-power", type=float, default=0.5,
                   help="class weight = (1/frequency)^power (1: fully balanced, 0: none)")
    p.add_argument("--aug", type=float, default=1.0, help="augmentation strength (0: off)")
    p.add_argument("--ema", type=float, default=0.999,
                   help="decay of the weight moving average evaluated and saved (0: off)")
    p.add_argument("--select", choices=["acc", "bal", "mean"], default="mean",
                   help="val criterion for the best checkpoint: accuracy, balanced accuracy, "
                        "or their mean")
    p.add_argument("--normalize", choices=["none", "dataset"], default="none",
                   help="input normalisation: none (pixel/255, which tools/export folds exactly) "
                        "or the training set's mean/std (folding it into a zero-padded first "
                        "convolution is inexact at the image border)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="arithmetic of the training steps: bf16 autocast (weights, optimiser and "
                        "evaluation stay float32) or plain float32; auto: bf16 on cuda (its "
                        "tensor cores), fp32 on the CPU")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--limit", type=int, default=0, help="use only the first N images per split")
    p.add_argument("--test", action="store_true",
                   help="also evaluate the test split, once, on the selected checkpoint (off by "
                        "default: models are chosen on val, docs/training.md)")
    # Kept so that the cards' older commands still run: not scoring test is now the default.
    p.add_argument("--no-test", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--init", help="checkpoint to start from (fine-tuning)")
    p.add_argument("--name", help="run folder name under tools/train/runs (default: time-stamp)")
    p.add_argument("--out-dir", help="run folder (overrides --name)")
    p.add_argument("--no-crc", action="store_true", help="skip the cache CRC check")
    return p.parse_args(argv)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total, label):
        self.total, self.label, self.t0 = total, label, time.time()
        self.on = sys.stderr.isatty()

    def update(self, done, loss):
        if not self.on or (done % 5 and done != self.total):
            return
        width = 30
        fill = width * done // self.total
        rate = done / max(1e-9, time.time() - self.t0)
        sys.stderr.write("\r%s [%s%s] %d/%d loss %.4f %.1f it/s" % (
            self.label, "#" * fill, "." * (width - fill), done, self.total, loss, rate))
        if done == self.total:
            sys.stderr.write("\r" + " " * 79 + "\r")
        sys.stderr.flush()


def augment(x_u8, strength, gen):
    """Dermoscopy augmentation of a uint8 NHWC batch, returning float NCHW in [0, 1].
    Lesions have no canonical orientation, so: random 90-degree rotations and flips plus a small
    rotation, scale and shift (one affine resampling, reflecting at the border), then
    brightness, contrast and saturation jitter."""
    x = x_u8.permute(0, 3, 1, 2).float().div_(255.0)
    if strength <= 0:
        return x
    n, dev = x.shape[0], x.device

    def uniform(lo, hi):
        return torch.rand(n, generator=gen).mul_(hi - lo).add_(lo).to(dev)

    angle = torch.randint(0, 4, (n,), generator=gen).float().to(dev) * (math.pi / 2)
    angle = angle + uniform(-0.26, 0.26) * strength  # +-15 degrees
    scale = torch.exp(uniform(-0.1, 0.1) * strength)
    flip = (torch.randint(0, 2, (n,), generator=gen).float().to(dev) * 2 - 1)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([
        torch.stack([cos * flip, -sin, uniform(-0.1, 0.1) * strength], 1),
        torch.stack([sin * flip, cos, uniform(-0.1, 0.1) * strength], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    b = (1 + uniform(-0.2, 0.2) * strength).view(n, 1, 1, 1)
    c = (1 + uniform(-0.2, 0.2) * strength).view(n, 1, 1, 1)
    s = (1 + uniform(-0.2, 0.2) * strength).view(n, 1, 1, 1)
    gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = gray + (x - gray) * s
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * c + mean
    return (x * b).clamp_(0.0, 1.0)


def normalize(x, mean, std):
    return (x - mean) / std


def class_weights(labels, power, k=7):
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    w = (counts.sum() / (k * np.maximum(counts, 1))) ** power
    w[counts == 0] = 0
    return w / (w * counts).sum() * counts.sum()  # mean weight per training sample = 1


def scores(pred, labels, k=7):
    conf = np.zeros((k, k), np.int64)
    np.add.at(conf, (labels, pred), 1)
    present = conf.sum(1) > 0
    recall = np.where(present, np.diag(conf) / np.maximum(conf.sum(1), 1), np.nan)
    return {"n": int(len(labels)), "accuracy": float((pred == labels).mean()) if len(labels) else 0.0,
            "balanced_accuracy": float(np.nanmean(recall)) if present.any() else 0.0,
            "recall": {sbdata.CLASSES[i]: (None if np.isnan(r) else float(r))
                       for i, r in enumerate(recall)},
            "confusion": conf.tolist()}


@torch.no_grad()
def evaluate(model, pixels, idx, labels, mean, std, device, batch=256):
    model.eval()
    preds = []
    rows = torch.from_numpy(idx).to(pixels.device)  # pixels may live on the GPU
    for i in range(0, len(idx), batch):
        x = pixels[rows[i:i + batch]].to(device)
        x = normalize(x.permute(0, 3, 1, 2).float().div_(255.0), mean, std)
        preds.append(model(x).argmax(1).cpu().numpy())
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    return scores(pred, labels)


def criterion_value(m, select):
    if select == "acc":
        return m["accuracy"]
    if select == "bal":
        return m["balanced_accuracy"]
    return 0.5 * (m["accuracy"] + m["balanced_accuracy"])


class Ema:
    """Exponential moving average of the weights (and a copy of the BatchNorm statistics)."""

    def __init__(self, model, decay):
        self.model = copy.deepcopy(model).eval()
        self.decay, self.steps = decay, 0

    @torch.no_grad()
    def update(self, model):
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for pe, p in zip(self.model.parameters(), model.parameters()):
            pe.mul_(d).add_(p.detach(), alpha=1 - d)
        for be, b in zip(self.model.buffers(), model.buffers()):
            be.copy_(b)


def make_run_dir(args):
    if args.out_dir:
        path = args.out_dir
    else:
        path = os.path.join(RUNS_DIR, args.name or time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(path, exist_ok=True)
    return path


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("tools/train: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    if args.precision == "auto":  # the recipe records what was used, never "auto"
        args.precision = "bf16" if device.type == "cuda" else "fp32"
    run_dir = make_run_dir(args)
    with open(os.path.join(run_dir, "log.txt"), "a") as log_file:
        def log(msg):
            print(msg, flush=True)
            log_file.write(msg + "\n")
            log_file.flush()

        return train(args, device, run_dir, log)


def train(args, device, run_dir, log):
    try:
        pixels_np, splits = sbdata.load_splits(args.cache, args.manifest, args.split,
                                               check_crc=not args.no_crc)
    except (OSError, sbdata.CacheError) as e:
        print("tools/train: %s" % e, file=sys.stderr)
        return 2
    if args.limit:
        splits = {k: (i[:args.limit], l[:args.limit]) for k, (i, l) in splits.items()}
    size_px = pixels_np.shape[1]
    pixels = torch.from_numpy(np.array(pixels_np))  # into memory, writable
    if device.type == "cuda":
        pixels = pixels.to(device)
    tr_idx, tr_lab = splits["train"]
    tr_idx_t, tr_lab_t = torch.from_numpy(tr_idx), torch.from_numpy(tr_lab)
    if len(tr_idx) == 0:
        print("tools/train: no training images in %s" % args.manifest, file=sys.stderr)
        return 2

    # Input normalisation, folded into conv0 by tools/export. The default is none: the export
    # pads the first convolution with black pixels (q = -128), which only equals the zero
    # padding seen in training when the input is not shifted.
    mean_l, std_l = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    if args.normalize == "dataset":
        sample = pixels[tr_idx_t[:2000].to(pixels.device)].float().div_(255.0)
        mean_l = sample.mean(dim=(0, 1, 2)).tolist()
        std_l = sample.std(dim=(0, 1, 2)).clamp_min(1e-3).tolist()
    mean = torch.tensor(mean_l, device=device).view(1, 3, 1, 1)
    std = torch.tensor(std_l, device=device).view(1, 3, 1, 1)

    arch_kwargs = json.loads(args.arch_kwargs)
    arch_kwargs.setdefault("num_classes", len(sbdata.CLASSES))
    model = models.build(args.arch, **arch_kwargs)
    cost = models.count_cost(model, size_px)
    if args.init:
        init = models.load_checkpoint(args.init)
        model.load_state_dict(init["state_dict"])
    model.to(device)
    ema = Ema(model, args.ema) if args.ema > 0 else None

    weights = class_weights(tr_lab, args.balance_power)
    loss_w = torch.tensor(weights if args.balance == "loss" else np.ones(7), dtype=torch.float32,
                          device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=loss_w, label_smoothing=args.smoothing)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    for group in opt.param_groups:
        group["lr"] = args.lr / max(1, int(args.warmup * max(1, len(tr_idx) // args.batch)))
    steps_per_epoch = max(1, len(tr_idx) // args.batch)
    total_steps = steps_per_epoch * args.epochs
    warm_steps = max(1, int(args.warmup * steps_per_epoch))

    budget_s = args.minutes * 60.0 if args.minutes else 0.0
    t_start = time.time()

    def progress(step):
        """Fraction of the schedule done: by steps, or by time when a time budget is set and
        runs out first (the machine is shared, so an epoch's duration is unpredictable)."""
        p = (step - warm_steps) / max(1, total_steps - warm_steps)
        if budget_s:
            p = max(p, (time.time() - t_start) / budget_s)
        return min(1.0, p)

    def lr_at(step):  # linear warm-up, then cosine to zero
        if step < warm_steps:
            return args.lr * (step + 1) / warm_steps
        return args.lr * 0.5 * (1 + math.cos(math.pi * progress(step)))

    global_step = 0
    gen = torch.Generator().manual_seed(args.seed)
    recipe = dict(vars(args))
    recipe.update({"input_size": size_px, "class_weights": weights.tolist(),
                   # str(): torch.__version__ is a TorchVersion, which a weights_only load
                   # (PyTorch 2.6+'s default) refuses and an older PyTorch may not unpickle.
                   "torch": str(torch.__version__), "python": platform.python_version(),
                   "train_images": int(len(tr_idx))})
    log("run %s: %s %s at %dpx, %d params, %.2f M MACs, %d INT8 weight bytes; train %d val %d"
        % (run_dir, args.arch, json.dumps(arch_kwargs), size_px, cost["params"],
           cost["macs"] / 1e6, cost["int8_weight_bytes"], len(tr_idx), len(splits["val"][0])))

    def checkpoint(net, metrics):
        return {"arch": args.arch, "arch_kwargs": arch_kwargs,
                "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                "input_size": size_px, "classes": list(sbdata.CLASSES),
                "normalize": {"mean": mean_l, "std": std_l}, "recipe": recipe,
                "metrics": metrics}

    ckpt_path = os.path.join(run_dir, "checkpoint.pt")
    history, best, best_epoch = [], -1.0, -1
    sample_w = torch.tensor(weights, dtype=torch.float64)[tr_lab_t]
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.time()
        if args.balance == "sampler":
            order = torch.multinomial(sample_w, len(tr_idx), replacement=True, generator=gen)
        else:
            order = torch.randperm(len(tr_idx), generator=gen)
        bar = Progress(steps_per_epoch, "epoch %d/%d" % (epoch, args.epochs))
        loss_sum, loss_n = 0.0, 0
        for step in range(steps_per_epoch):
            sel = order[step * args.batch:(step + 1) * args.batch]
            x_u8 = pixels[tr_idx_t[sel].to(pixels.device)]
            y = tr_lab_t[sel].to(device)
            x = normalize(augment(x_u8, args.aug, gen), mean, std)
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=args.precision == "bf16"):
                loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            global_step += 1
            for group in opt.param_groups:
                group["lr"] = lr_at(global_step)
            if ema:
                ema.update(model)
            loss_v = float(loss)
            if not math.isfinite(loss_v):
                log("epoch %d step %d: loss is %r, stopping" % (epoch, step, loss_v))
                return 1
            loss_sum, loss_n = loss_sum + loss_v, loss_n + 1
            bar.update(step + 1, loss_sum / loss_n)
        net = ema.model if ema else model
        val = evaluate(net, pixels, *splits["val"], mean, std, device)
        value = criterion_value(val, args.select)
        entry = {"epoch": epoch, "loss": loss_sum / loss_n, "lr": opt.param_groups[0]["lr"],
                 "val_accuracy": val["accuracy"], "val_balanced_accuracy": val["balanced_accuracy"],
                 "seconds": time.time() - t0}
        history.append(entry)
        mark = ""
        if value > best:
            best, best_epoch, mark = value, epoch, " *"
            torch.save(checkpoint(net, {"val": val, "epoch": epoch}), ckpt_path)
        log("epoch %3d/%d loss %.4f lr %.2e val acc %.4f bal %.4f (%.0f s)%s"
            % (epoch, args.epochs, entry["loss"], entry["lr"], val["accuracy"],
               val["balanced_accuracy"], entry["seconds"], mark))
        if budget_s and epoch < args.epochs and progress(global_step) >= 1.0:
            log("time budget of %g min used up after epoch %d" % (args.minutes, epoch))
            break

    # Evaluate the selected checkpoint: val again, and the test split once if asked.
    ckpt = models.load_checkpoint(ckpt_path)
    model.load_state_dict(ckpt["state_dict"])
    model.to(device)
    metrics = {"selection": "best val %s (epoch %d)" % (args.select, best_epoch),
               "epoch": best_epoch, "val": evaluate(model, pixels, *splits["val"], mean, std, device),
               "epochs_run": len(history), "cost": cost, "history": history}
    if args.test and not args.no_test:
        metrics["test"] = evaluate(model, pixels, *splits["test"], mean, std, device)
        ledger.record(run_dir, "tools/train --test", "float, epoch %d" % best_epoch)
        log("best epoch %d: test acc %.4f bal %.4f (float)" % (
            best_epoch, metrics["test"]["accuracy"], metrics["test"]["balanced_accuracy"]))
    ckpt["metrics"] = {k: v for k, v in metrics.items() if k != "history"}
    torch.save(ckpt, ckpt_path)
    with open(os.path.join(run_dir, "metrics.json"), "w") as f:
        json.dump({"recipe": recipe, "arch": args.arch, "arch_kwargs": arch_kwargs, **metrics},
                  f, indent=1)
    log("wrote %s and metrics.json" % ckpt_path)
    return 0
