"""OdrtError: odrt's one-line error messages as a Python exception."""
from ._lib import STATUS, lib


class OdrtError(RuntimeError):
    """A failed odrt call. str(e) is odrt's one-line message; e.status names the kind of failure
    ("io error", "parse error", "shape error", "device error", ...)."""

    def __init__(self, message, status="bad argument"):
        super().__init__(message)
        self.status = status


def check(rc, what=None):
    """raise OdrtError for a failed status, with the library's message for this thread"""
    if rc != 0:
        msg = lib.odrt_last_error().decode(errors="replace") or STATUS[rc] if 0 <= rc < len(STATUS) else "error %d" % rc
        raise OdrtError("%s: %s" % (what, msg) if what and what not in msg else msg, STATUS[rc] if 0 <= rc < len(STATUS) else "error")
