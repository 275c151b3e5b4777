#!/usr/bin/env python3
"""`srambench run` on the MLPerf Tiny models (../shared/models/mlperf-tiny,
MLCommons, Apache-2.0) with the synthetic dataset: ResNet-8 (32x32x3), DS-CNN
(49x10x1) and the autoencoder (640) on cpu and sram1k. Each job must finish
every sample with accuracy null (no labels: cost only), sram1k must report a
simulated latency, and cpu and sram1k must predict the same classes. A
labelled image dataset must be refused for a non-image input. Models absent:
skipped (77).

  test_tfl_synthetic.py --srambench BIN --plugin-dir DIR --models DIR
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tflite  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = [('pretrainedResnet_quant', 10), ('kws_ref_model', 12), ('ad01_int8', 640)]
SRAM1K = os.path.join(ROOT, 'backends/sram/sram1k.toml')


def bench(dataset, model):
    return (f'[run]\nname = "synthetic"\nworkers = 2\n\n[dataset]\n{dataset}\n\n'
            f'[[model]]\nname = "m"\nplugin = "tflite"\npath = "{model}"\n\n'
            f'[[backend]]\nplugin = "cpu"\n\n[[backend]]\nname = "sram1k"\nplugin = "sram"\nconfig = "{SRAM1K}"\n')


def run(a, tmp, text, name):
    path = os.path.join(tmp, name + '.toml')
    with open(path, 'w') as f:
        f.write(text)
    out = os.path.join(tmp, name)
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=os.path.abspath(a.plugin_dir),
               SRAMBENCH_CACHE_DIR=os.path.join(tmp, 'cache'))
    r = subprocess.run([a.srambench, 'run', '--output-dir', out, '--no-charts', '-q', path],
                       capture_output=True, text=True, env=env)
    res = None
    if os.path.exists(os.path.join(out, 'results.json')):
        with open(os.path.join(out, 'results.json')) as f:
            res = json.load(f)
    return r, res


def check_model(a, tmp, name, classes):
    model = os.path.join(a.models, name + '.tflite')
    r, res = run(a, tmp, bench(f'plugin = "synthetic"\nn = 4\ndata_seed = 3\nclasses = {classes}', model), name)
    if r.returncode != 0 or not res:
        print(f'FAIL {name}: srambench run exit {r.returncode}\n{r.stdout}\n{r.stderr}')
        return False
    preds = {}
    for j in res['jobs']:
        acc = j['metrics']['accuracy']
        lat = j['metrics']['latency_ms_median']
        preds[j['backend']] = [s.get('pred') for s in j['samples']]
        print(f"{name} x {j['backend']}: {j['status']}, {j['n_images']} samples, accuracy {acc['value']} "
              f"({acc['note']}), latency {lat['value']} ms ({lat['provenance']})")
        if j['status'] != 'ok' or j['n_images'] != 4 or acc['value'] is not None or 'no labels' not in acc['note']:
            print('FAIL: expected ok, 4 samples, accuracy null for want of labels')
            return False
        if j['backend'] == 'sram1k' and not (lat['provenance'] == 'simulated' and lat['value'] > 0):
            print('FAIL: sram1k without a simulated latency')
            return False
    if preds.get('cpu') != preds.get('sram1k'):
        print(f'FAIL {name}: cpu and sram1k predictions differ: {preds}')
        return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--srambench', required=True)
    ap.add_argument('--plugin-dir', required=True)
    ap.add_argument('--models', required=True)
    a = ap.parse_args()
    a.models = os.path.abspath(a.models)
    present = [(m, k) for m, k in MODELS if os.path.exists(os.path.join(a.models, m + '.tflite'))]
    if not present:
        print(f'SKIP: no MLPerf Tiny model in {a.models}')
        return 77
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for m, k in present:
            ok = check_model(a, tmp, m, k) and ok
        # a labelled image dataset cannot feed a non-image input ([1,4,4,2], 7 classes)
        model = os.path.join(tmp, 'nonimage.tflite')
        with open(model, 'wb') as f:
            f.write(make_tflite.tiny(hw=4, cin=2, classes=7)[0])
        mini = os.path.join(ROOT, 'tests/hardening/data/mini-ham')
        r, res = run(a, tmp, bench(f'plugin = "ham10000"\npath = "{mini}"\nlimit = 2', model), 'labelled')
        errors = ' '.join(j.get('error') or '' for j in (res or {}).get('jobs', [])) + r.stderr
        if 'is not an image [1,S,S,3]' not in errors or r.returncode != 1:
            print(f'FAIL: a labelled dataset with a [1,4,4,2] input: exit {r.returncode}, {errors!r}')
            ok = False
        else:
            print(f'a [1,4,4,2] input with a labelled image dataset: refused (exit {r.returncode})')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
