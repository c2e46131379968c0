"""The UBJSON decoder that reads saved XGBoost models."""

import json
import struct

import numpy as np
import pytest

from shapkit.trees.ubjson import decode_ubjson


def _key(name: str) -> bytes:
    raw = name.encode()
    return b"i" + struct.pack(">b", len(raw)) + raw


def test_scalars_strings_and_containers_decode_as_json_would():
    doc = (
        b"{"
        + _key("int8") + b"i\xfe"
        + _key("uint8") + b"U\xff"
        + _key("int16") + b"I" + struct.pack(">h", -300)
        + _key("int32") + b"l" + struct.pack(">i", 70000)
        + _key("int64") + b"L" + struct.pack(">q", -(2**40))
        + _key("f32") + b"d" + struct.pack(">f", 0.5)
        + _key("f64") + b"D" + struct.pack(">d", 1e-300)
        + _key("text") + b"SU\x05h\xc3\xa9ll"
        + _key("big") + b"HU\x0512.50"
        + _key("char") + b"Cx"
        + _key("flags") + b"[TFZN]"
        + _key("counted") + b"[#U\x02SU\x01aD" + struct.pack(">d", 2.0)
        + _key("typed_object") + b"{$i#U\x02" + _key("a") + b"\x01" + _key("b") + b"\xff"
        + b"N}"
    )  # fmt: skip
    assert decode_ubjson(doc) == {
        "int8": -2, "uint8": 255, "int16": -300, "int32": 70000, "int64": -(2**40),
        "f32": 0.5, "f64": 1e-300, "text": "héll", "big": "12.50", "char": "x",
        "flags": [True, False, None], "counted": ["a", 2.0],
        "typed_object": {"a": 1, "b": -1},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("marker", "fmt", "values"),
    [
        (b"i", ">i1", [-128, 0, 127]),
        (b"U", ">u1", [0, 200, 255]),
        (b"I", ">i2", [-32768, 7, 32767]),
        (b"l", ">i4", [-(2**31), 1, 2**31 - 1]),
        (b"L", ">i8", [-(2**63), 3, 2**63 - 1]),
        (b"d", ">f4", [-1.5, 0.0, 3.25]),
        (b"D", ">f8", [np.pi, -np.e, 1e308]),
    ],
)
def test_typed_arrays_are_numpy_arrays_with_their_values(marker, fmt, values):
    block = np.asarray(values).astype(fmt).tobytes()
    out = decode_ubjson(b"[$" + marker + b"#U" + bytes([len(values)]) + block)
    assert isinstance(out, np.ndarray) and out.dtype == np.dtype(fmt)
    assert out.tolist() == values
    assert out.astype(np.float64).tolist() == [float(v) for v in values]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"X", "unknown type marker 'X'"),
        (b"[$l#U\x02\x00\x00\x00\x01", "ends inside a value"),
        (b"SU\x09abc", "ends inside a value"),
        (b"{" + _key("a") + b"U\x01", "ends inside a value"),
        (b"U\x01U\x02", "2 bytes after the document"),
        (b"Si\xff", "negative length"),
        (b"SD" + struct.pack(">d", 2.0) + b"ab", "a length must be an integer"),
        (b"[$l\x00", "typed container needs a count"),
    ],
)
def test_malformed_documents_raise_value_errors_that_say_what_is_wrong(doc, message):
    with pytest.raises(ValueError, match=message):
        decode_ubjson(doc)


@pytest.mark.parametrize("n_classes", [1, 3])
def test_an_xgboost_model_decodes_to_its_json_document(n_classes):
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[rng.random(X.shape) < 0.1] = np.nan
    if n_classes == 1:
        model = xgb.XGBRegressor(n_estimators=8, max_depth=4).fit(X, rng.normal(size=300))
    else:
        y = rng.integers(0, n_classes, 300)
        model = xgb.XGBClassifier(n_estimators=4, max_depth=3).fit(X, y)
    booster = model.get_booster()
    doc = decode_ubjson(bytes(booster.save_raw(raw_format="ubj")))
    expected = json.loads(bytes(booster.save_raw(raw_format="json")))
    _assert_same(doc, expected)


def _assert_same(got, want, where=""):
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            _assert_same(got[key], want[key], f"{where}/{key}")
    elif isinstance(got, np.ndarray):  # JSON prints float32 values with rounding
        assert np.array_equal(got, np.asarray(want, dtype=got.dtype)), where
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(want, float):
        assert np.float32(got) == np.float32(want), where
    else:
        assert got == want, where
