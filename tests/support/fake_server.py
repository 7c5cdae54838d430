"""A small stateful fake of the auth server for ``httpx2.MockTransport`` unit tests."""

from __future__ import annotations

import json
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qs

import httpx2

ISSUER = "https://auth.x.ai"
DISCOVERY = {
    "issuer": ISSUER,
    "device_authorization_endpoint": f"{ISSUER}/oauth2/device/code",
    "token_endpoint": f"{ISSUER}/oauth2/token",
    "revocation_endpoint": f"{ISSUER}/oauth2/revoke",
    "jwks_uri": f"{ISSUER}/oauth2/jwks",
}


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class FakeAuthServer:
    """Answers from per-path queues; records every request. ``answers[path]`` items:
    (status, json_body) or an ``httpx2.Response`` or an exception instance to raise."""

    def __init__(self, discovery: dict[str, Any] | None = None) -> None:
        self.discovery = discovery or DISCOVERY
        self.answers: dict[str, deque[Any]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.count: Counter[str] = Counter()

    def queue(self, path: str, *answers: Any) -> None:
        self.answers.setdefault(path, deque()).extend(answers)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        self.count[path] += 1
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.requests.append((path, form))
        if path == "/.well-known/openid-configuration" and not self.answers.get(path):
            return httpx2.Response(200, json=self.discovery)
        queue = self.answers.get(path)
        if not queue:
            return httpx2.Response(404, json={"error": "not_found"})
        answer = queue.popleft()
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, httpx2.Response):
            return answer
        status, body = answer
        return httpx2.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def device_code_answer(interval: Any = 5, **over: Any) -> tuple[int, dict[str, Any]]:
    return 200, {
        "device_code": "CANARY-DEVICE-CODE-0123456789",
        "user_code": "WXYZ-BCDF",
        "verification_uri": "https://accounts.x.ai/device",
        "expires_in": 900,
        "interval": interval,
        **over,
    }
