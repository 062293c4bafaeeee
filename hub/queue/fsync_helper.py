"""Run as a process of its own by ``SqliteAppender``: fsync one file each time a byte
arrives on stdin, and answer with one byte on stdout: ``.`` when the data is on disk, or
``!`` and the error on one line. It ends at the end of its input.

Standard library only, started with ``python -I``: it starts in milliseconds, and it
shares nothing with the hub, least of all the GIL (see ``hub.queue.sqlite_append``).
"""

import os
import sys


def serve(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:  # said on the first request; the hub refuses that append (503)
        os.read(0, 1)
        os.write(1, f"!cannot open {path}: {exc}\n".encode())
        return
    while os.read(0, 1):
        try:
            os.fsync(fd)
        except OSError as exc:
            os.write(1, f"!{exc}\n".encode())
            continue
        os.write(1, b".")


if __name__ == "__main__":
    serve(sys.argv[1])
