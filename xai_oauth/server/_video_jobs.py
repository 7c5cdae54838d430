"""Whose video job is it? The pool's memory of the jobs its accounts started, and whom a job's state is asked of.

A video job is its account's own: xAI answers its state to the credential
that started it, and another account's request id is unknown there (404).
The server remembers, per process and for the last ``JOBS_SIZE`` jobs,
which account (profile) or the API key started each, and asks that one
first. A job it does not know (started before a restart, or by another
server) is looked for on each account in turn, the API key last.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .._exceptions import XaiOAuthError

if TYPE_CHECKING:
    from ..transport._answer import Answer
    from ._upstream import Upstream

__all__ = ["API_KEY", "JOBS_SIZE", "Ask", "VideoJobs"]

#: Jobs remembered with their account (the oldest are forgotten first, and then looked for like a stranger's).
JOBS_SIZE = 4096
#: Whose a job is when the API key started it.
API_KEY = "api_key"
#: What one account is asked for one request: its way upstream and the credential to use.
Ask = Callable[["Upstream", str], Awaitable["Answer"]]


class VideoJobs:
    """Job ids and whose each is (a profile, or ``API_KEY``)."""

    def __init__(self, size: int = JOBS_SIZE) -> None:
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def started(self, answer: Answer, whose: str) -> None:
        """Remember whose job an answer started (one that holds a ``request_id``); any other answer passes."""
        job_id = answer.body.get("request_id") if isinstance(answer.body, dict) else None
        if isinstance(job_id, str) and job_id:
            self._owners[job_id] = whose
            self._owners.move_to_end(job_id)
            while len(self._owners) > self._size:
                self._owners.popitem(last=False)

    async def state(
        self,
        job_id: str,
        askable: list[tuple[Upstream, str, str]],
        read: Ask,
        hands_on: Callable[[XaiOAuthError], bool],
    ) -> Answer:
        """The job's state from the first of ``askable`` (way upstream, credential, whose) that knows it.

        Its owner is asked first. ``read`` takes a 404 as an answer: a job
        unknown to one hands on to the next, as does a refusal ``hands_on``
        says is the account's (it is out). With none left that knows the
        job, the first such refusal, else the last 404.
        """
        owner = self._owners.get(job_id)
        unknown: Answer | None = None
        refused: list[XaiOAuthError] = []
        for upstream, credential, _whose in sorted(askable, key=lambda asked: asked[2] != owner):
            try:
                answer = await read(upstream, credential)
            except XaiOAuthError as error:
                if not hands_on(error):
                    raise
                refused.append(error)
                continue
            if answer.status != 404:
                return answer
            unknown = answer
        if refused or unknown is None:
            raise refused[0]
        return unknown
