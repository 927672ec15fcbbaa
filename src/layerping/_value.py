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
class, compiled once when the class is created (see :func:`_make_init`), so that a class gains a
field by gaining an annotation and nothing else; the other methods are shared functions, on the
two base classes, that read the class's field tuple. Type checkers treat both as dataclasses
(PEP 681 ``dataclass_transform`` on the base classes).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Collection
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


#: Compiled ``__init__`` code by source: classes whose fields are named alike (a subclass that
#: only adds methods) compile once.
_INIT_CODE: dict[str, types.CodeType] = {}
#: The globals of a record's ``__init__`` without a default factory (its body calls nothing).
_NO_GLOBALS: Final[dict[str, Any]] = {}


def _init_source(names: tuple[str, ...], frozen: bool, factories: Collection[str]) -> str:
    """The source of a class's ``__init__``: the fields as parameters, each stored in its slot.

    A record stores with plain attribute stores. A frozen value's own ``__setattr__`` refuses,
    so it calls each field's slot setter (``member_descriptor.__set__``), a global of the
    class's ``__init__`` (a third faster per instance than ``object.__setattr__``, which
    dataclasses call). Defaults are not in the source but the function's ``__defaults__`` (see
    :func:`_make_init`). A field with a default factory defaults to the ``<factory>`` marker,
    which the body replaces with a call of the factory, another global (as dataclasses do).
    Globals have dunder names, so that no field can shadow one; the first parameter is ``self``
    unless a field has that name.
    """
    self_name = "__value_self__" if "self" in names else "self"
    body = []
    for name in names:
        if name in factories:
            body.append(f" if {name} is __value_factory__: {name} = __value_factory_{name}__()")
        if frozen:
            body.append(f" __value_set_{name}__({self_name}, {name})")
        else:
            body.append(f" {self_name}.{name} = {name}")
    parameters = "".join(f", {name}" for name in names)
    return f"def __init__({self_name}{parameters}):\n" + ("\n".join(body) or " pass") + "\n"


def _make_init(
    qualname: str, names: tuple[str, ...], defaults: dict[str, object], frozen: bool
) -> types.FunctionType:
    """The class's ``__init__``: its own bytecode, compiled here, once, at class creation.

    A small source per class (:func:`_init_source`) and one ``compile``: about 0.02 ms plus
    0.005 ms a field. The globals of a frozen value's ``__init__`` get its slot setters once the
    class exists (:func:`_bind_slot_setters`).
    """
    default_values: list[object] = []
    factories: dict[str, Callable[[], object]] = {}
    for name in names:
        default = defaults.get(name, _MISSING)
        if isinstance(default, _Field):
            if default.default_factory is not None:
                factories[name] = default.default_factory
                default_values.append(_FACTORY_DEFAULT)
                continue
            default = default.default
        if default is not _MISSING:
            default_values.append(default)
        elif default_values:
            raise TypeError(f"{qualname}: field {name!r} without a default follows one with a default")
    source = _init_source(names, frozen, factories)
    code = _INIT_CODE.get(source)
    if code is None:
        module = compile(source, "<layerping._value>", "exec", dont_inherit=True)
        code = _INIT_CODE[source] = module.co_consts[0]
    scope = _NO_GLOBALS
    if frozen or factories:
        scope = {f"__value_factory_{name}__": factory for name, factory in factories.items()}
        scope["__value_factory__"] = _FACTORY_DEFAULT
    init = types.FunctionType(code, scope, "__init__", tuple(default_values) or None)
    init.__qualname__ = f"{qualname}.__init__"
    return init


def _bind_slot_setters(init: types.FunctionType, cls: type, names: tuple[str, ...]) -> None:
    """Give a frozen value's ``__init__`` the setter of each field's slot, which is in the class
    that declares the field (this one or a base)."""
    scope = init.__globals__
    for name in names:
        for klass in cls.__mro__:
            slot = klass.__dict__.get(name)
            if isinstance(slot, types.MemberDescriptorType):
                scope[f"__value_set_{name}__"] = slot.__set__
                break


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
        annotated = [
            field_name
            for field_name, annotation in namespace.get("__annotations__", {}).items()
            if not _is_class_variable(annotation)
        ]
        own = [field_name for field_name in annotated if field_name not in inherited]
        names = (*inherited, *own)
        defaults = dict(inherited_defaults)
        for field_name in annotated:  # an inherited field annotated again takes its new default
            defaults.pop(field_name, None)
            if field_name in namespace:
                defaults[field_name] = namespace.pop(field_name)
        qualname = namespace.get("__qualname__", name)
        namespace["__slots__"] = tuple(own)
        namespace["__value_fields__"] = names
        namespace["__value_defaults__"] = defaults
        namespace["__match_args__"] = names
        namespace["__init__"] = init = _make_init(qualname, names, defaults, frozen)
        # As dataclasses decide (dataclasses._hash_action): a __hash__ the class spells out is
        # kept; otherwise a frozen class hashes its fields and a mutable one is unhashable, also
        # when the class defines __eq__ (for which Python would set __hash__ to None).
        namespace.setdefault("__hash__", _hash if frozen else None)
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if frozen:
            _bind_slot_setters(init, cls, names)
        return cls


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
