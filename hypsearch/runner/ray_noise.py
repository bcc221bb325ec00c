"""Keeps Ray's own start-up notices out of hypsearch's output; Ray's real errors still show.

Ray (2.5x) logs at every local start that token authentication is enabled or disabled and how to
change it: advice about Ray's deployment, not about the user's search, printed between
hypsearch's lines. The filter drops exactly those records of the module that logs them (by its
message's start); every other record, and every record at ERROR or above, passes.
"""

from __future__ import annotations

import logging

RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
_NOTICES = ("Token authentication is enabled for this Ray cluster",
            "Token authentication is disabled for this Ray cluster")


class _DropAuthNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        return not str(record.getMessage()).startswith(_NOTICES)


_FILTER = _DropAuthNotices()


def quiet_ray_notices() -> None:
    """Install the filter (idempotent) before `ray.init`."""
    logger = logging.getLogger(RAY_AUTH_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
