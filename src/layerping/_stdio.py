"""Standard output as iputils ``ping`` treats it: a full or closed stdout loses the output, not
the run.

iputils ping (20221126, measured) goes on pinging when stdout is ``/dev/full`` or closed, then
says ``ping: write error`` on stderr and exits with status 1 (stdio keeps an error flag, and
close_stdout reports it at exit); a broken pipe kills it with SIGPIPE, quietly. ``_entry.main``
sets SIGPIPE back to its default action (Python ignores it, and would raise BrokenPipeError from
whatever write met the closed pipe) and puts :class:`GuardedStream` in place of ``sys.stdout``
and ``sys.stderr``, before any output module binds them.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO, cast


class GuardedStream:
    """A text stream whose write and flush never raise; the first error is kept in ``error``.

    After an error nothing more is written (what stdio would write is lost as well). ``inner``
    None stands for a descriptor that was closed when the process started.
    """

    def __init__(self, inner: TextIO | None) -> None:
        self._inner = inner
        self.error: OSError | None = None

    def write(self, text: str) -> int:
        if self.error is None:
            inner = self._inner
            if inner is None:
                self.error = OSError(errno.EBADF, os.strerror(errno.EBADF))
            else:
                try:
                    return inner.write(text)
                except OSError as exc:
                    self.error = exc
        return len(text)

    def flush(self) -> None:
        if self.error is None and self._inner is not None:
            try:
                self._inner.flush()
            except OSError as exc:
                self.error = exc

    def isatty(self) -> bool:
        return self._inner is not None and self.error is None and self._inner.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def occupy_closed_descriptors() -> None:
    """Put /dev/null on 0, 1 and 2 where they are closed, so that no socket or file layerping
    opens takes their number (and a stray write to ``1`` cannot go into a socket)."""
    for fd in range(3):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if null > 2:
                os.close(null)


def guard_standard_streams() -> GuardedStream:
    """Replace sys.stdout and sys.stderr with guarded streams; return stdout's."""
    out = GuardedStream(sys.stdout)
    sys.stdout = cast(TextIO, out)
    sys.stderr = cast(TextIO, GuardedStream(sys.stderr))
    return out
