"""The layering of src/ (tests/check_layers.py): clean on the tree, and it fails, naming the file
and line, when a lower layer includes a higher one, when two modules of one layer include each
other, or when a folder is not placed in the table."""
import os
import shutil
import subprocess
import sys

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "tests", "check_layers.py")


def check(src):
    return subprocess.run([sys.executable, SCRIPT, str(src)], capture_output=True, text=True)


def test_tree_is_layered():
    p = check(os.path.join(ROOT, "src"))
    assert p.returncode == 0 and "clean" in p.stdout, p.stdout


def test_violations_are_found(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "src"), src)
    ir_c = src / "ir" / "ir.c"
    ir_c.write_text(ir_c.read_text() + '\n#include "engine/engine.h"\n')            # up: ir includes engine
    conv = src / "ops" / "k_nn.c"
    conv.write_text(conv.read_text() + '\n#include "frontend/model.h"\n')          # up: the executor below the front-ends
    cu = src / "backends" / "cpu" / "cpu_ops.c"
    cu.write_text(cu.read_text() + '\n#include "backends/cuda/cuda_internal.h"\n')  # one backend into another
    (src / "newlayer").mkdir()
    (src / "newlayer" / "x.c").write_text('#include "util.h"\n')
    p = check(src)
    assert p.returncode == 1
    n_ir = len(ir_c.read_text().splitlines())  # the include is the last line
    assert "src/ir/ir.c:%d: ir (layer 2) includes engine/engine.h from engine (layer 6)" % n_ir in p.stdout, p.stdout
    assert "src/ops/k_nn.c:" in p.stdout and "from frontend (layer 4)" in p.stdout
    assert "src/backends/cpu/cpu_ops.c:" in p.stdout and "from backends/cuda (layer 8)" in p.stdout
    assert "src/newlayer: folder not in" in p.stdout
    assert "4 violations" in p.stdout
