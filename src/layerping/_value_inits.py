"""``__init__`` templates for :mod:`layerping._value`, one per shape: generated, do not edit.

Compiling them at start-up (``exec``, 0.1 ms each) cost more than defining the classes; as a
module they come precompiled from its .pyc. Regenerate with
``python3 -c 'from layerping._value import inits_module_source as s; print(s(), end="")'``.
"""

# ruff: noqa: E501, F821
# mypy: ignore-errors

_set = object.__setattr__


def value_init_0(self):
    pass


def value_init_1(self, _p0):
    _set(self, "_p0", _p0)


def value_init_2(self, _p0, _p1):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)


def value_init_3(self, _p0, _p1, _p2):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)


def value_init_4(self, _p0, _p1, _p2, _p3):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)


def value_init_5(self, _p0, _p1, _p2, _p3, _p4):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)


def value_init_6(self, _p0, _p1, _p2, _p3, _p4, _p5):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)


def value_init_7(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)


def value_init_8(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)


def value_init_9(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)


def value_init_10(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)


def value_init_11(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)


def value_init_12(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)


def value_init_13(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)
    _set(self, "_p12", _p12)


def value_init_14(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)
    _set(self, "_p12", _p12)
    _set(self, "_p13", _p13)


def value_init_15(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13, _p14):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)
    _set(self, "_p12", _p12)
    _set(self, "_p13", _p13)
    _set(self, "_p14", _p14)


def value_init_16(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13, _p14, _p15):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)
    _set(self, "_p12", _p12)
    _set(self, "_p13", _p13)
    _set(self, "_p14", _p14)
    _set(self, "_p15", _p15)


def value_init_17(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13, _p14, _p15, _p16):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)
    _set(self, "_p12", _p12)
    _set(self, "_p13", _p13)
    _set(self, "_p14", _p14)
    _set(self, "_p15", _p15)
    _set(self, "_p16", _p16)


def value_init_21(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13, _p14, _p15, _p16, _p17, _p18, _p19, _p20):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)
    _set(self, "_p12", _p12)
    _set(self, "_p13", _p13)
    _set(self, "_p14", _p14)
    _set(self, "_p15", _p15)
    _set(self, "_p16", _p16)
    _set(self, "_p17", _p17)
    _set(self, "_p18", _p18)
    _set(self, "_p19", _p19)
    _set(self, "_p20", _p20)


def value_init_29(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13, _p14, _p15, _p16, _p17, _p18, _p19, _p20, _p21, _p22, _p23, _p24, _p25, _p26, _p27, _p28):
    _set(self, "_p0", _p0)
    _set(self, "_p1", _p1)
    _set(self, "_p2", _p2)
    _set(self, "_p3", _p3)
    _set(self, "_p4", _p4)
    _set(self, "_p5", _p5)
    _set(self, "_p6", _p6)
    _set(self, "_p7", _p7)
    _set(self, "_p8", _p8)
    _set(self, "_p9", _p9)
    _set(self, "_p10", _p10)
    _set(self, "_p11", _p11)
    _set(self, "_p12", _p12)
    _set(self, "_p13", _p13)
    _set(self, "_p14", _p14)
    _set(self, "_p15", _p15)
    _set(self, "_p16", _p16)
    _set(self, "_p17", _p17)
    _set(self, "_p18", _p18)
    _set(self, "_p19", _p19)
    _set(self, "_p20", _p20)
    _set(self, "_p21", _p21)
    _set(self, "_p22", _p22)
    _set(self, "_p23", _p23)
    _set(self, "_p24", _p24)
    _set(self, "_p25", _p25)
    _set(self, "_p26", _p26)
    _set(self, "_p27", _p27)
    _set(self, "_p28", _p28)


def record_init_0(self):
    pass


def record_init_1(self, _p0):
    self._p0 = _p0


def record_init_2(self, _p0, _p1):
    self._p0 = _p0
    self._p1 = _p1


def record_init_3(self, _p0, _p1, _p2):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2


def record_init_4(self, _p0, _p1, _p2, _p3):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3


def record_init_5(self, _p0, _p1, _p2, _p3, _p4):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4


def record_init_6(self, _p0, _p1, _p2, _p3, _p4, _p5):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5


def record_init_7(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6


def record_init_8(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6
    self._p7 = _p7


def record_init_9(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6
    self._p7 = _p7
    self._p8 = _p8


def record_init_10(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6
    self._p7 = _p7
    self._p8 = _p8
    self._p9 = _p9


def record_init_11(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6
    self._p7 = _p7
    self._p8 = _p8
    self._p9 = _p9
    self._p10 = _p10


def record_init_12(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6
    self._p7 = _p7
    self._p8 = _p8
    self._p9 = _p9
    self._p10 = _p10
    self._p11 = _p11


def record_init_2_f1(self, _p0, _p1):
    self._p0 = _p0
    if _p1 is _FACTORY:
        _p1 = _factory_1()
    self._p1 = _p1


def record_init_4_f0(self, _p0, _p1, _p2, _p3):
    if _p0 is _FACTORY:
        _p0 = _factory_0()
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3


def record_init_7_f2_f3_f4(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6):
    self._p0 = _p0
    self._p1 = _p1
    if _p2 is _FACTORY:
        _p2 = _factory_2()
    self._p2 = _p2
    if _p3 is _FACTORY:
        _p3 = _factory_3()
    self._p3 = _p3
    if _p4 is _FACTORY:
        _p4 = _factory_4()
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6


def record_init_13_f12(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12):
    self._p0 = _p0
    self._p1 = _p1
    self._p2 = _p2
    self._p3 = _p3
    self._p4 = _p4
    self._p5 = _p5
    self._p6 = _p6
    self._p7 = _p7
    self._p8 = _p8
    self._p9 = _p9
    self._p10 = _p10
    self._p11 = _p11
    if _p12 is _FACTORY:
        _p12 = _factory_12()
    self._p12 = _p12
