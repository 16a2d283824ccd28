"""`cmake --install` of the shared libodrt: what is installed (versioned SONAME, only odrt.h's symbols
exported, pkg-config file, CMake package), and docs/example/detect.c built against the installed copy
with pkg-config and with find_package, run on the bundled model: its detections equal `odrt detect`'s."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import MODEL, ROOT, run_odrt

BUILD = os.environ.get("ODRT_BUILD_DIR", os.path.join(ROOT, "build"))


def sh(*cmd, env=None, cwd=None):
    p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert p.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(map(str, cmd)), p.returncode, p.stdout, p.stderr)
    return p.stdout


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    pre = tmp_path_factory.mktemp("install")
    sh("cmake", "--install", BUILD, "--prefix", pre)
    return pre


def header_version():
    h = open(os.path.join(ROOT, "include", "odrt.h")).read()
    return [int(re.search(r"#define ODRT_VERSION_%s (\d+)" % k, h).group(1)) for k in ("MAJOR", "MINOR", "PATCH")]


def test_installed_files(prefix):
    major, minor, patch = header_version()
    lib = prefix / "lib"
    if not lib.exists():
        lib = next(p for p in prefix.glob("lib*") if (p / "pkgconfig").exists())
    real = lib / ("libodrt.so.%d.%d.%d" % (major, minor, patch))
    assert real.is_file() and not real.is_symlink()
    soname = "libodrt.so.%d.%d" % (major, minor) if major == 0 else "libodrt.so.%d" % major
    assert os.readlink(lib / soname) == real.name and os.readlink(lib / "libodrt.so") == soname
    dyn = sh("readelf", "-d", real)
    assert "Library soname: [%s]" % soname in dyn
    assert (prefix / "include" / "odrt.h").read_bytes() == open(os.path.join(ROOT, "include", "odrt.h"), "rb").read()
    assert os.access(prefix / "bin" / "odrt", os.X_OK)
    pc = (lib / "pkgconfig" / "odrt.pc").read_text()
    assert "Version: %d.%d.%d" % (major, minor, patch) in pc
    assert (lib / "cmake" / "odrt" / "odrtConfig.cmake").is_file()
    assert (lib / "cmake" / "odrt" / "odrtConfigVersion.cmake").is_file()


def test_exports_exactly_the_public_api(prefix):
    """the shared library's dynamic symbols are the functions odrt.h declares ODRT_API, all of them"""
    h = open(os.path.join(ROOT, "include", "odrt.h")).read()
    declared = set(re.findall(r"ODRT_API\s[^;(]*?\b(odrt_\w+)\s*\(", h))
    assert len(declared) > 60
    lib = next(prefix.glob("lib*/libodrt.so"))
    out = sh("nm", "-D", "--defined-only", lib)
    exported = {l.split()[-1] for l in out.splitlines() if l.split()[1] in "TtWDBRV"}
    exported = {s for s in exported if not s.startswith("_")}  # _init, _fini
    assert exported == declared, "only in the library: %s; only in odrt.h: %s" % (
        sorted(exported - declared), sorted(declared - exported))


def detections_of(stdout):
    out = []
    for line in stdout.splitlines():
        f = line.split()
        out.append((os.path.basename(f[0]), int(f[1]), float(f[3]), [float(v) for v in f[4:8]]))
    return out


def cli_detections(photos, tmp_path):
    run_odrt("detect", MODEL, *photos, "--threshold", "0", "--json", tmp_path / "cli.json")
    r = json.load(open(tmp_path / "cli.json"))
    return [(os.path.basename(im["file"]), d["class_id"], d["score"], d["box_normalized"])
            for im in r["images"] for d in im["detections"]]


def same_detections(a, b):
    assert len(a) == len(b) and len(a) > 0
    for x, y in zip(a, b):
        assert x[0] == y[0] and x[1] == y[1] and abs(x[2] - y[2]) <= 1e-6, (x, y)
        assert max(abs(p - q) for p, q in zip(x[3], y[3])) <= 1e-6, (x, y)


def test_example_with_pkg_config(prefix, images, tmp_path):
    env = dict(os.environ)
    pcdir = str(next(prefix.glob("lib*/pkgconfig")))
    env["PKG_CONFIG_PATH"] = pcdir
    flags = sh("pkg-config", "--cflags", "--libs", "odrt", env=env).split()
    libdir = sh("pkg-config", "--variable=libdir", "odrt", env=env).strip()
    exe = tmp_path / "detect"
    sh("cc", "-std=c11", "-Wall", "-Werror", os.path.join(ROOT, "docs", "example", "detect.c"), *flags,
       "-Wl,-rpath," + libdir, "-o", exe)
    assert libdir + "/libodrt.so" in sh("ldd", exe), "the example must link the installed shared library"
    photos = images[:3]
    same_detections(detections_of(sh(exe, MODEL, *photos)), cli_detections(photos, tmp_path))


def test_example_with_find_package(prefix, images, tmp_path):
    if not shutil.which("cmake"):
        pytest.fail("cmake missing")
    b = tmp_path / "b"
    sh("cmake", "-S", os.path.join(ROOT, "docs", "example"), "-B", b, "-DCMAKE_PREFIX_PATH=%s" % prefix,
       "-DCMAKE_BUILD_RPATH=%s" % next(prefix.glob("lib*/libodrt.so")).parent)
    sh("cmake", "--build", b)
    photos = images[3:5]
    same_detections(detections_of(sh(b / "detect", MODEL, *photos)), cli_detections(photos, tmp_path))
