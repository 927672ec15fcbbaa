"""Address families: everything that differs between IPv4 and IPv6, one object per family.

:mod:`layerping.inet.family` defines the shape (:class:`~layerping.inet.family.Family`, and the
slice of it the engine gets, :class:`~layerping.inet.family.IcmpRules`); :mod:`layerping.inet.v4`
is the IPv4 object. IPv6 becomes a second module of the same shape (see docs/ARCHITECTURE.md).
"""
