"""The console entry point `seq2seq` (and `python -m seq2seq.cli`, as torchrun runs it)."""

import sys

from seq2seq.commands import main

if __name__ == "__main__":
    sys.exit(main())
