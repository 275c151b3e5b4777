"""The shipped models (plugins/models/<name>/) against their cards: each folder holds one .sbm
under 20 MB that reads and checks (CRC, tensors), and a MODEL_CARD.md that names the file with its
exact size and the .sbm's input size, so a re-exported model with a stale card fails here. A
trained model (one with metrics.json) has the sections the project asks of a card, the dataset's
licence, and a metrics.json with val and test scores. Every model that bench.toml runs exists."""

import glob
import json
import os
import re
import sys
import unittest

try:
    from sbtest import REPO as ROOT, sbm
except ImportError as e:  # meson: exit code 77 = skipped
    print("skip: Debian's python3-numpy is needed (%s)" % e)
    sys.exit(77)

MODELS = os.path.join(ROOT, "plugins", "models")
MAX_BYTES = 20 * 1000 * 1000  # the project's limit for a committed model file


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def model_dirs():
    return sorted(d for d in glob.glob(os.path.join(MODELS, "*")) if os.path.isdir(d))


class ShippedModelsTest(unittest.TestCase):
    def test_there_are_models(self):
        self.assertGreaterEqual(len(model_dirs()), 1, MODELS)

    def test_file_and_card_agree(self):
        for d in model_dirs():
            with self.subTest(model=os.path.basename(d)):
                files = glob.glob(os.path.join(d, "*.sbm"))
                self.assertEqual(len(files), 1, "%s: expected one .sbm, found %s" % (d, files))
                path = files[0]
                size = os.path.getsize(path)
                self.assertLess(size, MAX_BYTES, path)
                model = sbm.read(path)  # raises on a bad CRC or tensor table
                card = read_text(os.path.join(d, "MODEL_CARD.md"))
                row = re.search(r"^\| file \| `([^`]+)` \(([\d,]+) bytes\)", card, re.M)
                self.assertIsNotNone(row, "%s: no '| file | `NAME.sbm` (N bytes)' row" % d)
                self.assertEqual(row.group(1), os.path.basename(path))
                self.assertEqual(int(row.group(2).replace(",", "")), size,
                                 "%s: the card gives another size: re-exported without a new card?"
                                 % path)
                shape = model.tensors[model.input]["shape"]  # NHWC
                row = re.search(r"^\| input \| (\d+)x(\d+)x(\d+) ", card, re.M)
                self.assertIsNotNone(row, "%s: no '| input | HxWxC' row" % d)
                self.assertEqual([int(g) for g in row.groups()], list(shape[1:]), path)

    def test_trained_cards_are_complete(self):
        trained = [d for d in model_dirs() if os.path.exists(os.path.join(d, "metrics.json"))]
        self.assertGreaterEqual(len(trained), 1)
        for d in trained:
            with self.subTest(model=os.path.basename(d)):
                card = read_text(os.path.join(d, "MODEL_CARD.md"))
                for want in ("## Data", "## Recipe", "## Accuracy", "## Reproduce",
                             "CC BY-NC-SA 4.0", "| parameters |", "| MACs |", "INT8", "float32"):
                    self.assertIn(want, card, "%s/MODEL_CARD.md" % d)
                metrics = json.loads(read_text(os.path.join(d, "metrics.json")))
                for split in ("val", "test"):
                    self.assertIn("accuracy", metrics[split])
                    self.assertIn("balanced_accuracy", metrics[split])

    def test_trained_models_are_calibrated(self):
        # issue 25 item 5: a trained model ships with the softmax temperature fitted on val
        # (tools/train/calibrate.py), and its card's Calibration section gives that T
        trained = [d for d in model_dirs() if os.path.exists(os.path.join(d, "metrics.json"))]
        for d in trained:
            with self.subTest(model=os.path.basename(d)):
                t = sbm.read(glob.glob(os.path.join(d, "*.sbm"))[0]).header.get("temperature")
                self.assertIsNotNone(t, "%s: no temperature: run tools/train/calibrate.py on val" % d)
                self.assertTrue(0.05 <= t <= 20, "%s: temperature %r" % (d, t))
                card = read_text(os.path.join(d, "MODEL_CARD.md"))
                self.assertIn("## Calibration", card, "%s/MODEL_CARD.md" % d)
                self.assertIn("T = %.4f" % t, card, "%s/MODEL_CARD.md: the card gives another T" % d)

    def test_bench_toml_models_exist(self):
        paths = re.findall(r'^path = "(plugins/models/[^"]+)"', read_text(os.path.join(ROOT, "bench.toml")),
                           re.M)
        self.assertGreaterEqual(len(paths), 1)
        for p in paths:
            self.assertTrue(os.path.isfile(os.path.join(ROOT, p)), p)


if __name__ == "__main__":
    unittest.main()
