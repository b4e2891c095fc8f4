"""Hostile and broken files are refused with a clear error naming them, within bounded memory.

Each file is made here and is small on disk, but claims far more than it holds (a zip member that
inflates to 2 GiB, an IDX header over 2 GiB of gzipped zeros, a pickled array with stride 0) or
holds what convlab never loads (complex arrays, repeated names, encrypted members). All of them
are loaded in one child process that may map only 1 GiB more than ``import convlab`` left it
with (``resource.setrlimit(RLIMIT_AS)``; the size is read from ``/proc``, so Linux only): a
reader that trusted a declared size would die there of MemoryError; the test requires instead a
ValueError that names the file and the problem, within seconds. Good files of each format load
in the same child, and the child first shows that the limit bites.
"""

import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np
import pytest

import convlab

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the memory limit is read from /proc and set with RLIMIT_AS")

MIB = 1 << 20
GIB = 1 << 30
SECONDS = 5  # per load, generous for a busy 2-core machine; a refusal takes milliseconds

# ---- writers of the formats, field by field, so that they can lie --------------------------------


def deflated(prefix: bytes, fill: bytes, mib: int) -> bytes:
    """Raw deflate data of ``prefix`` followed by ``mib`` MiB of the byte ``fill``: one compressed
    MiB (about 1 KB) repeated, which is valid because a full flush makes each copy independent."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    one_mib = c.compress(fill * MIB) + c.flush(zlib.Z_FULL_FLUSH)
    return head + one_mib * mib + c.flush()


def gzipped(prefix: bytes, fill: bytes, mib: int) -> bytes:
    """A gzip file of ``prefix`` and ``mib`` MiB of ``fill``. Its CRC is left 0: the readers
    must refuse these files long before the end, where the CRC is checked."""
    size = (len(prefix) + mib * MIB) % (1 << 32)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + deflated(prefix, fill, mib)
            + struct.pack("<2L", 0, size))


def zip_bytes(members, central=None) -> bytes:
    """A zip archive of ``members`` (name, data as stored, method, size, crc, flags, and
    optionally a compressed size other than ``len(data)``), with each central directory entry
    (name, index of the local member it points at) from ``central``."""
    local, offsets = bytearray(), []
    for name, data, method, size, crc, flags, *claimed in members:
        offsets.append(len(local))
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0, crc,
                             (claimed or [len(data)])[0], size, len(name), 0) + name.encode() + data
    directory = bytearray()
    for name, i in central or [(m[0], i) for i, m in enumerate(members)]:
        _, data, method, size, crc, flags, *claimed = members[i]
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0, crc,
                                 (claimed or [len(data)])[0], size, len(name), 0, 0, 0, 0, 0,
                                 offsets[i]) + name.encode()
    count = len(central or members)
    return bytes(local + directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count,
                                                 len(directory), len(local), 0))


def stored(name: str, data: bytes, flags: int = 0) -> tuple:
    return name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data), flags


def npy_header(descr: str, shape: tuple) -> bytes:
    """The start of a ``.npy`` file (version 1.0) declaring ``shape`` of ``descr``."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def structure(root) -> bytes:
    return json.dumps({"format": "convlab-checkpoint", "version": 1, "root": root}).encode()


TENSOR = structure({"tensor": 0, "requires_grad": False})
OVERLAP_JSON = structure([{"ndarray": i} for i in range(1000)])


def checkpoint(*members, json_text: bytes = TENSOR) -> bytes:
    return zip_bytes([*members, stored("convlab.json", json_text)])


