"""The Python package's suite in a fresh venv: `pip install .` of the checkout (libodrt and the CLI built
by CMake through scikit-build-core), then pytest on tests/package. Test-only dependencies (numpy, torch,
tritonclient, nvidia-pytriton, ray, pytest, scikit-build-core) come from the venv running this script
(.venv-pkg, tools/setup.sh) through a .pth file; odrt itself only from the install.

    .venv-pkg/bin/python tests/package/run.py WORKDIR [pytest args...]"""
import os
import shutil
import site
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    work = os.path.abspath(sys.argv[1])
    venv = os.path.join(work, "venv")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    py = os.path.join(venv, "bin", "python")
    sp = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True,
                        capture_output=True, text=True).stdout.strip()
    with open(os.path.join(sp, "odrt_test_deps.pth"), "w") as f:
        f.write("\n".join(site.getsitepackages()) + "\n")
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    t0 = time.time()
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", ROOT], check=True, env=env)
    print("pip install . took %.0f s" % (time.time() - t0), flush=True)
    env = dict(os.environ, ODRT_PKG_VENV=venv)
    return subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sys.argv[2:], "."],
                          cwd=os.path.dirname(os.path.abspath(__file__)), env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
