"""Process entry point of the ``layerping`` command and of ``python -m layerping``.

Kept apart from :mod:`layerping.cli` so the console script's import line never changes. Start-up
matters here (a one-shot ping should cost a few tens of milliseconds over the interpreter), which
is why layerping's value classes come from :mod:`layerping._value` rather than ``dataclasses``:
that module costs about 1 ms per class to define and imports ``inspect`` (with ast, dis and
tokenize: 15 ms more). ``tests/engine/test_runner.py`` checks that none of them is loaded.
"""

from __future__ import annotations


def main() -> int:
    from layerping.cli import main as cli_main

    return cli_main()
