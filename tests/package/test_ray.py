"""odrt as a Ray Data actor (odrt.serving.ray) on a local Ray cluster over the shared photos: every row
equals `odrt detect` on the same engine, from paths and from image columns; images/s printed."""
import os
import sys

import pytest

from conftest import ROOT, cli

sys.path.insert(0, os.path.join(ROOT, "bench"))
import ray_batch  # noqa: E402

import ray  # a test dependency (tools/fixtures/requirements-package.txt): must import


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.mark.parametrize("column", ["path", "image"])
def test_ray_rows_equal_cli(cluster, photos, engine4_file, tmp_path, column):
    rows, dt = ray_batch.run(str(engine4_file), photos * 2, actors=2, batch_size=3, threads=1, column=column)
    assert len(rows) == 2 * len(photos)
    bad = ray_batch.check(rows, os.environ.get("ODRT_BIN", os.path.join(ROOT, "build", "odrt")), str(engine4_file), str(tmp_path))
    assert not bad, bad
    assert all(int(r["num_detections"]) > 0 for r in rows)
    print("ray (%s column): %d images in %.2f s, %.1f images/s" % (column, len(rows), dt, len(rows) / dt))
