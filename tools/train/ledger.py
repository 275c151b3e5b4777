"""The test-split ledger: every time a tool scores the test split it appends one line to
`test-uses.jsonl` in the folder of what it scored (a run folder, or a model's folder), so that a
card can say how many times test was seen, when, and by what (docs/training.md, the selection
rule). Tools score test only when asked (--test, --split test)."""

import datetime
import json
import os

NAME = "test-uses.jsonl"


def record(folder, tool, what):
    """Append {when, tool, what} to FOLDER/test-uses.jsonl."""
    entry = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "tool": tool, "what": what}
    with open(os.path.join(folder, NAME), "a") as f:
        f.write(json.dumps(entry) + "\n")


def read(folder):
    """The entries recorded in FOLDER, oldest first ([] when there is no ledger)."""
    path = os.path.join(folder, NAME)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
