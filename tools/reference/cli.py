"""Command line of the numpy reference, mirroring sbm-run: read MODEL.sbm and
INPUT.bin (raw int8 [1,H,W,3], q = pixel - 128), write the int8 logits to
OUT.bin, and with --dump DIR every activation tensor t as DIR/t<t>.bin (raw
int8, NHWC) plus DIR/tensors.txt (index, name, shape)."""
import argparse
import os
import sys

import numpy as np

from sbtools import sbm

from .run import GraphError, run_model


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/reference", description=__doc__)
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--dump", metavar="DIR")
    a = p.parse_args(argv)
    try:
        model = sbm.read(a.model)
        x = np.fromfile(a.input, np.int8)
        shape = model.tensors[model.input]["shape"]
        if x.size != int(np.prod(shape)):
            raise ValueError("%s: %d bytes, expected %d (int8 %s)" % (a.input, x.size, int(np.prod(shape)), shape))
        out, acts = run_model(model, x)
    except (sbm.SbmError, GraphError, ValueError, OSError) as e:
        print("reference: %s" % e, file=sys.stderr)
        return 1
    out.tofile(a.output)
    if a.dump:
        dump(model, acts, a.dump)
    return 0


def dump(model, acts, folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tensors.txt"), "w") as f:
        for i in sorted(acts):
            acts[i].tofile(os.path.join(folder, "t%d.bin" % i))
            f.write("%d %s %s\n" % (i, model.tensors[i]["name"],
                                    "x".join(str(d) for d in model.tensors[i]["shape"])))
