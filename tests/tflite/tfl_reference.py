#!/usr/bin/env python3
"""Compare the tflite plugin's outputs with the model's own runtime.

The reference is LiteRT (ai-edge-litert) with its reference kernels
(OpResolverType.BUILTIN_REF: TFLite's reference_ops, the integer arithmetic
TFLite Micro's kernels share). Seeded random int8 inputs go through both; the
graph's int8 output (the softmax's input when the model ends in SOFTMAX) and
the final output are compared byte for byte, for every engine path given.

  tfl_reference.py --tfl-run BIN --model M.tflite [--n 20] [--seed 1] [--venv DIR]
                   [--path NAME=ARGS ...]   (ARGS: extra tfl-run arguments)

Exit 0 when every path is identical on every input, 77 (meson's skip) when
the model file or LiteRT is absent, 1 otherwise. Prints identical % per path.
"""
import argparse
import os
import subprocess
import sys
import tempfile

SKIP = 77


def reference(model, inputs):
    """(graph output, final output) per input, from LiteRT's reference kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    out = it.get_output_details()[0]['index']
    last = it._get_ops_details()[-1]
    logits = int(last['inputs'][0]) if last['op_name'] == 'SOFTMAX' else out
    res = []
    for x in inputs:
        it.set_tensor(inp['index'], x.reshape(inp['shape']))
        it.invoke()
        res.append((it.get_tensor(logits).reshape(-1).copy(), it.get_tensor(out).reshape(-1).copy()))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tfl-run', required=True)
    ap.add_argument('--model', required=True)
    ap.add_argument('--n', type=int, default=20)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--path', action='append', default=[], help='NAME=extra tfl-run arguments')
    ap.add_argument('--venv', help='a virtual environment with ai-edge-litert (make venv): re-run under it')
    a = ap.parse_args()
    venv_py = os.path.join(a.venv, 'bin', 'python') if a.venv else None
    if venv_py and os.path.exists(venv_py) and os.path.realpath(sys.prefix) != os.path.realpath(a.venv):
        os.execv(venv_py, [venv_py] + sys.argv)
    if not os.path.exists(a.model):
        print(f'SKIP: {a.model} absent (../shared/models/mlperf-tiny/README.md)')
        return SKIP
    try:
        import numpy as np
        import ai_edge_litert  # noqa: F401
    except ImportError as e:
        print(f'SKIP: the reference runtime is absent ({e}); `make venv` installs it in build/venv')
        return SKIP
    info = subprocess.run([a.tfl_run, a.model, '--info'], capture_output=True, text=True, check=True).stdout
    n_in = 1
    for line in info.splitlines():
        if line.startswith('input '):
            for d in line.split()[1:]:
                n_in *= int(d)
    rng = np.random.RandomState(a.seed)
    inputs = [rng.randint(-128, 128, size=n_in).astype(np.int8) for _ in range(a.n)]
    ref = reference(a.model, inputs)
    n_out = ref[0][0].size
    paths = [('kernels', [])] + [(p.split('=', 1)[0], p.split('=', 1)[1].split()) for p in a.path]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'in.bin')
        np.concatenate(inputs).tofile(src)
        for name, extra in paths:
            dst = os.path.join(tmp, name + '.bin')
            subprocess.run([a.tfl_run, a.model, src, dst] + extra, check=True)
            got = np.fromfile(dst, dtype=np.int8).reshape(a.n, 2, n_out)
            same_logits = sum(np.array_equal(got[i, 0], ref[i][0]) for i in range(a.n))
            same_final = sum(np.array_equal(got[i, 1], ref[i][1]) for i in range(a.n))
            worst = max(int(np.abs(got[i, 0].astype(int) - ref[i][0].astype(int)).max()) for i in range(a.n))
            print(f'{os.path.basename(a.model)} {name}: graph output identical on {same_logits}/{a.n} inputs '
                  f'({100.0 * same_logits / a.n:.1f}%), final output {same_final}/{a.n} '
                  f'({100.0 * same_final / a.n:.1f}%), largest graph-output difference {worst}')
            ok = ok and same_logits == a.n and same_final == a.n
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
