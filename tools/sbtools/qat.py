"""Quantisation-aware fine-tuning on the exporter's own graph.

QatGraph trains the FloatGraph that tools/export quantises (BatchNorm and the
input normalisation already folded), with every quantisation the .sbm will
apply simulated in the forward pass:
- weights: symmetric int8 per output channel at max|w| / 127, as
  quant.weight_qparams computes them from the weights of the moment;
- biases: int32 at s_in * s_w, as quant.quantize_bias;
- activations: asymmetric int8 of every op's output, with the (scale, zero
  point) that quant.act_qparams gives for ranges calibrated once before the
  fine-tune and then kept fixed, so the file written at the end uses the very
  scales the weights were trained against (maxpool keeps its input's, as in
  the exporter).
Rounding passes the gradient straight through (STE); activations outside
their range get none (torch.fake_quantize_per_tensor_affine). What is not
simulated: the fixed-point requantisation multipliers and the int8 add's
20-bit pre-shift. Fed the same inputs, an op's output is then at most one step
off the file's, but such steps grow through a deep network's depth (on
tiny-128, 7-11 of 1003 val images change their top class), so the C framework
scores the written file.
"""
import types

import torch

from . import exporter
from .graph import _run_op


class FixedRanges:
    """Activation ranges decided in advance: {tensor id: (lo, hi)}; quacks like
    exporter.Calibrator for exporter.quantize_graph."""

    def __init__(self, ranges):
        self.ranges = dict(ranges)

    def range(self, t):
        return self.ranges[t]


def fake_weight(w):
    """Per-output-channel symmetric int8 of w (float [O, ...]), STE. Returns
    (fake-quantised w, scales [O])."""
    amax = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1)
    scales = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    s = scales.reshape((-1,) + (1,) * (w.ndim - 1))
    q = torch.clamp(torch.round(w / s), -127, 127) * s
    return w + (q - w).detach(), scales


def fake_bias(b, step):
    """int32 bias at step = s_in * s_w[o] (per channel), STE."""
    q = torch.round(b / step) * step
    return b + (q - b).detach()


class QatGraph(torch.nn.Module):
    def __init__(self, g, ranges):
        super().__init__()
        self.g = g
        self.ranges = dict(ranges)
        self.qp = exporter.act_qparams_of(g, self.fixed_ranges())  # what the file will hold
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        self.slot = {}  # op index -> index in weights/biases
        for i, op in enumerate(g.ops):
            if "w" in op.p:
                self.slot[i] = len(self.weights)
                self.weights.append(torch.nn.Parameter(op.p["w"].detach().clone().float()))
                self.biases.append(torch.nn.Parameter(op.p["b"].detach().clone().float()))

    def forward(self, x):
        """x: float NCHW pixel/255 (exact in the input's int8: q = pixel - 128)."""
        vals = {0: x}
        for i, op in enumerate(self.g.ops):
            vals[op.output] = self.op_output(i, [vals[t] for t in op.inputs])
        return vals[self.g.output]

    def op_output(self, i, xs):
        """Op i of the graph on float inputs xs, rounded as the file will round it."""
        op = run = self.g.ops[i]
        if i in self.slot:
            k = self.slot[i]
            w, scales = fake_weight(self.weights[k])
            step = float(self.qp[op.inputs[0]][0]) * scales
            run = types.SimpleNamespace(type=op.type, act=op.act, p=dict(
                op.p, w=w, b=fake_bias(self.biases[k], step)))
        y = _run_op(run, xs)
        if op.type == "maxpool":
            return y
        s, z = self.qp[op.output]
        return torch.fake_quantize_per_tensor_affine(y, s, z, -128, 127)

    def graph(self):
        """The FloatGraph with the trained weights (on the CPU, wherever they were trained),
        for exporter.quantize_graph."""
        for i, k in self.slot.items():
            p = self.g.ops[i].p
            p["w"] = self.weights[k].detach().cpu().clone()
            p["b"] = self.biases[k].detach().cpu().clone()
        return self.g

    def fixed_ranges(self):
        return FixedRanges(self.ranges)
