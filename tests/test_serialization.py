"""convlab.save / convlab.load and safetensors files: round trips, atomic writes, bad files."""

import io
import json
import os
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import convlab
from convlab.serialization import load, load_safetensors, save, save_safetensors

DTYPES = [convlab.float16, convlab.float32, convlab.float64, convlab.int8, convlab.int16,
          convlab.int32, convlab.int64, convlab.uint8, convlab.bool]


def _everything():
    w = convlab.randn(3, 4)
    return {
        "tensors": {d.name: convlab.ones(2, 3).to(d) for d in DTYPES},
        "scalar_tensor": convlab.tensor(2.5),
        "empty": convlab.zeros(0, 3),
        "leaf": convlab.ones(2, requires_grad=True),
        "ndarray": np.arange(6, dtype=np.int16).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "np_scalars": [np.float32(1.5), np.int64(7), np.bool_(True), np.float64(0.1)],
        "numbers": [0, -3, 2 ** 70, 0.1, -0.0, 1e300, float("inf"), float("-inf")],
        "strings": ["", "ünïcødé", '{"tensor": 0}'],
        "flags": [True, False, None],
        "tuple": (1, (2, "x"), []),
        "int_keys": {0: {"step": convlab.tensor(3.0)}, -1: "neg"},
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        "empty_containers": [{}, [], ()],
        "shared": [w, w],
    }


def _assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, convlab.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b and repr(a) == repr(b)  # repr: -0.0 stays -0.0


def test_round_trip_of_every_supported_type(tmp_path):
    obj = _everything()
    save(obj, tmp_path / "ckpt.npz")
    back = load(tmp_path / "ckpt.npz")
    _assert_same(obj, back)
    assert back["shared"][0] is back["shared"][1]
    save({"nan": float("nan")}, str(tmp_path / "nan.npz"))
    nan = load(str(tmp_path / "nan.npz"))["nan"]
    assert nan != nan


def test_round_trip_through_a_file_object_and_map_location():
    buffer = io.BytesIO()
    save(_everything(), buffer)
    buffer.seek(0)
    _assert_same(_everything()["ndarray"], load(buffer, map_location="cpu")["ndarray"])
    buffer.seek(0)
    load(buffer, map_location=convlab.device("cpu"), weights_only=False)


def test_file_is_a_zip_of_npy_arrays_and_a_json_structure(tmp_path):
    save({"w": convlab.ones(2), "n": 3}, tmp_path / "c.npz")
    with zipfile.ZipFile(tmp_path / "c.npz") as z:
        assert sorted(z.namelist()) == ["arrays/0.npy", "convlab.json"]
        header = json.loads(z.read("convlab.json"))
    assert header["root"] == {"dict": [["w", {"tensor": 0, "requires_grad": False}], ["n", 3]]}
    np.testing.assert_array_equal(np.load(tmp_path / "c.npz")["arrays/0"], np.ones(2, np.float32))


@pytest.mark.parametrize("obj, message", [
    ({"f": print}, r"obj\['f'\] is a builtin_function_or_method"),
    ({"a": [1, {2}]}, r"obj\['a'\]\[1\] is a set"),
    ({(1, 2): 3}, "has a key .* of type tuple"),
    ({1.5: 3}, "dict keys must be str or int"),
    ({"o": np.array(["text"])}, "dtype <U4"),
    ({"c": np.array([1 + 2j])}, "dtype complex128; convlab has no dtype"),
    ({"u": np.uint16(3)}, "dtype uint16"),
    ({"d": convlab.float32}, "is a dtype"),
    (convlab.nn.Linear(2, 2), "obj is a Linear.*Save its state_dict\\(\\) instead"),
])
def test_unsupported_objects_raise_type_error_and_write_nothing(obj, message, tmp_path):
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


def test_a_failing_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save({"epoch": 1, "w": convlab.ones(2)}, path)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", fail)
    with pytest.raises(OSError, match="disk full"):
        save({"epoch": 2, "w": convlab.zeros(2)}, path)
    assert load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind


