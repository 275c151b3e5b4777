"""Train a srambench classifier on the preprocessed HAM10000 cache (.sbc + manifest).

    /usr/bin/python3 tools/train --cache C.sbc --manifest M.csv --arch effnet \
        --arch-kwargs '{"width": 0.5}' --epochs 40 [--device cuda] [--limit 64]

Writes tools/train/runs/<name>/: checkpoint.pt (the best epoch on val), metrics.json, log.txt.
See docs/training.md for the recipe and the checkpoint format.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from train.loop import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
