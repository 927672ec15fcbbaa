"""``@value`` and ``@record`` keep the dataclass contract the code relies on."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

import pytest

from layerping._value import FrozenInstanceError, field, fields, record, replace, value


@value
class Point:
    """A frozen value with a default."""

    x: int
    y: int
    label: str = "p"
    kind: ClassVar[str] = "point"  # not a field

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


@value
class Point3(Point):
    z: int = 0


@record
class Counter:
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

        @value
        class Bad:
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
