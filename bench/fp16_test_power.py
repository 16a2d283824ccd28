#!/usr/bin/env python3
"""How strong test_cuda.py::test_efficientdet_fp16 is, without a GPU: its judgement with the CUDA
engine's detections replaced by a stand-in, the CPU engine with op outputs rounded to N-bit
mantissas (N = 10: fp16 itself). Prints PASS / FAIL per N; on the shared D0 fixture the judgement
fails only for N <= 5, since its yardstick (fp16 emulation, weights too) already misses most
detections (docs/cuda.md).

  cd tests/python && ODRT_BIN=../../build/odrt ../../.venv/bin/python ../../bench/fp16_test_power.py 10 7 5 4"""
import json, os, subprocess, sys, glob
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'python'))
import test_cuda as T
from conftest import odrt_bin, SHARED
images = sorted(glob.glob(os.path.join(SHARED, 'images', '*.jpg')))
import tempfile
eng = os.path.join(tempfile.gettempdir(), 'fp16_test_power.odrt')
if not os.path.exists(eng):
    subprocess.run([odrt_bin(), 'build', T.ED, '-o', eng], check=True, capture_output=True)
ref = T.ort_detections(images)
def run(env, tag):
    out = os.path.join(tempfile.gettempdir(), 'fp16_test_power_%s.json' % tag)
    subprocess.run([odrt_bin(), 'detect', eng, *images, '--json', out, '--threshold', '0'], check=True, capture_output=True,
                   env={**os.environ, **env})
    return [[(d['class_id'], d['score'], d['box_normalized']) for d in r['detections']] for r in json.load(open(out))['images']]
emul = run({'ODRT_CPU_HALF': '1', 'ODRT_CPU_HALF_WEIGHTS': '1', 'ODRT_NO_FUSE': '1'}, 'yardstick')
for bits in sys.argv[1:]:
    got = run({'ODRT_CPU_HALF': '1', 'ODRT_CPU_HALF_BITS': bits, 'ODRT_NO_FUSE': '1'}, 'bits' + bits)
    n3 = sum(sum(d[1] >= 0.3 for d in r) for r in ref); n5 = sum(sum(d[1] >= 0.5 for d in r) for r in ref)
    m3 = {k: sum(len(T.missing(r, x, 0.3, 0.9)) for r, x in zip(ref, v)) for k, v in (('cuda', got), ('emulation', emul))}
    m5 = {k: sum(len(T.missing(r, x, 0.5, 0.9)) for r, x in zip(ref, v)) for k, v in (('cuda', got), ('emulation', emul))}
    ok = m3['cuda'] <= m3['emulation'] + max(2, 0.03 * n3) and m5['cuda'] <= m5['emulation'] + max(2, 0.03 * n5)
    print('stand-in %s-bit mantissas: >=0.3 %d missing %d (emulation %d); >=0.5 %d missing %d (emulation %d): %s' %
          (bits, n3, m3['cuda'], m3['emulation'], n5, m5['cuda'], m5['emulation'], 'PASS' if ok else 'FAIL'))