def test_written_files_get_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o027)
    try:
        save({"epoch": 1}, tmp_path / "c.npz")
        save_safetensors({"w": convlab.ones(2)}, tmp_path / "w.safetensors")
    finally:
        os.umask(old)
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "w.safetensors"]
    for name in ("c.npz", "w.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "c.npz"
    save({"epoch": 1}, path)
    save({"epoch": 2}, path)
    assert load(path) == {"epoch": 2}
    assert os.listdir(tmp_path) == ["c.npz"]


def _checkpoint_bytes():
    buffer = io.BytesIO()
    save({"w": convlab.arange(12.0).reshape(3, 4), "step": 5}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[: len(b) // 2], "damaged or truncated zip"),
    (lambda b: b[:-10], "damaged or truncated zip"),
    (lambda b: b"", "the file is empty"),
    (lambda b: b"plain text, not a checkpoint\n" * 8, "expected a zip archive written by convlab.save"),
    (lambda b: b"\x80\x04\x95" + b"\x00" * 50, "pickle"),
])
def test_truncated_or_foreign_bytes_raise_value_error_naming_the_file(mutate, message,
                                                                     tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(mutate(_checkpoint_bytes()))
    with pytest.raises(ValueError, match=message) as info:
        load(path)
    assert "bad.npz" in str(info.value)


def test_every_damaged_byte_raises_value_error_or_loads_the_right_values():
    """Flip or cut at every position: a damaged checkpoint never loads wrong numbers."""
    data = _checkpoint_bytes()
    for i in range(len(data)):
        for damaged in (data[:i], data[:i] + bytes([data[i] ^ 0x41]) + data[i + 1:]):
            try:
                back = load(io.BytesIO(damaged))
            except ValueError:
                continue
            np.testing.assert_array_equal(back["w"].numpy(), np.arange(12.0).reshape(3, 4))
            assert back["step"] == 5


def test_a_flipped_data_byte_is_reported_as_corrupt(tmp_path):
    data = bytearray(_checkpoint_bytes())
    data[data.index(struct.pack("<f", 7.0))] ^= 0xFF  # inside the tensor's bytes
    path = tmp_path / "c.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"corrupt: cannot read arrays/0.npy \(Bad CRC"):
        load(path)


def test_other_zip_archives_are_named(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="plain NumPy .npz archive"):
        load(tmp_path / "plain.npz")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("convlab.json", json.dumps({"format": "something-else", "root": 1}))
    with pytest.raises(ValueError, match="does not describe a convlab-checkpoint"):
        load(tmp_path / "other.zip")
    with zipfile.ZipFile(tmp_path / "future.zip", "w") as z:
        z.writestr("convlab.json", json.dumps({"format": "convlab-checkpoint", "version": 99,
                                               "root": 1}))
    with pytest.raises(ValueError, match="version 99"):
        load(tmp_path / "future.zip")


def _archive(root, arrays=(np.arange(2),), json_text=None) -> bytes:
    """A checkpoint written by hand: ``arrays`` as arrays/<i>.npy, ``root`` as its structure."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i, array in enumerate(arrays):
            with z.open(f"arrays/{i}.npy", "w") as member:
                np.lib.format.write_array(member, array)
        z.writestr("convlab.json", json_text or json.dumps(
            {"format": "convlab-checkpoint", "version": 1, "root": root}))
    return buffer.getvalue()


@pytest.mark.parametrize("root, message", [
    ({"tensor": "0"}, "refers to array '0' at obj; arrays are numbered 0, 1, 2"),
    ({"tensor": -1}, "refers to array -1 at obj"),
    ({"tensor": True}, "refers to array True at obj"),
    ({"tensor": 1}, "refers to arrays/1.npy at obj, which the archive does not hold"),
    ({"tensor": 0, "requires_grad": "yes"}, "gives requires_grad 'yes' at obj, not true or false"),
    ({"tensor": 0, "requires_grad": True}, "obj is a int64 tensor marked requires_grad"),
    ({"nope": 1}, "holds {'nope': 1} at obj, which is none of the tagged forms"),
    ({"tensor": 0, "tuple": []}, "which is none of the tagged forms"),
    ({"tuple": 5}, "holds a tuple of 5 at obj, not a list"),
    ({"dict": [["a"]]}, r"holds the entry \['a'\] in the dict at obj; entries are \[key, value\]"),
    ({"ordered_dict": [[[1], 2]]}, r"the entry \[\[1\], 2\] in the ordered_dict at obj"),
    ({"dict": [["a", 1], ["a", 2]]}, "holds the key 'a' twice in the dict at obj"),
    ({"float": "1.5"}, "holds the float '1.5' at obj; tagged floats are 'nan', 'inf' or '-inf'"),
    ({"dict": [["w", {"scalar": 0}]]},
     r"obj\['w'\] is a NumPy scalar, but arrays/0.npy has shape \(2,\)"),
    ([{"tensor": 0}, {"ndarray": 0}],
     r"refers to arrays/0.npy as tensor and, at obj\[1\], as ndarray"),
    ({"bad": "x" * 1000}, r"holds {'bad': 'x{48}\.\.\. at obj"),  # clipped to 60 characters
])
def test_structures_save_never_writes_are_refused_naming_the_place(root, message, tmp_path):
    path = tmp_path / "c.npz"
    path.write_bytes(_archive(root))
    with pytest.raises(ValueError, match=message) as info:
        load(path)
    assert f"load: {str(path)!r} is corrupt" in str(info.value)


def test_json_with_a_repeated_key_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    path.write_bytes(_archive(None, json_text='{"format": "convlab-checkpoint", "version": 1, '
                                              '"root": 1, "root": 2}'))
    with pytest.raises(ValueError, match="an object holds the key 'root' twice"):
        load(path)


def test_nesting_is_bounded_on_save_and_load(tmp_path):
    deep = []
    for _ in range(99):
        deep = [deep]  # 100 lists, one in another
    save(deep, tmp_path / "deep.npz")
    assert load(tmp_path / "deep.npz") == deep
    with pytest.raises(ValueError, match=r"obj\[0\]\[0\].* is nested in more than 100 containers"):
        save([deep], tmp_path / "deeper.npz")


def _deflated_checkpoint(path, nbytes: int):
    """A checkpoint whose one array, ``nbytes`` of zeros, is deflated: a few KB on disk."""
    save({"w": np.zeros(nbytes, np.uint8)}, path)
    with zipfile.ZipFile(path) as src:
        members = {name: src.read(name) for name in src.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in members.items():
            dst.writestr(name, data)


def test_the_load_limit_bounds_inflation_and_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    _deflated_checkpoint(path, 1 << 20)
    assert path.stat().st_size < 10_000
    with pytest.raises(ValueError, match=r"inflating its deflated members would take 1048\d{3} "
                                         r"bytes \(1.0 MiB\), more than the load limit of 100000 "
                                         r"bytes \(97.7 KiB\); if you trust the file, raise the "
                                         r"limit with max_bytes= or the environment variable "
                                         r"CONVLAB_MAX_LOAD_BYTES") as info:
        load(path, max_bytes=100_000)
    assert str(path) in str(info.value)
    monkeypatch.setenv("CONVLAB_MAX_LOAD_BYTES", "100000")
    with pytest.raises(ValueError, match="more than the load limit of 100000 bytes"):
        load(path)
    assert load(path, max_bytes=2 << 20)["w"].shape == (1 << 20,)  # the argument wins
    monkeypatch.setenv("CONVLAB_MAX_LOAD_BYTES", str(2 << 20))
    np.testing.assert_array_equal(load(path)["w"], np.zeros(1 << 20, np.uint8))


def test_stored_data_is_bounded_by_the_file_not_by_the_limit(tmp_path):
    save({"w": convlab.zeros(100_000)}, tmp_path / "c.npz")  # 400 KB, stored as they are
    assert load(tmp_path / "c.npz", max_bytes=128_000)["w"].shape == (100_000,)


@pytest.mark.parametrize("max_bytes, error, message", [
    (0, ValueError, "max_bytes must be a positive number of bytes, got 0"),
    ("1000", TypeError, "max_bytes must be an int"),
    (True, TypeError, "max_bytes must be an int"),
])
def test_a_bad_load_limit_is_refused(max_bytes, error, message, tmp_path, monkeypatch):
    save({}, tmp_path / "c.npz")
    with pytest.raises(error, match=message):
        load(tmp_path / "c.npz", max_bytes=max_bytes)
    monkeypatch.setenv("CONVLAB_MAX_LOAD_BYTES", "1G")
    with pytest.raises(ValueError, match="the environment variable CONVLAB_MAX_LOAD_BYTES is "
                                         "'1G', not a whole number of bytes"):
        load(tmp_path / "c.npz")


def test_a_pytorch_checkpoint_is_refused_with_a_way_forward(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="PyTorch checkpoint .* safetensors") as info:
        load(tmp_path / "model.pt")
    assert "model.pt" in str(info.value)


def test_map_location_other_than_cpu_is_refused(tmp_path):
    save({}, tmp_path / "c.npz")
    with pytest.raises(RuntimeError, match="CPU only"):
        load(tmp_path / "c.npz", map_location="cuda:0")
    with pytest.raises(TypeError, match="map_location"):
        load(tmp_path / "c.npz", map_location=lambda storage, loc: storage)


# ---- safetensors -------------------------------------------------------------------------------


def _write_safetensors(path, arrays, dtypes=None):
    """A safetensors file written by hand from NumPy arrays, independently of convlab."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in arrays.items():
        code = (dtypes or {}).get(name) or {"float32": "F32", "float64": "F64", "int64": "I64",
                                            "float16": "F16", "bool": "BOOL"}[arr.dtype.name]
        blob = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def _read_safetensors(path):
    """The arrays of a safetensors file, read by hand, independently of convlab."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    codes = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "F16": "<f2", "BOOL": "?", "U8": "u1"}
    return {name: np.frombuffer(raw[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]],
                                codes[e["dtype"]]).reshape(e["shape"])
            for name, e in header.items()}


def test_safetensors_round_trip_keeps_dtypes_and_metadata_is_accepted(tmp_path):
    tensors = {d.name: convlab.arange(6).reshape(2, 3).to(d) for d in DTYPES}
    tensors["scalar"] = convlab.tensor(1.5)
    tensors["empty"] = convlab.zeros(0, 4)
    tensors["strided"] = convlab.arange(12.0).reshape(3, 4).t()
    save_safetensors(tensors, tmp_path / "t.safetensors", metadata={"epoch": "3"})
    back = load_safetensors(tmp_path / "t.safetensors")
    assert set(back) == set(tensors)
    for name, t in tensors.items():
        _assert_same(t, back[name])
    raw = (tmp_path / "t.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and json.loads(raw[8:8 + n])["__metadata__"] == {"epoch": "3"}


def test_safetensors_written_by_hand_load_and_convlab_files_read_by_hand(tmp_path):
    arrays = {"a.weight": np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
              "a.bias": np.arange(4.0), "n": np.array(7), "m": np.array([True, False]),
              "h": np.array([0.5, -2.0], np.float16)}
    _write_safetensors(tmp_path / "in.safetensors", arrays)
    loaded = load_safetensors(tmp_path / "in.safetensors")
    for name, arr in arrays.items():
        _assert_same(arr, loaded[name].numpy())
    save_safetensors(loaded, tmp_path / "out.safetensors")
    for name, arr in _read_safetensors(tmp_path / "out.safetensors").items():
        _assert_same(arrays[name], arr.copy())


def test_bf16_widens_exactly_to_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625, 1e-3], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)  # truncation: exact for these
    _write_safetensors(tmp_path / "b.safetensors", {"x": bf16}, dtypes={"x": "BF16"})
    x = load_safetensors(tmp_path / "b.safetensors")["x"]
    assert x.dtype == convlab.float32
    np.testing.assert_array_equal(x.numpy(), (bf16.astype(np.uint32) << 16).view(np.float32))


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:5], "fewer than the 8-byte header length"),
    (lambda b: b[:40], "header length .* is larger than"),
    (lambda b: b[:-3], "truncated"),
    (lambda b: b + b"xx", "trailing bytes"),
    (lambda b: struct.pack("<Q", 4) + b"{{{{", "header is not JSON"),
    (lambda b: struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (lambda b: b.replace(b'"F32"', b'"F99"'), "dtype 'F99'"),
    (lambda b: b.replace(b'"shape":[2,3]', b'"shape":[3,3]'), "needs 36 bytes"),
    (lambda b: os.urandom(64), "not a valid safetensors file"),
])
def test_bad_safetensors_files_raise_value_error_naming_the_file(damage, message, tmp_path):
    save_safetensors({"w": convlab.ones(2, 3), "b": convlab.zeros(3)}, tmp_path / "ok.safetensors")
    path = tmp_path / "bad.safetensors"
    path.write_bytes(damage((tmp_path / "ok.safetensors").read_bytes()))
    with pytest.raises(ValueError, match=message) as info:
        load_safetensors(path)
    assert "bad.safetensors" in str(info.value)


def _safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


_F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("header, data, message", [
    ({"__metadata__": {"a": 1}}, b"", "its __metadata__ is {'a': 1}, not an object of strings"),
    ({"__metadata__": ["x"]}, b"", r"its __metadata__ is \['x'\]"),
    ({"w": {**_F32, "dtype": ["F32"]}}, bytes(8), r"tensor 'w' has dtype \['F32'\]"),
    ({"w": {**_F32, "shape": [0, 2 ** 62], "data_offsets": [0, 0]}}, b"",
     "sizes whose product times the 4-byte item exceeds NumPy's largest array"),
    ({"w": {**_F32, "dtype": "BF16", "shape": [0, 2 ** 61], "data_offsets": [0, 0]}}, b"",
     "times the 4-byte item"),  # BF16 loads as float32
    ({"w": {**_F32, "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4),
     "with 65 dimensions, more than NumPy's"),
    ({"w": {**_F32, "shape": [0, 2 ** 63], "data_offsets": [0, 0]}}, b"",
     "a size 9223372036854775808, not an int from 0 to 2\\*\\*63 - 1"),
    ({"w": {**_F32, "shape": [-1]}}, bytes(8), "a size -1"),
    ({"w": {**_F32, "shape": [True, 2]}}, bytes(8), "a size True"),
    ({"w": {**_F32, "data_offsets": [False, 8]}}, bytes(8), r"data_offsets \[False, 8\]"),
])
def test_impossible_safetensors_headers_are_refused(header, data, message, tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(_safetensors_bytes(header, data))
    with pytest.raises(ValueError, match=message) as info:
        load_safetensors(path)
    assert str(path) in str(info.value)


def test_safetensors_headers_are_bounded_and_unique(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes(_safetensors_bytes({"__metadata__": {"note": "x" * 10_000}}))
    assert load_safetensors(path) == {}
    with pytest.raises(ValueError, match=r"its header has 100\d\d bytes, more than the 8192 a "
                                         r"header may have") as info:
        load_safetensors(path, max_bytes=1 << 20)
    assert str(path) in str(info.value)
    entry = json.dumps(_F32)
    text = f'{{"w": {entry}, "w": {entry}}}'.encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(8))
    with pytest.raises(ValueError, match="an object holds the key 'w' twice"):
        load_safetensors(path)


def test_the_two_formats_point_at_each_other(tmp_path):
    save({"w": convlab.ones(2)}, tmp_path / "c.npz")
    with pytest.raises(ValueError, match="zip archive: a convlab checkpoint"):
        load_safetensors(tmp_path / "c.npz")
    save_safetensors({"w": convlab.ones(2)}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="load_safetensors"):
        load(tmp_path / "w.safetensors")


def test_save_safetensors_rejects_what_the_format_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="not a tensor"):
        save_safetensors({"w": [1, 2]}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="names must be str"):
        save_safetensors({0: convlab.ones(1)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="metadata must be a dict of str -> str"):
        save_safetensors({"w": convlab.ones(1)}, tmp_path / "x.safetensors", metadata={"a": 1})
    assert os.listdir(tmp_path) == []


def test_pytorch_state_dict_interop_through_safetensors(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 3))
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    _write_safetensors(tmp_path / "net.safetensors", state)
    loaded = load_safetensors(tmp_path / "net.safetensors")
    assert {k: tuple(v.shape) for k, v in loaded.items()} == {k: v.shape for k, v in state.items()}
    save_safetensors(loaded, tmp_path / "back.safetensors")
    net.load_state_dict({k: torch.from_numpy(v.copy())
                         for k, v in _read_safetensors(tmp_path / "back.safetensors").items()})
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k])


def test_safetensors_package_interop(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    tensors = {"w": torch.randn(3, 4), "i": torch.arange(5), "h": torch.randn(2).half(),
               "d": torch.randn(2, dtype=torch.float64), "m": torch.tensor([True, False]),
               "bf": torch.randn(4).bfloat16()}
    st.save_file(tensors, str(tmp_path / "pt.safetensors"), metadata={"format": "pt"})
    loaded = load_safetensors(tmp_path / "pt.safetensors")
    for k, v in tensors.items():
        np.testing.assert_array_equal(loaded[k].numpy(), v.float().numpy() if k == "bf"
                                      else v.numpy())
    del loaded["bf"]
    save_safetensors(loaded, tmp_path / "cl.safetensors")
    for k, v in st.load_file(str(tmp_path / "cl.safetensors")).items():
        assert torch.equal(v, tensors[k])


def test_a_convlab_model_loads_a_pytorch_state_dict_and_back(tmp_path):
    torch = pytest.importorskip("torch")
    nn = convlab.nn
    if not all(hasattr(nn, name) for name in ("Sequential", "Conv2d", "Flatten", "Linear")):
        pytest.skip("convlab.nn does not have the layers of this model yet")
    t_net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                                torch.nn.Linear(8, 3))
    c_net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
    _write_safetensors(tmp_path / "t.safetensors",
                       {k: v.detach().numpy() for k, v in t_net.state_dict().items()})
    c_net.load_state_dict(load_safetensors(tmp_path / "t.safetensors"))
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(c_net(convlab.tensor(x)).detach().numpy(),
                               t_net(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)

    with convlab.no_grad():
        for p in c_net.parameters():
            p.mul_(2)
    save_safetensors(c_net.state_dict(), tmp_path / "c.safetensors")
    t_net.load_state_dict({k: torch.from_numpy(v.copy())
                           for k, v in _read_safetensors(tmp_path / "c.safetensors").items()})
    np.testing.assert_allclose(c_net(convlab.tensor(x)).detach().numpy(),
                               t_net(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
