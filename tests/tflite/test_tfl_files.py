#!/usr/bin/env python3
"""The tflite plugin on files made here (make_tflite.py): the tiny networks of
every mapped operator load (and, with the reference runtime, match it);
each broken variant and every truncation is refused with a message naming
the file and the fault, never a crash; the MLPerf Tiny models truncated
likewise when present.

  test_tfl_files.py --tfl-run BIN [--venv DIR] [--reference tfl_reference.py ARGS...]
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tflite  # noqa: E402

MLPERF = ['pretrainedResnet_quant', 'kws_ref_model', 'ad01_int8']


def load(tfl_run, path):
    return subprocess.run([tfl_run, path, '--info'], capture_output=True, text=True)


def refused(tfl_run, path, want=None):
    """The load fails with exit status 1 and a message naming the file."""
    r = load(tfl_run, path)
    msg = r.stderr.strip()
    ok = r.returncode == 1 and msg.startswith(f'tfl-run: load: {path}: ') and (want is None or want in msg)
    if not ok:
        print(f'FAIL {os.path.basename(path)}: status {r.returncode}, message {msg!r}, expected {want!r}')
    return ok


def truncations(tfl_run, data, tmp, name, step):
    ok = True
    path = os.path.join(tmp, name + '.truncated.tflite')
    cuts = list(range(0, min(len(data), 256))) + list(range(256, len(data), step))
    for n in cuts:
        with open(path, 'wb') as f:
            f.write(data[:n])
        if not refused(tfl_run, path):
            print(f'  (truncated to {n} of {len(data)} bytes)')
            ok = False
            break
    print(f'{name}: {len(cuts)} truncations refused' if ok else f'{name}: a truncation was not refused')
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tfl-run', required=True)
    ap.add_argument('--models', default=None, help='folder of the MLPerf Tiny models')
    ap.add_argument('--reference', nargs=argparse.REMAINDER, default=None,
                    help='tfl_reference.py and its arguments, run on the tiny network')
    a = ap.parse_args()
    ok = True
    good, variants = make_tflite.variants()
    with tempfile.TemporaryDirectory() as tmp:
        tiny = os.path.join(tmp, 'tiny.tflite')
        with open(tiny, 'wb') as f:
            f.write(good)
        r = load(a.tfl_run, tiny)
        if r.returncode != 0 or 'softmax 1' not in r.stdout or 'input 1 4 4 2' not in r.stdout:
            print(f'FAIL tiny.tflite: {r.returncode} {r.stdout!r} {r.stderr!r}')
            ok = False
        for name, (data, want) in variants.items():
            path = os.path.join(tmp, name + '.tflite')
            with open(path, 'wb') as f:
                f.write(data)
            ok = refused(a.tfl_run, path, want) and ok
        print(f'{len(variants)} broken variants checked')
        ok = truncations(a.tfl_run, good, tmp, 'tiny', 7) and ok
        for m in MLPERF:
            p = os.path.join(a.models or '', m + '.tflite')
            if a.models and os.path.exists(p):
                with open(p, 'rb') as f:
                    data = f.read()
                ok = truncations(a.tfl_run, data, tmp, m, max(1, len(data) // 64)) and ok
            else:
                print(f'{m}: absent, its truncations skipped')
        more = os.path.join(tmp, 'tiny_more.tflite')
        with open(more, 'wb') as f:
            f.write(make_tflite.tiny(more=True)[0])
        for path in ([tiny, more] if a.reference else []):
            r = subprocess.run([sys.executable] + a.reference + ['--model', path, '--n', '50'])
            if r.returncode == 77:
                print(f'{os.path.basename(path)} against the reference: skipped (no reference runtime)')
            elif r.returncode != 0:
                ok = False
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
