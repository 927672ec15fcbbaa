"""``Value`` and ``Record`` keep the dataclass contract the code relies on."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any, ClassVar

import pytest

from layerping._value import FrozenInstanceError, Record, Value, field, fields, replace


class Point(Value):
    """A frozen value with a default."""

    x: int
    y: int
    label: str = "p"
    kind: ClassVar[str] = "point"  # not a field

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


class Point3(Point):
    z: int = 0


class Counter(Record):
    hits: int = 0
    seen: list[int] = field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class DataclassPoint:
    x: int
    y: int
    label: str = "p"


def test_fields_init_repr_match_dataclass() -> None:
    point = Point(1, y=2)
    reference = DataclassPoint(1, y=2)
    assert fields(point) == ("x", "y", "label") == tuple(f.name for f in dataclasses.fields(reference))
    assert repr(point) == repr(reference).replace("DataclassPoint", "Point")
    assert Point.__match_args__ == ("x", "y", "label")
    match point:
        case Point(1, y, label):
            assert (y, label) == (2, "p")
        case _:
            pytest.fail("positional match failed")
    assert point.norm1() == 3 and Point.kind == "point"


def test_value_is_frozen_hashable_and_slotted() -> None:
    point = Point(1, 2)
    with pytest.raises(FrozenInstanceError):
        point.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.x  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.other = 1  # type: ignore[attr-defined]
    assert not hasattr(point, "__dict__")
    assert point == Point(1, 2) and hash(point) == hash(Point(1, 2))
    assert point != Point(1, 3) and point != Point(1, 2, "q")
    assert {point, Point(1, 2)} == {point}
    assert point != (1, 2, "p")  # not a tuple: another class never compares equal


def test_inheritance_adds_fields_after_the_base() -> None:
    point = Point3(1, 2, "q", 3)
    assert fields(point) == ("x", "y", "label", "z")
    assert point.norm1() == 3 and point.z == 3
    assert point != Point(1, 2, "q")  # other class
    assert isinstance(point, Point)


def test_replace_copies_and_checks_names() -> None:
    point = Point(1, 2)
    moved = replace(point, y=5)
    assert moved == Point(1, 5) and point == Point(1, 2)
    with pytest.raises(TypeError, match="no field 'w'"):
        replace(point, w=1)


def test_required_field_after_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default"):

        class Bad(Value):
            a: int = 0
            b: int  # type: ignore[misc]


def test_record_is_mutable_unhashable_with_fresh_factory_defaults() -> None:
    first, second = Counter(), Counter()
    first.hits += 1
    first.seen.append(7)
    assert second.seen == [] and first == Counter(1, [7])
    with pytest.raises(TypeError):
        hash(first)
    with pytest.raises(AttributeError):
        first.other = 1  # type: ignore[attr-defined]


def test_copy_and_pickle_round_trip() -> None:
    point = Point3(1, 2, "x", 9)
    assert copy.copy(point) == point and copy.deepcopy(point) == point
    assert pickle.loads(pickle.dumps(point)) == point
    counter = Counter(3, [1, 2])
    assert pickle.loads(pickle.dumps(counter)) == counter


def test_init_has_the_fields_signature_and_names_them_in_errors() -> None:
    import inspect

    assert str(inspect.signature(Point.__init__)) == "(self, x, y, label='p')"
    with pytest.raises(TypeError, match="'y'"):
        Point(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(1, 2, z=3)  # type: ignore[call-arg]
    assert Point(y=2, x=1) == Point(1, 2)
    assert Point.__init__.__qualname__ == "Point.__init__"


class Odd(Value):
    """Field names that a generated ``__init__`` must not confuse with its own names."""

    self: int
    other: int = 5


class FrozenWithFactory(Value):
    items: tuple[int, ...] = field(default_factory=tuple)
    tags: list[str] = field(default_factory=list)
    size: int = 3


def test_default_factories_are_called_per_instance() -> None:
    """The factory is a global of the class's own __init__, called for each instance that does
    not pass the field."""
    import inspect

    assert str(inspect.signature(Counter.__init__)) == "(self, hits=0, seen=<factory>)"
    assert Counter.__init__.__globals__["__value_factory_seen__"] is list
    first, second = Counter(), Counter(5)
    assert first.seen == second.seen == [] and first.seen is not second.seen and second.hits == 5
    assert Counter(1, [2]).seen == [2]
    one, two = FrozenWithFactory(), FrozenWithFactory()
    assert one.tags is not two.tags and one == two == FrozenWithFactory((), [], 3)
    with pytest.raises(FrozenInstanceError):
        one.size = 4  # type: ignore[misc]


def test_a_field_may_be_called_self() -> None:
    odd = Odd(1)
    assert (odd.self, odd.other) == (1, 5) and Odd(self=2, other=3) == Odd(2, 3)
    assert replace(odd, self=7).self == 7 and fields(Odd) == ("self", "other")


def test_adding_a_field_needs_no_other_edit() -> None:
    """A class defined here, with a field more than layerping's own PingConfig and a default
    factory, works as it is: no table, template or generated file to update."""
    from layerping.api import PingConfig

    class TaggedConfig(PingConfig):
        tags: dict[str, str] = field(default_factory=dict)

    config = TaggedConfig("192.0.2.1", count=3)
    assert fields(config) == (*fields(PingConfig), "tags")
    assert config.tags == {} and config.tags is not TaggedConfig("192.0.2.1").tags
    assert (config.destination, config.count, config.ttl) == ("192.0.2.1", 3, 64)
    tagged = replace(config, tags={"run": "a"}, ttl=9)
    assert tagged.tags == {"run": "a"} and tagged.ttl == 9 and config.tags == {}
    assert tagged == TaggedConfig("192.0.2.1", count=3, ttl=9, tags={"run": "a"}) != config
    assert repr(tagged).startswith("test_adding_a_field_needs_no_other_edit.<locals>.TaggedConfig(")
    assert repr(tagged).endswith("keep_samples=False, tags={'run': 'a'})")
    with pytest.raises(FrozenInstanceError):
        tagged.tags = {}  # type: ignore[misc]

    # The same fields plus one, as a class of its own: what editing PingConfig would give.
    annotations = {**PingConfig.__annotations__, "tags": "dict[str, str]"}
    namespace: dict[str, object] = {"__annotations__": annotations, "tags": field(default_factory=dict)}
    namespace.update((name, getattr(PingConfig(""), name)) for name in fields(PingConfig)[1:])
    edited = _define("PingConfig", Value, namespace)
    instance = edited("192.0.2.1", tags={"a": "b"})
    assert instance.tags == {"a": "b"} and instance.count is None and instance.layer == PingConfig("").layer
    assert hash(edited("192.0.2.9", tags=())) == hash(edited("192.0.2.9", tags=()))


def _define(name: str, base: type, namespace: dict[str, object]) -> Any:
    """A class statement's equivalent: ``class <name>(base)`` with this namespace."""
    import types

    return types.new_class(name, (base,), exec_body=lambda body: body.update(namespace))


