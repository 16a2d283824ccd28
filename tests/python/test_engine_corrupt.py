"""Corrupt and malicious engine files: exit status 1 and one line naming the problem; never a
crash, hang or sanitizer report (this also runs against the ASan+UBSan build). Files with broken
bytes fail their checksums; forged files (checksums recomputed, XXH3 as odrt computes it) reach
the semantic checks: wrong version/device/endianness, out-of-range indices, offsets and shapes."""
import json
import struct

import pytest
import xxhash

from conftest import MODEL, run_odrt

HDR = 64


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("eng")
    run_odrt("build", MODEL, "-o", d / "good.odrt")
    return (d / "good.odrt").read_bytes()


def sections(b):
    out = []
    for i in range(struct.unpack_from("<I", b, 24)[0]):
        kind, _, off, size, h = struct.unpack_from("<IIQQQ", b, HDR + 32 * i)
        out.append([kind, off, size, h])
    return out


def reseal(b, meta=None, blob=None):
    """rebuild a file from (possibly edited) metadata JSON and blob with valid checksums"""
    secs = sections(b)
    meta_b = b[secs[0][1]:secs[0][1] + secs[0][2]] if meta is None else json.dumps(meta).encode()
    blob_b = b[secs[1][1]:secs[1][1] + secs[1][2]] if blob is None else blob
    meta_off = HDR + 64
    blob_off = (meta_off + len(meta_b) + 63) // 64 * 64
    total = blob_off + len(blob_b)
    out = bytearray(total)
    out[:HDR] = b[:HDR]
    struct.pack_into("<Q", out, 16, total)
    struct.pack_into("<IIQQQ", out, HDR, 1, 0, meta_off, len(meta_b), xxhash.xxh3_64_intdigest(meta_b))
    struct.pack_into("<IIQQQ", out, HDR + 32, 2, 0, blob_off, len(blob_b), xxhash.xxh3_64_intdigest(blob_b))
    out[meta_off:meta_off + len(meta_b)] = meta_b
    out[blob_off:] = blob_b
    return seal_header(out)


def seal_header(out):
    out = bytearray(out)
    h = xxhash.xxh3_64_intdigest(bytes(out[:40]) + bytes(out[48:64]) + bytes(out[HDR:HDR + 64]))
    struct.pack_into("<Q", out, 40, h)
    return bytes(out)


def meta_of(b):
    s = sections(b)[0]
    return json.loads(b[s[1]:s[1] + s[2]])


