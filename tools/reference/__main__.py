"""CLI: python3 tools/reference MODEL.sbm INPUT.bin OUT.bin [--dump DIR]."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reference.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
