"""``aiter.QuantType``: upstream aiter's quantisation kinds, with its member
names and values (upstream binds a C++ enum; this is a Python one that
behaves the same way for callers: members compare, hash, convert with int()
and print as ``QuantType.per_Token``)."""
import enum


class QuantType(enum.IntEnum):
    No = 0
    per_Tensor = 1
    per_Token = 2
    per_1x32 = 3
    per_1x128 = 4
    per_128x128 = 5
    per_256x128 = 6
    per_1024x128 = 7

    __str__ = enum.Enum.__str__  # "QuantType.per_Token", not IntEnum's "2"
