"""The lane router: one ``messages=[...]`` call, two xAI endpoints, one answer shape. Pure.

Multi-agent models live only on ``POST /responses`` (the Responses API);
every other model is served by ``POST /chat/completions``. Callers should
not have to know which, so this module:

* picks the lane from the model id (``lane_for``) and the credential from its
  prefix (``parse_model``): ``xai-grok/<id>`` is the subscription,
  ``xai/<id>`` the API key, a bare id the subscription when signed in;
* builds the request body for the lane, translating chat ``messages`` into
  Responses ``input`` items, ``thinking={"effort": ...}`` into
  ``reasoning.effort`` and ``max_tokens`` into ``max_output_tokens``;
  a parameter the lane cannot take raises ``UnsupportedParameter``
  instead of being dropped;
* reads either lane's answer, whole or streamed, into
  ``{"model", "lane", "content", "finish_reason", "usage", "tool_calls"?}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import IncompleteStream, MalformedResponse, ServerError, UnsupportedParameter

__all__ = [
    "API_KEY_PREFIX",
    "CHAT_COMPLETIONS",
    "RESPONSES",
    "SUBSCRIPTION_PREFIX",
    "ChatCompletionsStream",
    "ModelChoice",
    "ResponsesStream",
    "build_request",
    "lane_for",
    "new_stream",
    "parse_model",
    "pick_default",
    "read_answer",
]

SUBSCRIPTION_PREFIX = "xai-grok/"
API_KEY_PREFIX = "xai/"
CHAT_COMPLETIONS = "chat_completions"
RESPONSES = "responses"
PATHS = {CHAT_COMPLETIONS: "/chat/completions", RESPONSES: "/responses"}
EFFORTS = ("low", "medium", "high")

#: Passed through unchanged to /chat/completions (OpenAI-compatible names xAI accepts).
CHAT_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "seed",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "user",
        "search_parameters",
        "reasoning_effort",
        "stream_options",
    }
)
#: What /responses takes, after the renames below.
RESPONSES_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_output_tokens",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "user",
        "store",
        "previous_response_id",
        "instructions",
        "include",
        "metadata",
        "max_tool_calls",
    }
)
RESPONSES_RENAMES = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}


def pick_default(chat_ids: list[str], preferred: str | None = None) -> str | None:
    """``preferred`` if listed, else ``xai-grok/grok-4.3`` if listed, else the first chat model."""
    from ._status import DEFAULT_MODEL_ID

    for candidate in (preferred, DEFAULT_MODEL_ID):
        if candidate and candidate in chat_ids:
            return candidate
    return chat_ids[0] if chat_ids else None


def lane_for(model_id: str) -> str:
    """``responses`` for multi-agent models, ``chat_completions`` for the rest."""
    return RESPONSES if "multi-agent" in model_id else CHAT_COMPLETIONS


@dataclass(frozen=True)
class ModelChoice:
    """Which credential and lane a model id means. ``credential`` is ``subscription`` or ``api_key``."""

    model_id: str  # as the API knows it, without our prefix
    credential: str
    lane: str

    @property
    def display_id(self) -> str:
        prefix = SUBSCRIPTION_PREFIX if self.credential == "subscription" else API_KEY_PREFIX
        return prefix + self.model_id

    @property
    def path(self) -> str:
        return PATHS[self.lane]


def parse_model(model: str, *, signed_in: bool) -> ModelChoice:
    """Read the prefix: ``xai-grok/`` subscription, ``xai/`` API key, bare: subscription if signed in."""
    if not isinstance(model, str) or not model.strip():
        raise UnsupportedParameter("model must be a model id such as xai-grok/grok-4.3.", parameter="model")
    model = model.strip()
    if model.startswith(SUBSCRIPTION_PREFIX):
        credential, model_id = "subscription", model[len(SUBSCRIPTION_PREFIX) :]
    elif model.startswith(API_KEY_PREFIX):
        credential, model_id = "api_key", model[len(API_KEY_PREFIX) :]
    else:
        credential, model_id = ("subscription" if signed_in else "api_key"), model
    return ModelChoice(model_id=model_id, credential=credential, lane=lane_for(model_id))


# -- requests ---------------------------------------------------------------


def build_request(
    choice: ModelChoice,
    messages: list[dict[str, Any]],
    *,
    stream: bool,
    thinking: Any,
    params: dict[str, Any],
    proxy: bool = False,
) -> dict[str, Any]:
    """The JSON body for ``choice.lane``; ``UnsupportedParameter`` for anything it cannot take.

    ``proxy``: the body goes to the subscription's chat proxy, which serves
    most models only as streams and keeps nothing: ``stream`` is forced on
    (the caller reads a whole answer out of the stream), responses carry
    ``store: false``, and ``previous_response_id`` (a stored response) is refused.
    """
    if proxy:
        stream = True
        if choice.lane == RESPONSES and "previous_response_id" in params:
            raise UnsupportedParameter(
                "previous_response_id needs a stored response, and the subscription's chat proxy stores none "
                "(store: false); send the whole conversation in messages instead.",
                parameter="previous_response_id",
                action="Send the earlier turns in messages, or use the API key (xai/<model>) or XAI_OAUTH_ROUTE=api.",
            )
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise UnsupportedParameter(
            "messages must be a non-empty list of {'role', 'content'} objects.", parameter="messages"
        )
    effort = _effort(thinking)
    if choice.lane == CHAT_COMPLETIONS:
        _refuse_unknown(params, CHAT_PARAMS, choice)
        body: dict[str, Any] = {"model": choice.model_id, "messages": messages, **params}
        if effort:
            body["reasoning_effort"] = effort
        if stream:
            body["stream"] = True
            body.setdefault("stream_options", {"include_usage": True})
        return body
    renamed = {RESPONSES_RENAMES.get(k, k): v for k, v in params.items()}
    response_format = renamed.pop("response_format", None)
    _refuse_unknown(renamed, RESPONSES_PARAMS, choice)
    body = {
        "model": choice.model_id,
        "input": [_input_item(item) for m in messages for item in _split_tool_calls(m)],
        **renamed,
    }
    if response_format is not None:
        body["text"] = {"format": _text_format(response_format)}
    if "tools" in body:
        body["tools"] = [_responses_tool(t) for t in body["tools"]]
    if effort:
        body["reasoning"] = {"effort": effort}
    if stream:
        body["stream"] = True
    if proxy:
        body["store"] = False
    return body


def _effort(thinking: Any) -> str | None:
    if thinking is None:
        return None
    effort = thinking.get("effort") if isinstance(thinking, dict) else thinking
    if effort not in EFFORTS:
        raise UnsupportedParameter('thinking must be {"effort": "low" | "medium" | "high"}.', parameter="thinking")
    return str(effort)


def _refuse_unknown(params: dict[str, Any], allowed: frozenset[str], choice: ModelChoice) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        where = "/responses (multi-agent models)" if choice.lane == RESPONSES else "/chat/completions"
        raise UnsupportedParameter(
            f"{', '.join(unknown)} cannot be sent to {where} for {choice.display_id}.", parameter=unknown[0]
        )


def _split_tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    """An assistant message with ``tool_calls`` becomes its text (if any) plus one item per call."""
    calls = message.get("tool_calls") if message.get("role") == "assistant" else None
    if not calls:
        return [message]
    text = [{**message, "tool_calls": None}] if message.get("content") else []
    return text + [{"role": "_function_call", **call} for call in calls]


def _input_item(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role == "_function_call":
        function = message.get("function") or {}
        return {
            "type": "function_call",
            "call_id": message.get("id"),
            "name": function.get("name"),
            "arguments": function.get("arguments", ""),
        }
    if role == "tool":
        content = message.get("content")
        return {
            "type": "function_call_output",
            "call_id": message.get("tool_call_id"),
            "output": content if isinstance(content, str) else json.dumps(content),
        }
    if role not in ("system", "developer", "user", "assistant"):
        raise UnsupportedParameter(
            f"A message has role {role!r}; use system, developer, user, assistant or tool.", parameter="messages"
        )
    content = message.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise UnsupportedParameter("A message's content must be a string or a list of parts.", parameter="messages")
    return {"role": role, "content": [_input_part(part, role) for part in content]}


def _input_part(part: Any, role: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "output_text" if role == "assistant" else "input_text", "text": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        url, detail = (image.get("url"), image.get("detail")) if isinstance(image, dict) else (image, None)
        return {"type": "input_image", "image_url": url, **({"detail": detail} if detail else {})}
    if kind in ("input_text", "input_image", "output_text"):
        return dict(part)  # already Responses-shaped
    raise UnsupportedParameter(f"A message part has type {kind!r}; use text or image_url.", parameter="messages")


def _text_format(response_format: Any) -> Any:
    """Chat's ``response_format`` as Responses' ``text.format`` (json_schema is flattened one level)."""
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        return {"type": "json_schema", **schema}
    return response_format


def _responses_tool(tool: Any) -> Any:
    """Chat's ``{"type": "function", "function": {...}}`` as Responses' flat function tool."""
    if isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        return {"type": "function", **tool["function"]}
    return tool


# -- answers ----------------------------------------------------------------


def read_answer(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    """A whole (non-streamed) answer of either lane in the one shape."""
    if choice.lane == CHAT_COMPLETIONS:
        return _from_chat_completion(choice, body)
    return _from_response(choice, body)


def _from_chat_completion(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponse("The chat completion has no choices.")
    message = choices[0].get("message") or {}
    return _shape(
        choice,
        message.get("content") or "",
        choices[0].get("finish_reason"),
        _usage(body.get("usage")),
        message.get("tool_calls") or None,
    )


def _from_response(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    output = body.get("output")
    if not isinstance(output, list):
        raise MalformedResponse("The response has no output list.")
    if body.get("status") == "failed":
        raise ServerError(f"The model failed: {_error_text(body.get('error'))}")
    text, calls = [], []
    for item in output:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            text += [
                p.get("text", "")
                for p in item.get("content") or []
                if isinstance(p, dict) and p.get("type") == "output_text"
            ]
        elif item.get("type") == "function_call":
            calls.append(
                {
                    "id": item.get("call_id"),
                    "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments", "")},
                }
            )
    incomplete = (
        (body.get("incomplete_details") or {}).get("reason")
        if isinstance(body.get("incomplete_details"), dict)
        else None
    )
    finish = "tool_calls" if calls else ("length" if incomplete == "max_output_tokens" else "stop")
    return _shape(choice, "".join(text), finish, _usage(body.get("usage")), calls or None)


def _shape(choice: ModelChoice, content: str, finish: Any, usage: dict[str, int], tool_calls: Any) -> dict[str, Any]:
    answer = {
        "model": choice.display_id,
        "lane": choice.lane,
        "content": content,
        "finish_reason": finish if isinstance(finish, str) else None,
        "usage": usage,
    }
    if tool_calls:
        answer["tool_calls"] = tool_calls
    return answer


def _usage(raw: Any) -> dict[str, int]:
    """Both lanes' usage as prompt / completion / total (+ reasoning) tokens."""
    if not isinstance(raw, dict):
        return {}

    def number(*keys: str) -> int | None:
        for key in keys:
            value = raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    details = raw.get("output_tokens_details") or raw.get("completion_tokens_details") or {}
    usage = {
        "prompt_tokens": number("prompt_tokens", "input_tokens"),
        "completion_tokens": number("completion_tokens", "output_tokens"),
        "total_tokens": number("total_tokens"),
        "reasoning_tokens": details.get("reasoning_tokens") if isinstance(details, dict) else None,
    }
    return {k: v for k, v in usage.items() if isinstance(v, int)}