def safetensors(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


class Call:
    """Pickles as the call ``function(*args)``: how a pickle asks for any call at all."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def cifar_batch(data, labels) -> bytes:
    return pickle.dumps({"batch_label": "testing batch 1 of 1", "data": data, "labels": labels},
                        protocol=2)


_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]


# ---- the cases: (id, call, file, keyword arguments, a phrase the error must hold) ---------------
# A phrase of None marks a good file, which must load.

def cases() -> list:
    tensor_2gib = npy_header("<f4", (GIB // 2,))
    return [
        # checkpoints (convlab.load)
        ("ckpt-good", "load", "good.npz", {}, None),
        ("ckpt-good-deflated", "load", "deflated.npz", {}, None),
        ("ckpt-inflates-to-2gib", "load", "inflate.npz", {},
         f"inflating its deflated members would take {len(tensor_2gib) + 2 * GIB} bytes (2.0 GiB), "
         f"more than the load limit of {GIB} bytes"),
        ("ckpt-inflates-to-8mib", "load", "inflate8.npz", {}, None),
        ("ckpt-inflates-past-a-lowered-limit", "load", "inflate8.npz", {"max_bytes": 4 * MIB},
         f"more than the load limit of {4 * MIB} bytes (4.0 MiB); if you trust the file, raise "
         "the limit with max_bytes= or the environment variable CONVLAB_MAX_LOAD_BYTES"),
        ("ckpt-json-of-1gib-spaces", "load", "spaces.npz", {},
         f"its convlab.json has {GIB} bytes, more than the {GIB // 128}"),
        ("ckpt-claims-2gib-stored", "load", "claims.npz", {},
         f"arrays/0.npy declares shape ({GIB // 2},) of float32 = {2 * GIB} bytes, but 16 bytes "
         "follow"),
        ("ckpt-stored-size-lies", "load", "size_lies.npz", {},
         f"stored member 'arrays/0.npy' claims {2 * GIB} bytes but occupies 16"),
        ("ckpt-member-past-the-end", "load", "past_end.npz", {},
         f"member 'arrays/0.npy' claims {2 * GIB} bytes at offset 0, past the end of the"),
        ("ckpt-overlapping-members", "load", "overlap.npz", {},
         f"its stored members claim {1000 * MIB + len(OVERLAP_JSON)} bytes in all, more than the"),
        *[(f"ckpt-dtype-{kind}", "load", f"dtype_{kind}.npz", {},
           f"arrays/0.npy holds an array of dtype {kind}; convlab has no dtype")
          for kind in ("complex128", "datetime64[D]", "<U4", "|V8", "uint16", "object")],
        ("ckpt-duplicate-member", "load", "duplicate.npz", {},
         "it holds two members named 'arrays/0.npy'"),
        ("ckpt-json-nested-100000-deep", "load", "deep_json.npz", {},
         "deeper than Python's JSON parser follows"),
        ("ckpt-containers-nested-150-deep", "load", "deep_lists.npz", {},
         "nests containers more than 100 deep"),
        ("ckpt-encrypted-flag", "load", "encrypted.npz", {}, "is marked encrypted"),
        ("ckpt-bzip2-member", "load", "bzip2.npz", {}, "zip compression method 12"),
        ("ckpt-bad-tag", "load", "bad_tag.npz", {},
         "convlab.json refers to array '0' at obj; arrays are numbered 0, 1, 2"),
        ("ckpt-huge-zero-size-shape", "load", "zero_size.npz", {}, "NumPy's largest array"),
        # safetensors
        ("st-good", "load_safetensors", "good.safetensors", {}, None),
        ("st-impossible-shape", "load_safetensors", "shape.safetensors", {},
         "has shape [0, 4611686018427387904, 4611686018427387904], with sizes whose product"),
        ("st-too-many-dimensions", "load_safetensors", "ndim.safetensors", {},
         "65 dimensions, more than NumPy's"),
        ("st-size-not-an-int", "load_safetensors", "bool_size.safetensors", {},
         "a size True, not an int"),
        ("st-duplicate-key", "load_safetensors", "duplicate.safetensors", {},
         "an object holds the key 'w' twice"),
        ("st-header-over-the-limit", "load_safetensors", "big_header.safetensors",
         {"max_bytes": MIB}, "its header has 65536 bytes, more than the 8192"),
        ("st-dtype-not-a-string", "load_safetensors", "dtype_list.safetensors", {},
         "has dtype ['F32']"),
        # IDX and MNIST
        ("idx-good", "read_idx", "good-idx1-ubyte.gz", {}, None),
        ("idx-gzip-inflates-to-4gb", "read_idx", "images-idx3-ubyte.gz", {},
         "the header says 1000000 x 64 x 64 uint8 = 4096000000 bytes of data after the 16-byte "
         "header: inflating it would take 4096000000 bytes (3.8 GiB), more than the load limit"),
        ("idx-3-labels-then-2gib", "read_idx", "labels-idx1-ubyte.gz", {},
         "IDX file too long: the header says 3 uint8 = 3 bytes of data after the 8-byte header, "
         "but more than 3 bytes follow"),
        ("idx-plain-claims-2gib", "read_idx", "claims-idx1-ubyte", {},
         f"truncated IDX file: the header says {2 * GIB - 1} uint8"),
        ("idx-100-dimensions", "read_idx", "ndim-idx", {}, "100 dimensions, more than NumPy's"),
        ("mnist-gzip-bomb", "MNIST", "mnist", {}, "inflating it would take 4096000000 bytes"),
        # CIFAR-10 python batches and restricted pickles
        ("cifar-good", "CIFAR10", "cifar_good", {}, None),
        ("cifar-stride-0-100000-images", "CIFAR10", "cifar_stride0", {},
         "for shape (100000, 3072) of uint8 = 307200000 bytes from offset 0 of a 1-byte buffer"),
        ("cifar-ndarray-without-buffer", "CIFAR10", "cifar_nobuffer", {}, "without a buffer"),
        ("cifar-overlapping-strides", "CIFAR10", "cifar_strides", {},
         "strides (1, 2) for shape (2, 3072) of uint8"),
        ("pickle-reconstruct-1e12", "restricted_load", "reconstruct.pkl", {},
         "reconstructs an array of shape (1000000000000,)"),
        ("pickle-bytes8-claims-2gib", "restricted_load", "bytes8.pkl", {},
         "expected 2147483648 bytes in a bytes8, but only 3 remain"),
    ]


def write_files(folder) -> None:
    """Write every file that :func:`cases` names into ``folder`` (a few MB in all)."""
    def put(name: str, data: bytes) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    convlab.save({"w": convlab.arange(6.0).reshape(2, 3), "step": 3}, folder / "good.npz")
    with zipfile.ZipFile(folder / "good.npz") as src, \
            zipfile.ZipFile(folder / "deflated.npz", "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))

    head = npy_header("<f4", (GIB // 2,))  # a 2 GiB float32 tensor of zeros, 2 MB deflated
    put("inflate.npz", checkpoint(("arrays/0.npy", deflated(head, b"\0", 2048),
                                   zipfile.ZIP_DEFLATED, len(head) + 2 * GIB, 0, 0)))
    put("claims.npz", checkpoint(stored("arrays/0.npy", head + bytes(16))))
    head = npy_header("<f4", (2 * MIB,))  # 8 MiB of zeros: a deflated member that may load
    crc = zlib.crc32(bytes(8 * MIB), zlib.crc32(head))
    put("inflate8.npz", checkpoint(("arrays/0.npy", deflated(head, b"\0", 8),
                                    zipfile.ZIP_DEFLATED, len(head) + 8 * MIB, crc, 0)))
    put("spaces.npz", zip_bytes([("convlab.json", deflated(b"", b" ", 1024), zipfile.ZIP_DEFLATED,
                                  GIB, 0, 0)]))
    put("size_lies.npz", checkpoint(("arrays/0.npy", bytes(16), zipfile.ZIP_STORED, 2 * GIB, 0, 0)))
    put("past_end.npz", checkpoint(("arrays/0.npy", bytes(16), zipfile.ZIP_STORED, 2 * GIB, 0, 0,
                                    2 * GIB)))
    one = stored("arrays/0.npy", npy_header("|u1", (MIB - 128,)) + bytes(MIB - 128))
    put("overlap.npz", zip_bytes([one, stored("convlab.json", OVERLAP_JSON)],
        central=[(f"arrays/{i}.npy", 0) for i in range(1000)] + [("convlab.json", 1)]))
    for kind, array in [("complex128", np.array([1 + 2j])),
                        ("datetime64[D]", np.array(["2020-01-01"], "datetime64[D]")),
                        ("<U4", np.array(["text"])), ("|V8", np.zeros(2, "V8")),
                        ("uint16", np.arange(3, dtype=np.uint16)),
                        ("object", np.array([None]))]:
        put(f"dtype_{kind}.npz", checkpoint(stored("arrays/0.npy", npy(array))))
    good_array = stored("arrays/0.npy", npy(np.ones(2, np.float32)))
    put("duplicate.npz", checkpoint(good_array, good_array))
    put("deep_json.npz", checkpoint(json_text=b'{"format": "convlab-checkpoint", "version": 1, '
                                              b'"root": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    put("deep_lists.npz", checkpoint(json_text=structure(json.loads("[" * 150 + "]" * 150))))
    put("encrypted.npz", checkpoint(stored("arrays/0.npy", npy(np.ones(2, np.float32)), flags=1)))
    put("bzip2.npz", checkpoint(("arrays/0.npy", b"BZh9", zipfile.ZIP_BZIP2, 2 * GIB, 0, 0)))
    put("bad_tag.npz", checkpoint(good_array, json_text=structure({"tensor": "0"})))
    put("zero_size.npz", checkpoint(stored("arrays/0.npy", npy_header("<f8", (0, 2 ** 62, 2)))))

    convlab.save_safetensors({"w": convlab.ones(2, 3)}, folder / "good.safetensors")
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    put("shape.safetensors", safetensors({"w": {**entry, "shape": [0, 2 ** 62, 2 ** 62],
                                                "data_offsets": [0, 0]}}))
    put("ndim.safetensors", safetensors({"w": {**entry, "shape": [1] * 65, "data_offsets": [0, 4]}},
                                        bytes(4)))
    put("bool_size.safetensors", safetensors({"w": {**entry, "shape": [True, 2]}}, bytes(8)))
    text = json.dumps(entry).encode()
    text = b'{"w": ' + text + b', "w": ' + text + b"}"
    put("duplicate.safetensors", struct.pack("<Q", len(text)) + text + bytes(8))
    put("big_header.safetensors", struct.pack("<Q", 65536) + b"{}" + b" " * 65534)
    put("dtype_list.safetensors", safetensors({"w": {**entry, "dtype": ["F32"]}}, bytes(8)))

    put("good-idx1-ubyte.gz", gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])))
    images = bytes([0, 0, 8, 3]) + struct.pack(">3L", 1_000_000, 64, 64)
    put("images-idx3-ubyte.gz", gzipped(images, b"\0", 4_096_000_000 // MIB + 1))
    put("labels-idx1-ubyte.gz", gzipped(bytes([0, 0, 8, 1, 0, 0, 0, 3]), b"\0", 2048))
    put("claims-idx1-ubyte", bytes([0, 0, 8, 1]) + struct.pack(">L", 2 * GIB - 1) + bytes(10))
    put("ndim-idx", bytes([0, 0, 8, 100]) + struct.pack(">100L", *[0] * 100))
    put("mnist/train-images-idx3-ubyte.gz", (folder / "images-idx3-ubyte.gz").read_bytes())
    put("mnist/train-labels-idx1-ubyte.gz", (folder / "good-idx1-ubyte.gz").read_bytes())

    def cifar(name: str, batch: bytes) -> None:
        put(f"{name}/cifar-10-batches-py/test_batch", batch)

    cifar("cifar_good", cifar_batch(np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072), [3, 9]))
    cifar("cifar_stride0", cifar_batch(
        Call(np.ndarray, (100_000, 3072), np.dtype(np.uint8), b"\0", 0, (0, 0)),
        Call(np.ndarray, (100_000,), np.dtype(np.int64), bytes(8), 0, (0,))))
    cifar("cifar_nobuffer", cifar_batch(Call(np.ndarray, (100_000, 3072), np.dtype(np.uint8)), [0]))
    cifar("cifar_strides", cifar_batch(
        Call(np.ndarray, (2, 3072), np.dtype(np.uint8), bytes(6144), 0, (1, 2)), [0, 1]))
    put("reconstruct.pkl", pickle.dumps(Call(_RECONSTRUCT, np.ndarray, (10 ** 12,), b"b"),
                                        protocol=2))
    put("bytes8.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 2 * GIB) + b"abc")


# ---- the child that loads them under a 1 GiB address-space limit --------------------------------

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import convlab
    from convlab.data import CIFAR10, MNIST
    from convlab.data.idx import read_idx
    from convlab.data.restricted_pickle import restricted_load

    CALLS = {"load": convlab.load, "load_safetensors": convlab.load_safetensors,
             "read_idx": read_idx, "MNIST": MNIST, "restricted_load": restricted_load,
             "CIFAR10": lambda root, **kw: CIFAR10(root, train=False, **kw)}
    # 1 GiB of address space beyond what the imports hold (about 0.3 GiB here; more where the
    # BLAS reserves buffers for many threads)
    held = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
                if line.startswith("VmSize:"))
    limit = held + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        bytearray((1 << 30) + (64 << 20))  # with a margin: mappings counted above may be gone
        bites = False
    except MemoryError:
        bites = True
    print(json.dumps({"limit_bites": bites}), flush=True)
    for line in sys.stdin:
        case = json.loads(line)
        start = time.perf_counter()
        try:
            CALLS[case["call"]](case["path"], **case["kwargs"])
            result = {"error": None}
        except BaseException as e:
            result = {"error": type(e).__name__, "message": str(e),
                      "value_error": isinstance(e, ValueError)}
        result.update(id=case["id"], seconds=time.perf_counter() - start)
        print(json.dumps(result), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_kib": peak}), flush=True)
""")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each case's outcome in the child: {id: {error, message, value_error, seconds}}."""
    folder = tmp_path_factory.mktemp("hostile")
    write_files(folder)
    lines = "".join(json.dumps({"id": i, "call": call, "path": str(folder / name),
                                "kwargs": kwargs}) + "\n"
                    for i, call, name, kwargs, _ in cases())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("CONVLAB_MAX_LOAD_BYTES", None)
    child = subprocess.run([sys.executable, "-c", CHILD], input=lines, capture_output=True,
                           text=True, timeout=120, env=env)
    out = [json.loads(line) for line in child.stdout.splitlines()]
    assert out and out[0] == {"limit_bites": True}, (out, child.stderr)
    by_id = {r["id"]: r for r in out if "id" in r}
    by_id["stderr"] = child.stderr
    by_id["folder"] = folder
    return by_id


@pytest.mark.parametrize("case_id, call, name, kwargs, phrase", cases(),
                         ids=[c[0] for c in cases()])
def test_each_file_is_refused_clearly_within_bounded_memory(results, case_id, call, name, kwargs,
                                                            phrase):
    result = results.get(case_id)
    assert result is not None, f"the child died before {case_id}: {results['stderr'][-2000:]}"
    assert result["seconds"] < SECONDS, result
    if phrase is None:
        assert result["error"] is None, result
        return
    assert result["value_error"], result
    message = result["message"]
    path = results["folder"] / name
    if call == "CIFAR10":
        path = path / "cifar-10-batches-py" / "test_batch"
    elif call == "MNIST":
        path = path / "train-images-idx3-ubyte.gz"
    assert str(path) in message, message
    assert phrase in message, message


def test_the_files_are_small_on_disk(results):
    sizes = {p.name: p.stat().st_size for p in results["folder"].rglob("*") if p.is_file()}
    assert max(sizes.values()) < 5 * MIB, sizes
