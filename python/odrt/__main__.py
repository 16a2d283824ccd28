"""python -m odrt ...: the odrt CLI bundled with the package (the same arguments, output and exit codes)."""
import os
import sys


def main():
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "odrt")
    if not os.access(exe, os.X_OK):
        sys.stderr.write("odrt: the bundled CLI is missing (%s); install the package with pip\n" % exe)
        return 1
    os.execv(exe, [exe] + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
