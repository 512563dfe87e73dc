"""Minimal writer of Gatan DigitalMicrograph DM3 / DM4 files, for tests only.

This module exists **only to test loading** of ``.dm3`` / ``.dm4`` files through
``hyperspy.api.load`` (RosettaSciIO's ``digitalmicrograph`` reader) without
shipping binary fixtures. It is not a general DM writer and is not part of the
package.

What it writes (a small subset of the DM tag-file format):

* Header: version (4-byte big-endian int, 3 or 4), length of the root tag group
  in bytes (4-byte int in DM3, 8-byte in DM4), byte-order flag (1 = little
  endian; tag *values* and image data are always written little endian, all
  structural integers big endian). The file ends with 8 zero bytes.
* Root tag group: ``is_sorted`` byte, ``is_open`` byte, tag count (4/8 bytes).
* Tag entries: type byte (20 = group, 21 = data), 2-byte name length, name
  (latin-1). DM4 then stores the 8-byte length of the rest of the entry.
  Groups: ``is_sorted``, ``is_open``, tag count, entries. Data: ``%%%%``,
  info-array length, info array (4-byte items in DM3, 8-byte in DM4), value.
* Value encodings: simple types (2 short, 3 long, 4 ushort, 5 ulong,
  6 float, 7 double, 8 bool, 9 char, 10 octet, 11 int64, 12 uint64), arrays of
  simple types (``[20, eltype, n]``; strings are written as DM does, i.e. as
  arrays of ushort UTF-16 code units) and structs of simple types
  (``[15, 0, nfields, 0, t1, 0, t2, ...]``). Arrays of structs/strings/arrays
  and the 1-byte-char string type 18 are not written.
* Content: ``ImageList`` holding an optional small uint8 thumbnail (image 0,
  listed under root ``Thumbnails`` so the reader skips it) and the one 2D image,
  each with ``ImageData`` (``Calibrations.Brightness``, ``Calibrations.Dimension``
  per axis with ``Origin``/``Scale``/``Units``, ``Data``, ``DataType``,
  ``Dimensions``, ``PixelDepth``), an empty ``ImageTags`` group and ``Name``.
  ``DocumentObjectList``, ``ImageSourceList`` and the other document tags of a
  real GMS file are omitted: RosettaSciIO does not read them.

Image dtypes: int8, uint8, int16, uint16, int32, uint32, float32, float64.

Calibration convention: DM stores ``Origin`` in *pixels*; the calibrated
coordinate of pixel ``i`` is ``(i - Origin) * Scale``, so RosettaSciIO's offset
is ``-Origin * Scale``. Dimensions are stored X (columns) first; this writer
takes calibrations in NumPy axis order ``(y, x)`` and reverses them.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["write_dm", "DM_IMAGE_DATATYPES"]

# numpy dtype -> (DM ImageData.DataType, tag element type code of the Data array)
DM_IMAGE_DATATYPES = {
    np.dtype("int8"): (9, 9),
    np.dtype("uint8"): (6, 10),
    np.dtype("int16"): (1, 2),
    np.dtype("uint16"): (10, 4),
    np.dtype("int32"): (7, 3),
    np.dtype("uint32"): (11, 5),
    np.dtype("float32"): (2, 6),
    np.dtype("float64"): (12, 7),
}

# tag element type code -> little-endian struct format of one value
_SIMPLE_FORMATS = {
    2: "<h",
    3: "<i",
    4: "<H",
    5: "<I",
    6: "<f",
    7: "<d",
    8: "<?",
    9: "<b",
    10: "<B",
    11: "<q",
    12: "<Q",
}
_SIMPLE_NUMPY = {2: "<i2", 3: "<i4", 4: "<u2", 5: "<u4", 6: "<f4", 7: "<f8",
                 8: "u1", 9: "i1", 10: "u1", 11: "<i8", 12: "<u8"}


class Simple:
    """One value of a simple type (``code`` in 2..12)."""

    def __init__(self, code, value):
        if code not in _SIMPLE_FORMATS:
            raise ValueError(f"not a simple DM type: {code}")
        self.code, self.value = code, value


class Array:
    """A 1D array of a simple type, given as anything ``np.asarray`` accepts."""

    def __init__(self, code, values):
        if code not in _SIMPLE_FORMATS:
            raise ValueError(f"arrays of DM type {code} are not supported")
        self.code = code
        self.values = np.ascontiguousarray(values).ravel()


class Struct:
    """A struct of simple-typed fields: ``Struct((code, value), ...)``."""

    def __init__(self, *fields):
        for code, _ in fields:
            if code not in _SIMPLE_FORMATS:
                raise ValueError(f"struct field of DM type {code} is not supported")
        self.fields = fields


class Group:
    """A tag group: ``entries`` is a list of ``(name, value)``; ``name`` may be
    ``""`` (list-like groups such as ``ImageList``)."""

    def __init__(self, entries, is_sorted=False, is_open=True):
        self.entries = list(entries)
        self.is_sorted, self.is_open = is_sorted, is_open


def String(text):
    """A DM string: an array of ushort UTF-16 code units (as GMS writes it)."""
    units = np.frombuffer(str(text).encode("utf-16-le"), dtype="<u2")
    return Array(4, units)


class _Encoder:
    def __init__(self, version):
        if version not in (3, 4):
            raise ValueError("version must be 3 or 4")
        self.version = version
        self.L = ">i" if version == 3 else ">q"  # structural sizes / counts

    def n(self, value):
        return struct.pack(self.L, value)

    def group_body(self, group):
        body = [struct.pack(">BB", int(group.is_sorted), int(group.is_open)),
                self.n(len(group.entries))]
        body += [self.entry(name, value) for name, value in group.entries]
        return b"".join(body)

    def data_body(self, value):
        if isinstance(value, Simple):
            info = [value.code]
            payload = struct.pack(_SIMPLE_FORMATS[value.code], value.value)
        elif isinstance(value, Array):
            info = [20, value.code, value.values.size]
            payload = value.values.astype(_SIMPLE_NUMPY[value.code], copy=False).tobytes()
        elif isinstance(value, Struct):
            info = [15, 0, len(value.fields)]
            for code, _ in value.fields:
                info += [0, code]
            payload = b"".join(struct.pack(_SIMPLE_FORMATS[c], v) for c, v in value.fields)
        else:
            raise TypeError(f"cannot encode {type(value).__name__} as a DM tag")
        return b"".join([b"%%%%", self.n(len(info))] + [self.n(i) for i in info] + [payload])

    def entry(self, name, value):
        name_bytes = name.encode("latin-1")
        if isinstance(value, Group):
            tag_type, body = 20, self.group_body(value)
        else:
            tag_type, body = 21, self.data_body(value)
        head = struct.pack(">Bh", tag_type, len(name_bytes)) + name_bytes
        if self.version == 4:
            head += struct.pack(">Q", len(body))
        return head + body


def _image_group(data, title, scale, origin, units):
    data = np.asarray(data)
    key = data.dtype.newbyteorder("=")  # byte order is fixed on writing
    if key not in DM_IMAGE_DATATYPES:
        raise TypeError(f"unsupported image dtype {data.dtype}")
    datatype, element = DM_IMAGE_DATATYPES[key]
    dims = [Group([("Origin", Simple(6, float(o))), ("Scale", Simple(6, float(s))),
                   ("Units", String(u))])
            for s, o, u in zip(scale[::-1], origin[::-1], units[::-1])]  # X first
    calibrations = Group([
        ("Brightness", Group([("Origin", Simple(6, 0.0)), ("Scale", Simple(6, 1.0)),
                              ("Units", String(""))])),
        ("Dimension", Group([("", d) for d in dims])),
        ("DisplayCalibratedUnits", Simple(8, True)),
    ])
    image_data = Group([
        ("Calibrations", calibrations),
        # C-order rows of the NumPy array == DM's X-fastest layout
        ("Data", Array(element, data.astype(key.newbyteorder("<"), copy=False))),
        ("DataType", Simple(3, datatype)),
        ("Dimensions", Group([("", Simple(5, n)) for n in data.shape[::-1]])),
        ("PixelDepth", Simple(5, key.itemsize)),
    ])
    return Group([("ImageData", image_data), ("ImageTags", Group([])),
                  ("Name", String(title))])


def _thumbnail(data, size=32):
    data = np.asarray(data, dtype=float)
    step = max(1, int(np.ceil(max(data.shape) / size)))
    small = data[::step, ::step]
    lo, hi = float(small.min()), float(small.max())
    scaled = (small - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(small)
    return np.round(scaled).astype(np.uint8)


def write_dm(path, data, *, version=4, scale=(1.0, 1.0), origin=(0.0, 0.0),
             units=("", ""), title="", thumbnail=True):
    """Write one 2D image to a DM3 (``version=3``) or DM4 (``version=4``) file.

    Parameters
    ----------
    path : str or Path
    data : 2D array of a dtype in :data:`DM_IMAGE_DATATYPES`.
    scale, origin, units : per axis, in NumPy order ``(y, x)``. ``origin`` is in
        pixels (DM convention): the loaded axis offset is ``-origin * scale``.
    title : str, stored as the image ``Name``.
    thumbnail : bool, write a uint8 thumbnail as image 0 (as GMS does).

    Returns
    -------
    Path of the written file.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError("write_dm writes exactly one 2D image")
    if not (len(scale) == len(origin) == len(units) == 2):
        raise ValueError("scale, origin and units need one entry per axis (y, x)")
    images = []
    root = []
    if thumbnail:
        images.append(_image_group(_thumbnail(data), "", (1.0, 1.0), (0.0, 0.0), ("", "")))
    images.append(_image_group(data, title, scale, origin, units))
    root.append(("ImageList", Group([("", im) for im in images])))
    if thumbnail:
        root.append(("Thumbnails", Group([("", Group([("ImageIndex", Simple(5, 0))]))])))

    enc = _Encoder(version)
    body = enc.group_body(Group(root))
    header = struct.pack(">i", version) + enc.n(len(body)) + struct.pack(">i", 1)
    path = Path(path)
    path.write_bytes(header + body + b"\x00" * 8)
    return path
