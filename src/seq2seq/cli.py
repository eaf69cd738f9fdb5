"""The console entry point `seq2seq` (and `python -m seq2seq.cli`, as torchrun runs it).

`seq2seq train` first runs itself again on tcmalloc where it is installed (seq2seq/runtime.py:
glibc's heap fragments under training's changing tensor shapes); SEQ2SEQ_MALLOC=glibc keeps glibc.
"""

import sys

from seq2seq.runtime import preload_allocator


def main(argv: list[str] | None = None) -> int:
    """Run one command; `argv` None is a process start, the only time the allocator may change."""
    if argv is None:
        try:
            preload_allocator(sys.argv[1:])  # before anything allocates; may re-execute
        except ValueError as err:
            print(f"seq2seq: error: {err}", file=sys.stderr)
            return 2  # commands.EXIT_ERROR
    from seq2seq.commands import main as run

    status = run(argv)
    distributed = sys.modules.get("seq2seq.train.distributed")  # loaded only by training
    if argv is None and distributed is not None and distributed.joined():
        distributed.end_process(status)  # a torchrun worker: no finalisation (it can abort)
    return status


if __name__ == "__main__":
    sys.exit(main())
