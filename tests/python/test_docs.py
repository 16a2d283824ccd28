"""docs/ and --help stay true: the operator list in docs/executor.md is `odrt --ops`."""
import os
import re

from conftest import ROOT, run_odrt


def test_executor_doc_lists_exactly_the_supported_ops():
    doc = open(os.path.join(ROOT, "docs", "executor.md")).read()
    listed = re.findall(r"^- (\S+)$", doc.split("## Supported operators", 1)[1], re.M)
    assert sorted(listed) == sorted(run_odrt("--ops").stdout.split())


def test_help_lists_every_verb():
    out = run_odrt("--help").stdout
    for verb in ("inspect", "run", "convert", "build", "detect", "bench", "eval", "compare"):
        assert "\n  %s " % verb in out
