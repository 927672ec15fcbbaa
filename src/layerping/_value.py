"""``Value`` and ``Record``: small slotted classes that cost little to define.

A ``@dataclass(frozen=True, slots=True)`` costs about 1 ms to *define* on the machines this
project is measured on: it compiles seven or eight generated methods with ``exec`` and builds
the class twice to add ``__slots__``. layerping defines some sixty such classes, and before this
module they were more than half of a one-shot ping's start-up (measured: 12 of 21 ms of the
command's imports, and 9.5 of 11 ms more at ``--layer ip``, where rtnetlink's message classes
load too).

A class derives from :class:`Value` (immutable, hashable) or :class:`Record` (mutable and, like
a non-frozen dataclass, unhashable), and keeps the dataclass contract the code relies on: fields
from the class annotations in order (inherited ones first), defaults,
``field(default_factory=...)``, positional or keyword ``__init__``, ``__slots__``,
``__match_args__``, field-wise ``__eq__``, ``__repr__``, :func:`replace` and :func:`fields`.
Their metaclass builds each class once, from the namespace of its ``class`` statement: a class
decorator would get a class already built and, to add ``__slots__``, would have to build it a
second time (that was a third of what defining one cost). Only ``__init__`` is real bytecode per
class (renamed from a template, see :func:`_make_init`; the templates come precompiled in
:mod:`layerping._value_inits`, as compiling one per shape at start-up cost about 2 ms of a
one-shot ping); the other methods are shared functions, on the two base classes, that read the
class's field tuple. Type checkers treat both as dataclasses (PEP 681 ``dataclass_transform``
on the base classes).
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from typing import Any, Final, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")
_MISSING: Final = object()


class _FactoryDefault:
    """The default of a field with a default factory, as signatures show it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY_DEFAULT: Final = _FactoryDefault()
_set_attribute: Final = object.__setattr__


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a :class:`Value` instance."""


class _Field:
    __slots__ = ("default", "default_factory")

    def __init__(self, default: object, default_factory: Callable[[], object] | None) -> None:
        self.default = default
        self.default_factory = default_factory


@overload
def field(*, default: _T) -> _T: ...
@overload
def field(*, default_factory: Callable[[], _T]) -> _T: ...
def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None) -> Any:
    """A field's default given as a factory (a new list per instance) or spelled out."""
    return _Field(default, default_factory)


def fields(instance_or_class: object) -> tuple[str, ...]:
    """The field names, in ``__init__`` order."""
    cls = instance_or_class if isinstance(instance_or_class, type) else type(instance_or_class)
    names: tuple[str, ...] = cls.__value_fields__  # type: ignore[attr-defined]
    return names


