#!/usr/bin/env python3
"""`srambench run` with a .tflite model (plugin = "tflite"): the tiny image
network of make_tflite.py (8x8x3 in, 7 classes out: the test network, not a
trained one) on the mini HAM10000 folder of tests/hardening, on the cpu and
sram (sram1k) backends. Both jobs must succeed on every image and predict the
same classes (the same int8 logits give the same top-1).

  test_tfl_run.py --srambench BIN --plugin-dir DIR
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import make_tflite  # noqa: E402

BENCH = """[run]
name = "tflite-small"
workers = 2

[dataset]
plugin = "ham10000"
path = "{mini}"
limit = 6

[[model]]
name = "tiny-tflite"
plugin = "tflite"
path = "{model}"

[[backend]]
plugin = "cpu"

[[backend]]
name = "sram1k"
plugin = "sram"
config = "{sram1k}"
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--srambench', required=True)
    ap.add_argument('--plugin-dir', required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, 'tiny_image.tflite')
        with open(model, 'wb') as f:
            f.write(make_tflite.tiny(hw=8, cin=3, classes=7)[0])
        bench = os.path.join(tmp, 'bench.toml')
        with open(bench, 'w') as f:
            f.write(BENCH.format(mini=os.path.join(ROOT, 'tests/hardening/data/mini-ham'), model=model,
                                 sram1k=os.path.join(ROOT, 'backends/sram/sram1k.toml')))
        out = os.path.join(tmp, 'out')
        env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=os.path.abspath(a.plugin_dir),
                   SRAMBENCH_CACHE_DIR=os.path.join(tmp, 'cache'))
        r = subprocess.run([a.srambench, 'run', '--output-dir', out, '--no-charts', '-q', bench],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            print(f'FAIL: srambench run exit {r.returncode}\n{r.stdout}\n{r.stderr}')
            return 1
        with open(os.path.join(out, 'results.json')) as f:
            res = json.load(f)
    jobs = res['jobs']
    preds = {}
    for j in jobs:
        samples = j.get('samples', j.get('images', []))
        preds[j['backend']] = [s.get('pred') for s in samples]
        print(f"{j['model']} x {j['backend']}: {j['status']}, {len(samples)} samples")
        if j['status'] != 'ok' or len(samples) != 6:
            print('FAIL: expected status ok and 6 samples')
            return 1
    if len(preds) != 2 or len(set(tuple(p) for p in preds.values())) != 1:
        print(f'FAIL: cpu and sram1k predictions differ: {preds}')
        return 1
    print('cpu and sram1k predict the same classes:', preds['cpu'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
