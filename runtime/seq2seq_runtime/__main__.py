"""`python -m seq2seq_runtime translate --model DIR`."""

import sys

from seq2seq_runtime.cli import main

sys.exit(main())
