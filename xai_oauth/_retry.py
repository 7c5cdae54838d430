"""When a failed request may be sent again, and how long to wait first. Pure: no I/O, no clock.

Only answers that show the server did *not* act on the request are retried:
429 (refused before any work), 5xx (the service, or a gateway in front of
it, failed) and HTML pages (a CDN or challenge page answered instead of the
JSON endpoint). A read timeout or a cut connection is never retried here:
the request may have been acted on, and for a rotating refresh token a
second send can end the whole sign-in (see ``NetworkError.maybe_sent``).
"""

__all__ = ["ATTEMPTS", "BACKOFF", "MAX_RETRY_AFTER", "MAX_WAIT", "UNKNOWN_OUTCOME", "retry_delay"]

#: Tries in all, the first included.
ATTEMPTS = 3
#: Seconds to wait before the second and the third try, when the server did not say.
BACKOFF = (0.5, 1.5)
#: A longer Retry-After is reported to the caller rather than waited out (we may hold the lock).
MAX_WAIT = 10.0
#: The longest Retry-After we report (a day); a longer one, ``inf`` or NaN is treated as not said.
MAX_RETRY_AFTER = 24 * 3600.0
#: For one-time grants (a rotating refresh token), answers that do *not* show the server left it alone:
#: the service failed midway (500) or a gateway lost the answer after passing the request on (502, 504).
#: Retrying is fine for a chat; for a rotating refresh token, it is how a sign-in gets revoked.
UNKNOWN_OUTCOME = frozenset({500, 502, 504})


def retry_delay(
    status: "int | None", *, attempt: int, html: bool = False, retry_after: "float | None" = None
) -> "float | None":
    """Seconds to wait before trying again after try number ``attempt`` (0-based), or None to stop.

    ``status`` is None for a request that never reached the server (connection
    refused): that is safe to send again too.
    """
    if attempt + 1 >= ATTEMPTS:
        return None
    if status is not None and status != 429 and status < 500 and not html:
        return None
    wait = BACKOFF[min(attempt, len(BACKOFF) - 1)] if retry_after is None else retry_after
    return wait if 0 <= wait <= MAX_WAIT else None  # NaN fails both comparisons: not waited on
