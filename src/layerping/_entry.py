"""Process entry point of the ``layerping`` command and of ``python -m layerping``.

It exists to start fast. ``dataclasses`` imports ``inspect`` (and with it ast, dis and
tokenize: about 15 ms of a one-shot ping here) but calls it only for classes without a
docstring, and all of ours have one. So the command's own process puts a stand-in for
``inspect`` in ``sys.modules`` before anything imports ``dataclasses``; the first attribute
anyone reads from it loads the real module. A program that imports layerping as a library is
left alone.
"""

from __future__ import annotations

import importlib
import sys
import types


class _DeferredModule(types.ModuleType):
    """Stands in for a module until one of its attributes is first needed, then loads it."""

    __spec__ = None  # so ``import`` does not ask a spec whether the module is initialising

    def __getattr__(self, attr: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def main() -> int:
    if "inspect" not in sys.modules:
        sys.modules["inspect"] = _DeferredModule("inspect")
    from layerping.cli import main as cli_main

    return cli_main()
