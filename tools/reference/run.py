"""Run a whole .sbm graph with the numpy reference (tools/reference/ops.py).

run(model_path, input_int8) -> (output int8, {tensor index: int8 array}) for
every activation tensor, after checking that the graph chains as
docs/model-format.md says.
"""
import numpy as np

from sbtools import sbm

from . import ops as K


class GraphError(Exception):
    """A graph that does not chain; names the op and field."""


def _expect(cond, op_i, op, msg):
    if not cond:
        raise GraphError("ops[%d] (%s %s): %s" % (op_i, op.get("type"), op.get("name"), msg))


def _out_shape(model, op_i, op):
    """The output shape the document's rules give for this op's inputs."""
    t = model.tensors
    x = t[op["inputs"][0]]["shape"]
    kind = op["type"]
    if kind in ("conv2d", "dwconv2d", "maxpool"):
        _expect(len(x) == 4, op_i, op, "input shape %s, expected [1,H,W,C]" % x)
        kh, kw = op["kernel"] if kind == "maxpool" else t[op["inputs"][1]]["shape"][1:3]
        dh, dw = op.get("dilation", [1, 1])
        sh, sw = op["stride"]
        pt, pl, pb, pr = op["padding"]
        oh = K.out_dim(x[1], kh, sh, dh, pt, pb)
        ow = K.out_dim(x[2], kw, sw, dw, pl, pr)
        if kind == "conv2d":
            w = t[op["inputs"][1]]["shape"]
            _expect(len(w) == 4 and w[3] == x[3], op_i, op, "weights %s do not read %d channels" % (w, x[3]))
            return [1, oh, ow, w[0]]
        if kind == "dwconv2d":
            w = t[op["inputs"][1]]["shape"]
            _expect(w[0] == 1 and w[3] == x[3], op_i, op, "weights %s, expected [1,KH,KW,%d]" % (w, x[3]))
        return [1, oh, ow, x[3]]
    if kind == "fc":
        w = t[op["inputs"][1]]["shape"]
        _expect(len(w) == 2 and w[1] == int(np.prod(x)), op_i, op,
                "weights %s do not read %d inputs" % (w, int(np.prod(x))))
        return [1, w[0]]
    if kind == "add":
        _expect(t[op["inputs"][1]]["shape"] == x, op_i, op, "add of different shapes")
        return x
    if kind == "mul":
        b = t[op["inputs"][1]]["shape"]
        _expect(b == x or (len(x) == 4 and b == [1, 1, 1, x[3]]), op_i, op,
                "mul of %s by %s, expected equal or [1,1,1,C]" % (x, b))
        return x
    if kind == "gavgpool":
        return [1, 1, 1, x[3]]
    if kind == "lut":
        _expect(model.tensors[op["table"]]["shape"] in ([256], [1, 256]), op_i, op, "table is not 256 entries")
        return x
    raise GraphError("ops[%d]: unknown op type %r" % (op_i, kind))


def validate(model):
    """Check that every op's inputs exist and come before it and shapes chain."""
    ready = {model.input}
    n = len(model.tensors)
    for i, op in enumerate(model.ops):
        for k, ti in enumerate(op["inputs"]):
            _expect(0 <= ti < n, i, op, "inputs[%d] = %d is not a tensor" % (k, ti))
            _expect(ti in ready or ti in model.arrays, i, op,
                    "inputs[%d] = tensor %d is computed later or never" % (k, ti))
        _expect(0 <= op["output"] < n and op["output"] not in model.arrays, i, op, "bad output tensor")
        want = _out_shape(model, i, op)
        got = model.tensors[op["output"]]["shape"]
        _expect(got == want, i, op, "output shape %s, the rules give %s" % (got, want))
        ready.add(op["output"])
    if model.output not in ready:
        raise GraphError("output tensor %d is never computed" % model.output)


def run_op(model, op, acts):
    t = model.tensors
    ins = op["inputs"]
    x = acts[ins[0]]
    to = t[op["output"]]
    kind = op["type"]
    if kind in ("conv2d", "dwconv2d", "fc"):
        return K.run_conv_like(op, model, x, t[ins[0]], to)
    if kind == "add":
        return K.add(op, model, x, acts[ins[1]], t[ins[0]], t[ins[1]], to)
    if kind == "mul":
        return K.mul(op, model, x, acts[ins[1]], t[ins[0]], t[ins[1]], to)
    if kind == "gavgpool":
        return K.gavgpool(op, model, x, t[ins[0]], to)
    if kind == "maxpool":
        return K.maxpool(op, x, to)
    if kind == "lut":
        return K.lut(op, model, x)
    raise GraphError("unknown op type %r" % kind)


def run_model(model, input_int8, check=True):
    """Run an already read model; returns (output, {tensor index: int8 array})."""
    if check:
        validate(model)
    shape = model.tensors[model.input]["shape"]
    x = np.asarray(input_int8, np.int8)
    if x.size != int(np.prod(shape)):
        raise ValueError("input has %d values, the model expects %s" % (x.size, shape))
    acts = {model.input: x.reshape(shape)}
    for op in model.ops:
        y = run_op(model, op, acts)
        acts[op["output"]] = np.asarray(y, np.int8).reshape(model.tensors[op["output"]]["shape"])
    return acts[model.output], acts


def run(model_path, input_int8):
    """Read and run a .sbm file on one int8 input [1,H,W,3] (q = pixel - 128)."""
    return run_model(sbm.read(model_path), input_int8)