def check(tmp_path, name, data, expect):
    p = tmp_path / name
    p.write_bytes(data)
    for verb in (["detect", p, MODEL_IMAGE], ["bench", p, "--iterations", "1", "--warmup", "0"]):
        r = run_odrt(*verb, check=False, timeout=60)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode == 1, (name, r.returncode, r.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("odrt: "), (name, r.stderr[-2000:])
        assert expect in lines[0], (name, expect, lines[0])


MODEL_IMAGE = None


@pytest.fixture(autouse=True)
def _image(images):
    global MODEL_IMAGE
    MODEL_IMAGE = images[0]


def test_forged_file_still_runs(good, tmp_path, images):
    """the forging helper itself is right: a resealed unchanged file loads and detects"""
    (tmp_path / "same.odrt").write_bytes(reseal(good, meta=meta_of(good)))
    run_odrt("detect", tmp_path / "same.odrt", images[0])


def test_synthetic_seed(tmp_path, images):
    """the fuzzer's seed (every op kind, written by the Python writer of the format) loads and runs"""
    import subprocess
    import sys
    from conftest import ROOT
    for extra in ([], ["--int8"]):
        seed = tmp_path / "seed.odrt"
        subprocess.run([sys.executable, str(ROOT + "/tests/fuzz/make_engine_seed.py"), str(seed)] + extra, check=True)
        p = run_odrt("detect", seed, images[0], "--threshold", "0")
        assert "10 detections" in p.stdout, extra


def test_truncated_and_flipped(good, tmp_path):
    n = len(good)
    for cut in (0, 10, 63, 64, 100, 127, 200, n // 2, n - 1):
        check(tmp_path, "cut%d.odrt" % cut, good[:cut], "engine" if cut else "empty")
    secs = sections(good)
    for where, expect in ((3, "bad magic"), (30, "header checksum"), (HDR + 20, "header checksum"),
                          (secs[0][1] + 50, "metadata) checksum"), (secs[1][1] + 1000, "blob) checksum"),
                          (n - 5, "blob) checksum")):
        b = bytearray(good)
        b[where] ^= 0x5A
        check(tmp_path, "flip%d.odrt" % where, bytes(b), expect)


def test_header_fields(good, tmp_path):
    b = bytearray(good)
    struct.pack_into("<I", b, 8, 99)
    check(tmp_path, "version.odrt", seal_header(b), "format version 99")
    b = bytearray(good)
    struct.pack_into("<I", b, 12, 0x04030201)
    check(tmp_path, "endian.odrt", seal_header(b), "wrong byte order")
    b = bytearray(good)
    b[48:64] = b"cuda".ljust(16, b"\0")
    check(tmp_path, "device.odrt", seal_header(b), "metadata device 'cpu' is not the header's 'cuda'")
    b = bytearray(good)
    b[48:64] = b"tpu".ljust(16, b"\0")
    check(tmp_path, "device_tpu.odrt", seal_header(b), "unknown device 'tpu'")
    b = bytearray(good)
    struct.pack_into("<Q", b, HDR + 8, len(good) + 10)  # metadata section past the end
    check(tmp_path, "secoff.odrt", seal_header(b), "past the end")
    b = bytearray(good)
    struct.pack_into("<I", b, 24, 1000)
    check(tmp_path, "nsec.odrt", seal_header(b), "section table")
    check(tmp_path, "padded.odrt", good + b"\0" * 64, "header says")


def forged(good, edit):
    m = meta_of(good)
    edit(m)
    return reseal(good, meta=m)


def test_metadata_semantics(good, tmp_path):
    m0 = meta_of(good)
    ops, ts = m0["network"]["ops"], m0["network"]["tensors"]
    conv = next(i for i, o in enumerate(ops) if o["kind"] == 1)
    gather = next(i for i, o in enumerate(ops) if o["kind"] == 4)
    concat = next(i for i, o in enumerate(ops) if o["kind"] == 5)

    def overlay(m):  # the concat's output placed over its first input
        net = m["network"]
        net["tensors"][net["ops"][concat]["out"]][3] = net["tensors"][net["ops"][concat]["in"][0]][3]
    cases = [
        ("tensor_index", lambda m: m["network"]["ops"][conv].update({"out": 10 ** 6}), "op %d bad" % conv),
        ("input_index", lambda m: m["network"]["ops"][conv]["in"].__setitem__(0, -1), "op %d bad" % conv),
        ("huge_tensor_count", lambda m: m["network"].update({"tensors": m["network"]["tensors"] * 8000}), "counts"),
        ("huge_dims", lambda m: m["network"]["tensors"][1].__setitem__(4, 2 ** 39), "tensor 1"),
        ("arena", lambda m: m["network"].update({"arena_bytes": 64}), "outside the arena"),
        ("alias_forward", lambda m: m["network"]["tensors"][1].__setitem__(2, 5), "tensor 1 bad"),
        ("conv_shape", lambda m: m["network"]["ops"][conv]["p"].__setitem__(13, 7), "shapes do not agree"),
        ("conv_stride", lambda m: m["network"]["ops"][conv]["p"].__setitem__(4, 0), "out of range"),
        ("weights_size", lambda m: m["network"]["ops"][conv]["w"].__setitem__(1, 64), "wrong size"),
        ("blob_range", lambda m: m["network"]["ops"][conv]["w"].__setitem__(0, 2 ** 40), "blob range"),
        ("gather_map", lambda m: m["network"]["ops"][gather]["w"].__setitem__(1, 4), "index map size"),
        ("anchors", lambda m: m["postprocessing"].update({"anchors": 5}), "post-processing metadata"),
        ("classes", lambda m: m["postprocessing"].update({"classes": 0}), "anchors/classes bad"),
        ("iou", lambda m: m["postprocessing"].update({"iou_threshold_bits": 0x7FC00000}), "NMS thresholds"),
        ("batch", lambda m: m["input"].update({"batch": 100000}), "batch bad"),
        ("kind", lambda m: m["network"]["ops"][conv].update({"kind": 42}), "op %d bad" % conv),
        ("labels", lambda m: m.update({"labels": [1, 2]}), "label 0"),
        ("missing", lambda m: m.pop("postprocessing"), "lacks"),
        ("overlap", overlay, "output overlaps input tensor"),
    ]
    for name, edit, expect in cases:
        check(tmp_path, name + ".odrt", forged(good, edit), expect)
    check(tmp_path, "empty_meta.odrt", reseal(good, meta={"x": 1}), "format_version")  # JSON, but nothing in it
    s = sections(good)[0]  # metadata that is not JSON, with a valid checksum
    raw = bytearray(good)
    raw[s[1]] = ord("#")
    struct.pack_into("<Q", raw, HDR + 24, xxhash.xxh3_64_intdigest(bytes(raw[s[1]:s[1] + s[2]])))
    check(tmp_path, "notjson.odrt", seal_header(raw), "not JSON")

def test_gather_index_out_of_range(good, tmp_path):
    m = meta_of(good)
    g = next(o for o in m["network"]["ops"] if o["kind"] == 4)
    s = sections(good)[1]
    blob = bytearray(good[s[1]:s[1] + s[2]])
    struct.pack_into("<i", blob, g["w"][0] + 8, 2 ** 30)
    check(tmp_path, "gather_oob.odrt", reseal(good, blob=bytes(blob)), "out of range")


def test_rcnn_metadata(tmp_path, images):
    """a Mask R-CNN engine's stages, crops and mask settings forged (the family fixture of
    tools/fixtures: skipped without it)"""
    import glob
    import os
    from conftest import ROOT
    tfod = os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod"))
    found = [os.path.dirname(p) for p in glob.glob(os.path.join(tfod, "mask_rcnn*", "DONE"))]
    if not found:
        pytest.skip("no Mask R-CNN fixture (tools/fixtures/tfod_fixtures.sh)")
    run_odrt("build", os.path.join(found[0], "model.onnx"), "-o", tmp_path / "m.odrt", timeout=900)
    good = (tmp_path / "m.odrt").read_bytes()
    m0 = meta_of(good)
    ops = m0["network"]["ops"]
    crop = next(i for i, o in enumerate(ops) if o["kind"] == 9)

    def rc(**kw):
        return lambda m: m["postprocessing"]["rcnn"].update(kw)
    cases = [
        ("stages_order", rc(stage_ops=[5, 2]), "rcnn post-processing settings bad"),
        ("stages_past", rc(stage_ops=[1, len(ops) + 5]), "past the last op"),
        ("proposals", rc(proposals=0), "rcnn post-processing settings bad"),
        ("rpn_iou", rc(first_stage_bits=[0x7FC00000, 0]), "first-stage NMS thresholds bad"),
        ("masks", rc(masks=[1, 0, 15]), "rcnn mask settings bad"),
        ("proposal_tensor", lambda m: m["network"].update({"proposals": m["network"]["input"]}), "R-CNN metadata"),
        ("crop_mode", lambda m: m["network"]["ops"][crop]["p"].__setitem__(17, 7), "crop size or mode out of range"),
        ("crop_size", lambda m: m["network"]["ops"][crop]["p"].__setitem__(2, 0), "crop size or mode out of range"),
        ("crop_boxes", lambda m: m["network"]["ops"][crop]["in"].__setitem__(1, m["network"]["ops"][crop]["in"][0]),
         "crop"),
    ]
    for name, edit, expect in cases:
        check(tmp_path, name + ".odrt", forged(good, edit), expect)
