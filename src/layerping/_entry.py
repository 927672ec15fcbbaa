"""Process entry point of the ``layerping`` command and of ``python -m layerping``.

It exists to start and stop fast. Start: layerping's value classes come from
:mod:`layerping._value` rather than ``dataclasses``, which costs about 1 ms per class to define
and imports ``inspect`` (with ast, dis and tokenize: 15 ms more); ``tests/engine/test_runner.py``
checks that none of them is loaded. Stop: once the command has written everything and closed
its files, the process ends with ``os._exit``, skipping the interpreter's teardown (freeing every
object and arena one by one: 10 to 15 ms after a /16 sweep, measured with strace) that nobody
waits for but the user. A program that imports layerping as a library is not affected.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def main() -> NoReturn:
    import signal

    from layerping import _stdio, privilege

    # A closed pipe ends the command as it ends iputils ping: SIGPIPE, quietly (see _stdio).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _stdio.occupy_closed_descriptors()
    out = _stdio.guard_standard_streams()  # before any output module binds sys.stdout
    privilege.for_command()
    from layerping.cli import main as cli_main

    code = cli_main()
    sys.stdout.flush()
    sys.stderr.flush()
    if out.error is not None:  # /dev/full, a closed stdout: said once, at the end, as ping does
        sys.stderr.write(f"layerping: write error: {out.error.strerror}\n")
        sys.stderr.flush()
        code = code or 1
    os._exit(code)
