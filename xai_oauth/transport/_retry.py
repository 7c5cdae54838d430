"""When a failed request may be sent again, and how long to wait first. Pure: no I/O, no clock.

Only answers that show the server did *not* act on the request are retried:
429 (refused before any work), 5xx (the service, or a gateway in front of
it, failed) and HTML pages (a CDN or challenge page answered instead of the
JSON endpoint). A read timeout or a cut connection is never retried here:
the request may have been acted on, and for a rotating refresh token a
second send can end the whole sign-in (see ``NetworkError.maybe_sent``).

``RetryPolicy`` makes the rule a value, so each caller picks its own: a
single caller waits and retries, a pool of accounts would rather fail at
once and try the next account (``RetryPolicy(attempts=1)``).

As xAI's own Grok CLI does (grok-build's sampler retry rules): a server that
says ``x-should-retry: false`` has made the error final, whatever its status;
a 429 is waited out only for the ``Retry-After`` it names and at most twice.
Unlike that CLI (which sits through up to two minutes), a caller here waits
at most ``CALLER_RATE_WAIT`` seconds: an agent's one-shot command must not
hang, and a longer window is reported as ``rate_limited`` with ``retry_after``.
"""

from dataclasses import dataclass

__all__ = [
    "API_RETRIES",
    "ATTEMPTS",
    "BACKOFF",
    "CALLER_RATE_WAIT",
    "CALLER_RETRIES",
    "MAX_RETRY_AFTER",
    "MAX_WAIT",
    "UNKNOWN_OUTCOME",
    "RetryPolicy",
    "retry_delay",
    "should_retry",
]

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
#: The longest Retry-After a single caller (``chat()``, ``Client``) sits through on a 429 (README: Retries).
CALLER_RATE_WAIT = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries, which answers earn another, and the longest wait worth sitting through.

    ``rate_limited``: whether a 429 is waited out. The token endpoint's is
    (it refused before any work); the API's is not, because a usage window
    is the person's call: wait, or use the API key. ``rate_needs_retry_after``:
    a 429 is waited out only when the server named its wait (a usage window
    with no end in sight is reported, not guessed at).
    """

    attempts: int = ATTEMPTS
    backoff: tuple[float, ...] = BACKOFF
    max_wait: float = MAX_WAIT
    rate_limited: bool = True
    rate_needs_retry_after: bool = False

    def delay(
        self,
        status: "int | None",
        *,
        attempt: int,
        html: bool = False,
        retry_after: "float | None" = None,
        should_retry: "bool | None" = None,
    ) -> "float | None":
        """Seconds to wait before trying again after try number ``attempt`` (0-based), or None to stop.

        ``status`` is None for a request that never reached the server (connection
        refused): that is safe to send again too. ``should_retry`` is the
        server's ``x-should-retry`` (None when absent or unreadable): False is final.
        """
        if attempt + 1 >= self.attempts or should_retry is False:
            return None
        if status == 429 and (not self.rate_limited or (self.rate_needs_retry_after and retry_after is None)):
            return None
        if status is not None and status != 429 and status < 500 and not html:
            return None
        wait = self.backoff[min(attempt, len(self.backoff) - 1)] if retry_after is None else retry_after
        return wait if 0 <= wait <= self.max_wait else None  # NaN fails both comparisons: not waited on


#: Today's rule for the token endpoint and every other one-off request.
_DEFAULT = RetryPolicy()
#: Today's rule for the API (chat, media, listings): 5xx and HTML pages are retried, a 429 is reported.
API_RETRIES = RetryPolicy(rate_limited=False)
#: A single caller's rule (``chat()``, ``Client``, exports): as ``API_RETRIES``, and a 429 whose Retry-After
#: is at most ``CALLER_RATE_WAIT`` seconds is waited out, at most twice (three tries in all).
CALLER_RETRIES = RetryPolicy(max_wait=CALLER_RATE_WAIT, rate_needs_retry_after=True)


def should_retry(value: "str | None") -> "bool | None":
    """The server's ``x-should-retry`` header: True, False, or None when absent or neither word."""
    word = (value or "").strip().lower()
    return True if word == "true" else False if word == "false" else None


def retry_delay(
    status: "int | None", *, attempt: int, html: bool = False, retry_after: "float | None" = None
) -> "float | None":
    """``RetryPolicy()``'s delay: the rule the token endpoint and other one-off requests follow."""
    return _DEFAULT.delay(status, attempt=attempt, html=html, retry_after=retry_after)