def test_any_number_of_fields() -> None:
    names = [f"f{i}" for i in range(40)]
    namespace: dict[str, object] = {"__annotations__": dict.fromkeys(names, "int"), "f39": 39}
    wide = _define("Wide", Value, namespace)
    instance = wide(*range(39))
    assert instance.f0 == 0 and instance.f38 == 38 and instance.f39 == 39 and fields(instance) == tuple(names)
    assert wide.__init__.__qualname__ == "Wide.__init__"
    more = _define("WideRecord", Record, {"__annotations__": dict.fromkeys(names, "int")})
    record = more(*range(40))
    record.f39 = -1
    assert record.f39 == -1 and record.f0 == 0


def test_init_is_compiled_once_at_class_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defining a class compiles its __init__ once; making instances compiles nothing, and a
    class with the same field names (a subclass that adds only methods) reuses the code."""
    from layerping import _value

    compiled: list[str] = []

    def counting_compile(source: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return compile(source, *args, **kwargs)

    monkeypatch.setattr(_value, "compile", counting_compile, raising=False)

    class Fresh(Value):
        first_field_of_fresh: int
        second_field_of_fresh: list[int] = field(default_factory=list)

    assert len(compiled) == 1 and "first_field_of_fresh, second_field_of_fresh" in compiled[0]
    for number in range(3):
        assert Fresh(number).first_field_of_fresh == number

    class FreshWithMethod(Fresh):
        def total(self) -> int:
            return self.first_field_of_fresh + sum(self.second_field_of_fresh)

    assert len(compiled) == 1 and FreshWithMethod(1, [2]).total() == 3
    assert FreshWithMethod.__init__.__code__ is Fresh.__init__.__code__
    assert FreshWithMethod.__init__.__qualname__.endswith("<locals>.FreshWithMethod.__init__")


def test_a_subclass_may_give_an_inherited_field_a_new_default() -> None:
    class Origin(Point):
        x: int = 0
        y: int = 0

    assert Origin() == Origin(0, 0, "p") and Origin(3).x == 3 and fields(Origin) == fields(Point)
    assert Origin.__slots__ == ()  # the slots stay in Point; no class attribute hides them


class _Describes:
    """A plain mixin before the base, as the netlink messages use one."""

    __slots__ = ()

    def describe(self) -> str:
        return f"{type(self).__name__} of {len(fields(self))}"


class WithEq(_Describes, Value):
    a: int

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WithEq) and self.a % 10 == other.a % 10


class WithHash(Value):
    a: int

    def __hash__(self) -> int:
        return 7


class RecordWithEq(Record):
    a: int

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordWithEq) and self.a == other.a


def test_hash_as_dataclasses_decide_and_mixins_before_the_base() -> None:
    """A frozen class that defines __eq__ still hashes its fields (Python alone would set
    __hash__ to None), one that spells out __hash__ keeps it, a record stays unhashable."""
    assert WithEq(1) == WithEq(11) and hash(WithEq(1)) == hash(WithEq(1))
    assert hash(WithHash(1)) == 7
    with pytest.raises(TypeError):
        hash(RecordWithEq(1))
    assert WithEq(3).describe() == "WithEq of 1" and fields(WithEq) == ("a",)
    assert not hasattr(WithEq(3), "__dict__")
    with pytest.raises(FrozenInstanceError):
        WithEq(3).a = 4  # type: ignore[misc]


def test_each_class_is_built_once_by_the_metaclass() -> None:
    """The class statement's own class is the one in use: no second class built from it (what a
    decorator would have to do to add __slots__), so its methods' __class__ cell is that class."""
    assert type(Point) is type(Value) is type(Record) and Point.__slots__ == ("x", "y", "label")
    assert Point3.__slots__ == ("z",) and Counter.__slots__ == ("hits", "seen")

    class Child(Point):
        def norm1(self) -> int:
            return super().norm1() * 10  # zero-argument super() needs the __class__ cell right

    assert Child(1, 2).norm1() == 30
