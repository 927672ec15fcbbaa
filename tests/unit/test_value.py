"""``Value`` and ``Record`` keep the dataclass contract the code relies on."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

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


class Placeholders(Value):
    """Field names that look like the template's placeholders take the compiled path."""

    _p1: int
    _p0: int = 5


class FrozenWithFactory(Value):
    items: tuple[int, ...] = field(default_factory=tuple)
    tags: list[str] = field(default_factory=list)
    size: int = 3


def test_factory_fields_share_a_template_by_shape() -> None:
    """A default factory is a template's shape too: renamed like the others, with the factory
    as a global of the class's own __init__ (the factory-less templates' globals stay shared)."""
    import inspect

    from layerping import _value

    assert str(inspect.signature(Counter.__init__)) == "(self, hits=0, seen=<factory>)"
    assert (2, False, (1,)) in _value._TEMPLATES
    assert Counter.__init__.__globals__["_factory_1"] is list
    assert "_factory_1" not in Point.__init__.__globals__
    first, second = Counter(), Counter(5)
    assert first.seen == second.seen == [] and first.seen is not second.seen and second.hits == 5
    assert Counter(1, [2]).seen == [2]


def test_placeholder_names_and_factories_in_frozen_values() -> None:
    assert (Placeholders(1)._p1, Placeholders(1)._p0) == (1, 5)
    first, second = FrozenWithFactory(), FrozenWithFactory()
    assert first.tags is not second.tags and first == second == FrozenWithFactory((), [], 3)
    with pytest.raises(FrozenInstanceError):
        first.size = 4  # type: ignore[misc]


def test_many_fields_share_one_template_per_arity() -> None:
    from layerping import _value

    class Ten(Value):
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int
        g: int
        h: int
        i: int
        j: int = 10

    class TenMore(Record):
        k: int
        l: int  # noqa: E741
        m: int
        n: int
        o: int
        p: int
        q: int
        r: int
        s: int
        t: int = 20

    assert (10, True, ()) in _value._TEMPLATES and (10, False, ()) in _value._TEMPLATES
    ten = Ten(*range(9))
    assert fields(ten)[-1] == "j" and ten.j == 10 and ten.a == 0 and ten.i == 8
    more = TenMore(*range(10))
    more.k = 99
    assert more.k == 99 and more.t == 9


def test_the_precompiled_templates_are_what_the_generator_writes() -> None:
    from pathlib import Path

    from layerping import _value, _value_inits

    written = Path(_value_inits.__file__).read_text()
    assert written == _value.inits_module_source(), (
        "src/layerping/_value_inits.py is stale: regenerate it as its docstring says"
    )


def test_layerping_needs_no_template_compiled_at_run_time() -> None:
    """Every class layerping defines finds its ``__init__`` template precompiled."""
    import subprocess
    import sys

    script = (
        "import pkgutil, importlib, layerping\n"
        "from layerping import _value\n"
        "for module in pkgutil.walk_packages(layerping.__path__, 'layerping.'):\n"
        "    if not module.name.endswith('__main__'):\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(_value.compiled_at_run_time))\n"
    )
    import os
    from pathlib import Path

    import layerping

    tree = str(Path(layerping.__file__).parents[1])  # the tree under test, not an installed copy
    environment = {**os.environ, "PYTHONPATH": tree}
    command = [sys.executable, "-c", script]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60, env=environment)
    assert out.stdout.strip() == "[]", f"add these to PRECOMPILED_*_ARITIES or _FACTORY_SHAPES: {out.stdout}"


def test_an_arity_beyond_the_precompiled_ones_is_compiled_once() -> None:
    from layerping import _value

    names = [f"f{i}" for i in range(40)]
    namespace: dict[str, object] = {"__annotations__": dict.fromkeys(names, "int")}
    wide = type(Value)("Wide", (Value,), namespace)
    instance = wide(*range(40))  # type: ignore[call-arg]
    assert (40, True, ()) in _value.compiled_at_run_time
    assert instance.f39 == 39 and fields(instance) == tuple(names)
    init = wide.__init__  # type: ignore[misc]
    assert init.__code__.co_name == "__init__" and init.__code__.co_qualname == "Wide.__init__"


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