def _error_text(error: Any) -> str:
    from ._redact import scrub

    if isinstance(error, dict):
        error = error.get("message") or error.get("code")
    return scrub(str(error)) if error else "no reason given"


# -- streams ----------------------------------------------------------------


@dataclass
class ChatCompletionsStream:
    """Reads /chat/completions chunks; ``data: [DONE]`` ends the stream."""

    choice: ModelChoice
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    done: bool = False

    def feed(self, event: str, data: str) -> str | None:
        """One server-sent event; returns the text delta it carried, if any."""
        if data.strip() == "[DONE]":
            self.done = True
            return None
        chunk = _json_event(data)
        if "error" in chunk:
            raise ServerError(f"The stream reported an error: {_error_text(chunk['error'])}")
        if chunk.get("usage"):
            self.usage = _usage(chunk["usage"])
        delta_text = None
        for item in chunk.get("choices") or []:
            if not isinstance(item, dict):
                continue
            delta = item.get("delta") or {}
            if isinstance(delta.get("content"), str) and delta["content"]:
                delta_text = (delta_text or "") + delta["content"]
            for call in delta.get("tool_calls") or []:
                self._merge_call(call)
            if item.get("finish_reason"):
                self.finish_reason = item["finish_reason"]
        if delta_text:
            self.text.append(delta_text)
        return delta_text

    def _merge_call(self, call: dict[str, Any]) -> None:
        slot = self.calls.setdefault(
            call.get("index", len(self.calls)),
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        slot["id"] = call.get("id") or slot["id"]
        function = call.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""

    def result(self) -> dict[str, Any]:
        if not self.done:
            raise IncompleteStream("The chat stream ended before its [DONE] marker; the answer may be cut short.")
        calls = [self.calls[i] for i in sorted(self.calls)] or None
        return _shape(self.choice, "".join(self.text), self.finish_reason, self.usage, calls)


@dataclass
class ResponsesStream:
    """Reads Responses API events; ``response.completed`` ends it, ``response.failed`` / ``error`` fail it."""

    choice: ModelChoice
    text: list[str] = field(default_factory=list)
    final: dict[str, Any] | None = None
    done: bool = False

    def feed(self, event: str, data: str) -> str | None:
        if data.strip() == "[DONE]":
            return None  # some gateways add it; the terminal event is response.completed
        payload = _json_event(data)
        kind = payload.get("type") or event
        if kind == "response.output_text.delta":
            delta = payload.get("delta")
            if isinstance(delta, str) and delta:
                self.text.append(delta)
                return delta
        elif kind in ("response.completed", "response.incomplete"):
            response = payload.get("response")
            self.final = response if isinstance(response, dict) else {}
            self.done = True
        elif kind == "response.failed":
            response = payload.get("response") or {}
            raise ServerError(
                f"The model failed: {_error_text(response.get('error') if isinstance(response, dict) else None)}"
            )
        elif kind == "error":
            raise ServerError(
                f"The stream reported an error: {_error_text(payload.get('message') or payload.get('code'))}"
            )
        return None

    def result(self) -> dict[str, Any]:
        if not self.done or self.final is None:
            raise IncompleteStream("The response stream ended before response.completed; the answer may be cut short.")
        if isinstance(self.final.get("output"), list):
            answer = _from_response(self.choice, self.final)
            if not answer["content"]:
                answer["content"] = "".join(self.text)
            return answer
        return _shape(self.choice, "".join(self.text), "stop", _usage(self.final.get("usage")), None)


def new_stream(choice: ModelChoice) -> ChatCompletionsStream | ResponsesStream:
    return ChatCompletionsStream(choice) if choice.lane == CHAT_COMPLETIONS else ResponsesStream(choice)


def _json_event(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise MalformedResponse("The stream sent an event that is not JSON.") from None
    if not isinstance(value, dict):
        raise MalformedResponse("The stream sent an event that is not a JSON object.")
    return value
