"""tools/export: a trained PyTorch model (or a random-weight one, or one
quantized by PyTorch itself) -> .sbm. Usage in docs/tools.md."""
import argparse
import os
import sys

import torch

from sbtools import exporter


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tools/export", description=__doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint .pt written by tools/train")
    src.add_argument("--random-arch", choices=["effnet_b0", "mobilenet_v2"],
                     help="seeded random-weight model (hardware studies, tests)")
    src.add_argument("--torch-quantized", choices=["mobilenet_v2", "resnet18"],
                     help="torchvision quantizable model with random init, quantized by "
                          "torch.ao.quantization (--engine), exported in float requant mode")
    p.add_argument("-o", "--output", required=True, help="output .sbm path")
    p.add_argument("--size", type=int, help="input size in pixels (default: the checkpoint's)")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier (--random-arch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="model name in the header (default: from the output file)")
    p.add_argument("--calib", type=int, default=200, help="calibration images (default 200)")
    # percentile by default: measured on a 64 px checkpoint, top-1 int8 vs float 94% (minmax 84%)
    p.add_argument("--calib-method", choices=["minmax", "percentile"], default="percentile")
    p.add_argument("--percentile", type=float, default=99.99)
    p.add_argument("--calib-data", help="image cache .sbc (docs/dataset-cache.md)")
    p.add_argument("--calib-manifest", help="manifest CSV written by sbprep")
    p.add_argument("--calib-random", action="store_true", help="calibrate on uniform random pixels")
    p.add_argument("--requant", choices=["fixed", "float"], default="fixed")
    p.add_argument("--engine", choices=["qnnpack", "onednn"], default="qnnpack",
                   help="PyTorch quantized engine (--torch-quantized)")
    p.add_argument("--with-f32", action="store_true",
                   help="also store float32 weights for the fp32 path (files under 20 MB)")
    a = p.parse_args(argv)
    if a.random_arch and not a.size:
        p.error("--random-arch needs --size")
    if not a.calib_random and not a.calib_data and not a.random_arch:
        p.error("give --calib-data PATH.sbc --calib-manifest CSV, or --calib-random")
    if a.calib_data and not a.calib_manifest:
        p.error("--calib-data needs --calib-manifest")
    return a


def calib_batches(a, size, batch=8):
    """Calibration images (uint8 NHWC batches): the first N of the training
    split, or random pixels."""
    if a.calib_random or not a.calib_data:
        return exporter.random_batches(a.calib, size, seed=a.seed, batch=batch)
    from sbtools import data
    pixels, splits = data.load_splits(a.calib_data, a.calib_manifest)
    if pixels.shape[1] != size:
        raise SystemExit("%s: images are %dpx, the model expects %dpx"
                         % (a.calib_data, pixels.shape[1], size))
    return exporter.first_images(pixels, splits["train"][0][:a.calib], batch)


def load_checkpoint(path):
    from sbtools import models
    ck = models.load_checkpoint(path)
    for key in ("arch", "arch_kwargs", "state_dict", "input_size", "classes", "normalize"):
        if key not in ck:
            raise SystemExit("%s: checkpoint has no %r field (expected a tools/train checkpoint)"
                             % (path, key))
    model = models.build(ck["arch"], **ck["arch_kwargs"])
    model.load_state_dict(ck["state_dict"])
    return model.eval(), ck


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    from sbtools.graph import CaptureError
    from sbtools.data import CacheError
    try:
        return run(a)
    except (CaptureError, CacheError, ValueError, OSError) as e:
        print("tools/export: %s" % e, file=sys.stderr)
        return 1


def run(a):
    name = a.name or os.path.splitext(os.path.basename(a.output))[0]
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    if a.torch_quantized:
        from sbtools import torchq
        size = a.size or 224
        prov = torchq.export_torchvision(a.torch_quantized, a.output, size, a.engine,
                                         calib_batches(a, size), seed=a.seed, name=name)
        print("%s: %s" % (a.output, prov))
        return 0
    if a.random_arch:
        size = a.size
        model = exporter.random_model(a.random_arch, width=a.width, seed=a.seed, size=size)
        classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
        normalize = {"mean": exporter.IMAGENET_MEAN, "std": exporter.IMAGENET_STD}
        prov = {"arch": a.random_arch, "arch_kwargs": {"width": a.width}, "weights": "random",
                "seed": a.seed, "dataset": "none (random pixels)"}
    else:
        model, ck = load_checkpoint(a.checkpoint)
        size = a.size or int(ck["input_size"])
        classes, normalize = ck["classes"], ck["normalize"]
        prov = {"arch": ck["arch"], "arch_kwargs": ck["arch_kwargs"], "weights": a.checkpoint,
                "recipe": ck.get("recipe", {}), "metrics": ck.get("metrics", {}),
                "dataset": "ham10000"}
    prov["calibration_data"] = "random pixels" if (a.calib_random or not a.calib_data) else {
        "cache": a.calib_data, "manifest": a.calib_manifest, "split": "train"}
    b, _ = exporter.export_float_model(model, a.output, size, classes, normalize,
                                       calib_batches(a, size), a.requant, a.calib_method,
                                       a.percentile, a.with_f32, name, prov)
    print("%s: %d ops, %d tensors, requant %s" % (a.output, len(b.ops), len(b.tensors), a.requant))
    return 0