def replace(instance: _T, **changes: object) -> _T:
    """A copy of ``instance`` with some fields changed (``dataclasses.replace``)."""
    values = {name: getattr(instance, name) for name in fields(instance)}
    unknown = changes.keys() - values.keys()
    if unknown:
        raise TypeError(f"{type(instance).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return type(instance)(**values)


def _repr(self: object) -> str:
    parts = ", ".join(f"{name}={getattr(self, name)!r}" for name in fields(self))
    return f"{type(self).__qualname__}({parts})"


def _eq(self: object, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented  # type: ignore[no-any-return]  # typeshed: NotImplemented is Any
    return all(bool(getattr(self, name) == getattr(other, name)) for name in fields(self))


def _hash(self: object) -> int:
    return hash(tuple(getattr(self, name) for name in fields(self)))


def _frozen_setattr(self: object, name: str, _value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: object) -> tuple[object, ...]:
    return tuple(getattr(self, name) for name in fields(self))


def _setstate(self: object, state: tuple[object, ...]) -> None:
    for name, item in zip(fields(self), state, strict=True):
        _set_attribute(self, name, item)


def _is_class_variable(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


_PLACEHOLDER: Final = re.compile(r"_p\d+")
#: A template's shape: number of fields, frozen or not, and which fields have a default factory.
Shape = tuple[int, bool, tuple[int, ...]]
_TEMPLATES: dict[Shape, types.FunctionType] = {}
#: Arities layerping._value_inits holds precompiled: up to 17 fields, and the larger arities of
#: layerping's own classes (the configurations); tests/unit/test_value.py checks that these are
#: all that layerping needs. Each one costs a little to load, so not every arity is there.
PRECOMPILED_VALUE_ARITIES: Final = (*range(18), 21, 29)
PRECOMPILED_RECORD_ARITIES: Final = tuple(range(13))
#: The shapes with default factories that layerping's classes have (Statistics, PingResult, and
#: two of the decoder's and fping output's records).
PRECOMPILED_FACTORY_SHAPES: Final[tuple[Shape, ...]] = (
    (2, False, (1,)),
    (4, False, (0,)),
    (7, False, (2, 3, 4)),
    (13, False, (12,)),
)
#: Templates that had to be compiled at run time (a shape beyond the precompiled ones).
compiled_at_run_time: set[Shape] = set()


def _template_name(count: int, frozen: bool, factories: tuple[int, ...]) -> str:
    name = f"{'value' if frozen else 'record'}_init_{count}"
    return name + "".join(f"_f{i}" for i in factories)


def init_source(count: int, frozen: bool, factories: tuple[int, ...] = ()) -> str:
    """The source of the ``__init__`` template for ``count`` fields: arguments ``_p0``... stored
    in attributes of the same names, which :func:`_make_init` renames to the real field names.

    A field in ``factories`` has a default factory: its argument defaults to the ``_FACTORY``
    marker, which the template replaces with a call of ``_factory_<i>``; both names are globals
    that :func:`_make_init` gives each class's ``__init__`` (dataclasses do the same)."""
    parameters = "".join(f", _p{i}" for i in range(count))
    body = []
    for i in range(count):
        if i in factories:
            body.append(f"    if _p{i} is _FACTORY:\n        _p{i} = _factory_{i}()")
        # A record stores with STORE_ATTR; only a frozen value must go around its __setattr__.
        body.append(f'    _set(self, "_p{i}", _p{i})' if frozen else f"    self._p{i} = _p{i}")
    name = _template_name(count, frozen, factories)
    return f"def {name}(self{parameters}):\n" + ("\n".join(body) or "    pass") + "\n"


def inits_module_source() -> str:
    """The whole of ``layerping/_value_inits.py`` (its test checks that the file is this)."""
    header = (
        '"""``__init__`` templates for :mod:`layerping._value`, one per shape: generated, do not edit.\n\n'
        "Compiling them at start-up (``exec``, 0.1 ms each) cost more than defining the classes; as a\n"
        "module they come precompiled from its .pyc. Regenerate with\n"
        "``python3 -c 'from layerping._value import inits_module_source as s; print(s(), end=\"\")'``.\n"
        '"""\n\n'
        "# ruff: noqa: E501, F821\n"
        "# mypy: ignore-errors\n\n"
        "_set = object.__setattr__\n"
    )
    functions = [init_source(count, True) for count in PRECOMPILED_VALUE_ARITIES]
    functions += [init_source(count, False) for count in PRECOMPILED_RECORD_ARITIES]
    functions += [init_source(*shape) for shape in PRECOMPILED_FACTORY_SHAPES]
    return header + "".join("\n\n" + function for function in functions)


def _template(count: int, frozen: bool, factories: tuple[int, ...] = ()) -> types.FunctionType:
    """``(self, _p0, _p1, ...)`` storing each argument: precompiled, or compiled once per shape."""
    key = (count, frozen, factories)
    template = _TEMPLATES.get(key)
    if template is None:
        from layerping import _value_inits

        name = _template_name(count, frozen, factories)
        template = getattr(_value_inits, name, None)
        if template is None:
            scope: dict[str, Any] = {"_set": _set_attribute}
            exec(init_source(count, frozen, factories), scope)
            template = scope[name]
            compiled_at_run_time.add(key)
        _TEMPLATES[key] = template
    return template


def _make_init(qualname: str, names: tuple[str, ...], defaults: dict[str, object], frozen: bool) -> Any:
    """The class's ``__init__``: real bytecode, as fast per instance as a dataclass's.

    Compiling it costs about 0.1 ms a class, most of what defining a class costs, so classes
    share one template per shape (see :func:`init_source`) and only rename it: ``code.replace``
    with the field names as argument, attribute and constant names (0.01 ms).
    """
    default_values: list[object] = []
    factories: dict[int, Callable[[], object]] = {}
    for index, name in enumerate(names):
        default = defaults.get(name, _MISSING)
        if isinstance(default, _Field):
            if default.default_factory is not None:
                factories[index] = default.default_factory
                default_values.append(_FACTORY_DEFAULT)
                continue
            default = default.default
        if default is not _MISSING:
            default_values.append(default)
        elif default_values:
            raise TypeError(f"{qualname}: field {name!r} without a default follows one with a default")
    if any(_PLACEHOLDER.fullmatch(name) for name in names):
        return _compile_init(names, defaults, frozen)  # renaming would be ambiguous
    template = _template(len(names), frozen, tuple(factories))
    renamed = {f"_p{i}": name for i, name in enumerate(names)}
    code = template.__code__
    code = code.replace(
        co_name="__init__",
        co_qualname=f"{qualname}.__init__",
        co_varnames=tuple(renamed.get(name, name) for name in code.co_varnames),
        co_names=tuple(renamed.get(name, name) for name in code.co_names),
        co_consts=tuple(renamed.get(c, c) if isinstance(c, str) else c for c in code.co_consts),
    )
    scope = template.__globals__
    if factories:
        scope = {"_set": _set_attribute, "_FACTORY": _FACTORY_DEFAULT}
        scope.update((f"_factory_{index}", factory) for index, factory in factories.items())
    return types.FunctionType(code, scope, "__init__", tuple(default_values) or None)


def _compile_init(names: tuple[str, ...], defaults: dict[str, object], frozen: bool) -> Any:
    """An ``__init__`` written out for these names, and compiled."""
    parameters: list[str] = []
    body: list[str] = []
    scope: dict[str, Any] = {"_set": _set_attribute, "_FACTORY": _FACTORY_DEFAULT}
    for name in names:
        default = defaults.get(name, _MISSING)
        if isinstance(default, _Field) and default.default_factory is not None:
            scope[f"_factory_{name}"] = default.default_factory
            parameters.append(f"{name}=_FACTORY")
            body.append(f" if {name} is _FACTORY: {name} = _factory_{name}()")
        elif default is not _MISSING:
            scope[f"_default_{name}"] = default.default if isinstance(default, _Field) else default
            parameters.append(f"{name}=_default_{name}")
        else:
            parameters.append(name)
        body.append(f" _set(self, {name!r}, {name})" if frozen else f" self.{name} = {name}")
    exec(f"def __init__(self, {', '.join(parameters)}):\n" + "\n".join(body), scope)
    return scope["__init__"]


class _ValueMeta(type):
    """Builds a :class:`Value` or :class:`Record` subclass in one go from its class body."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> _ValueMeta:
        frozen: bool | None = None
        inherited: tuple[str, ...] = ()
        inherited_defaults: dict[str, object] = {}
        for base in bases:  # the first base that is a Value or Record says what this class is
            if isinstance(base, _ValueMeta):
                frozen = base.__value_frozen__  # type: ignore[attr-defined]
                inherited = base.__value_fields__  # type: ignore[attr-defined]
                inherited_defaults = base.__value_defaults__  # type: ignore[attr-defined]
                break
        if frozen is None:  # _Fields, Value and Record themselves
            return super().__new__(mcs, name, bases, namespace, **kwargs)
        own = [
            field_name
            for field_name, annotation in namespace.get("__annotations__", {}).items()
            if not _is_class_variable(annotation) and field_name not in inherited
        ]
        names = (*inherited, *own)
        defaults = dict(inherited_defaults)
        for field_name in own:
            if field_name in namespace:
                defaults[field_name] = namespace.pop(field_name)
        qualname = namespace.get("__qualname__", name)
        init = _make_init(qualname, names, defaults, frozen)
        init.__qualname__ = f"{qualname}.__init__"
        namespace["__slots__"] = tuple(own)
        namespace["__value_fields__"] = names
        namespace["__value_defaults__"] = defaults
        namespace["__match_args__"] = names
        namespace["__init__"] = init
        # As dataclasses decide (dataclasses._hash_action): a __hash__ the class spells out is
        # kept; otherwise a frozen class hashes its fields and a mutable one is unhashable, also
        # when the class defines __eq__ (for which Python would set __hash__ to None).
        namespace.setdefault("__hash__", _hash if frozen else None)
        return super().__new__(mcs, name, bases, namespace, **kwargs)


class _Fields(metaclass=_ValueMeta):
    """What :class:`Value` and :class:`Record` share: no fields yet, repr and equality by field."""

    __slots__ = ()
    __value_frozen__: bool | None = None  # neither kind: the metaclass builds these three as is
    __value_fields__: tuple[str, ...] = ()
    __value_defaults__: dict[str, object] = {}  # noqa: RUF012  # read-only, shared by design
    __repr__ = _repr
    __eq__ = _eq


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Value(_Fields):
    """Base of immutable, hashable, slotted classes with fields from their annotations."""

    __slots__ = ()
    __value_frozen__ = True
    __hash__ = _hash
    __setattr__ = _frozen_setattr
    __delattr__ = _frozen_delattr
    __getstate__ = _getstate
    __setstate__ = _setstate


@dataclass_transform(field_specifiers=(field,))
class Record(_Fields):
    """Base of mutable, slotted classes with fields from their annotations."""

    __slots__ = ()
    __value_frozen__ = False
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as dataclasses do
