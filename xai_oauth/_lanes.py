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
  ``{"model", "lane", "content", "finish_reason", "usage", "tool_calls", "citations"?, "note"?}``;
  ``citations`` lists the sources a search cited, ``note`` says an empty answer is worth asking again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import IncompleteStream, MalformedResponse, RequestRejected, ServerError, UnsupportedParameter

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
    "citations",
    "read_answer",
    "search_tools",
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


def parse_model(model: str, *, signed_in: bool, lane: str | None = None) -> ModelChoice:
    """Read the prefix: ``xai-grok/`` subscription, ``xai/`` API key, bare: subscription if signed in.

    ``lane="responses"`` sends any model to the Responses API (server-side
    search lives there); multi-agent models have no other lane.
    """
    if not isinstance(model, str) or not model.strip():
        raise UnsupportedParameter("model must be a model id such as xai-grok/grok-4.3.", parameter="model")
    model = model.strip()
    if model.startswith(SUBSCRIPTION_PREFIX):
        credential, model_id = "subscription", model[len(SUBSCRIPTION_PREFIX) :]
    elif model.startswith(API_KEY_PREFIX):
        credential, model_id = "api_key", model[len(API_KEY_PREFIX) :]
    else:
        credential, model_id = ("subscription" if signed_in else "api_key"), model
    natural = lane_for(model_id)
    if lane not in (None, natural, RESPONSES):
        raise UnsupportedParameter(
            f"lane={lane!r}: {model_id} is served only by /responses."
            if natural == RESPONSES
            else f"lane must be 'responses' or left out (the model's own lane), got {lane!r}.",
            parameter="lane",
            action="Leave lane out, or pass lane='responses'.",
        )
    return ModelChoice(model_id=model_id, credential=credential, lane=lane or natural)


#: ``search=`` names and the Responses API's server-side tools they turn on.
SEARCH_TOOLS = {"web": "web_search", "x": "x_search"}


def search_tools(search: Any) -> list[dict[str, str]]:
    """``["web", "x"]`` (or ``"web,x"``) as Responses tools; ``invalid_request`` for anything else."""
    names = search.split(",") if isinstance(search, str) else search
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        names = [repr(search)]
    wanted = [n.strip().lower() for n in names]
    unknown = [n for n in wanted if n not in SEARCH_TOOLS]
    if unknown:
        raise RequestRejected(
            f"search={search!r}: {', '.join(unknown)} is not a search xAI offers.",
            parameter="search",
            action='Pass search=["web"], ["x"] or ["web", "x"] (on the command line: --search web,x).',
        )
    return [{"type": SEARCH_TOOLS[n]} for n in dict.fromkeys(wanted)]


# -- requests ---------------------------------------------------------------


def build_request(
    choice: ModelChoice,
    messages: list[dict[str, Any]],
    *,
    stream: bool,
    thinking: Any,
    params: dict[str, Any],
    proxy: bool = False,
    search: Any = None,
) -> dict[str, Any]:
    """The JSON body for ``choice.lane``; ``UnsupportedParameter`` for anything it cannot take.

    ``search`` (``["web", "x"]``) adds xAI's server-side search tools; they
    exist only on the Responses lane, so the caller picks that lane for it.

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
        raise RequestRejected(
            "There is nothing to ask: messages must be a non-empty list of {'role', 'content'} objects.",
            parameter="messages",
            action='Pass the question as a string, or as messages=[{"role": "user", "content": "..."}].',
        )
    n = params.get("n")
    if n is not None and n != 1:
        raise UnsupportedParameter(
            f"n={n!r} asks for several answers; this library returns one answer (choice 0) and would drop the rest.",
            parameter="n",
            action="Leave n out (or set n=1), and call chat() once per answer you want.",
        )
    effort = _effort(thinking)
    if search and choice.lane != RESPONSES:
        raise UnsupportedParameter(
            "search runs on the Responses lane; this request was built for chat completions.", parameter="search"
        )
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
    if search:
        body["tools"] = [*body.get("tools", []), *search_tools(search)]
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
        raise RequestRejected(
            f"thinking effort {effort!r} is not one xAI knows.",
            parameter="thinking",
            action=f'Use thinking={{"effort": "low"}}, "medium" or "high" ({", ".join(EFFORTS)}), or leave it out.',
        )
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
        raise RequestRejected(
            f"A message has role {role!r}; use system, developer, user, assistant or tool.", parameter="messages"
        )
    content = message.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise RequestRejected("A message's content must be a string or a list of parts.", parameter="messages")
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
    raise RequestRejected(f"A message part has type {kind!r}; use text or image_url.", parameter="messages")


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
        return _noted(_from_chat_completion(choice, body))
    return _noted(_from_response(choice, body))


def _from_chat_completion(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponse("The chat completion has no choices.")
    message = _object(choices[0].get("message"), "message")
    calls = [_whole_call(call) for call in _array(message.get("tool_calls"), "tool_calls")]
    return _shape(
        choice,
        mend_text(_text(message.get("content"), "content") or ""),
        choices[0].get("finish_reason"),
        _usage(body.get("usage")),
        calls,
        citations(body.get("citations")),
    )


def _whole_call(call: Any) -> dict[str, Any]:
    call = _object(call, "tool call")
    function = _object(call.get("function"), "tool call's function")
    return {
        "id": _text(call.get("id"), "tool call id"),
        "type": "function",
        "function": {
            "name": _text(function.get("name"), "tool call name") or "",
            "arguments": _text(function.get("arguments"), "tool call arguments") or "",
        },
    }


def _from_response(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    output = body.get("output")
    if not isinstance(output, list):
        raise MalformedResponse("The response has no output list.")
    if body.get("status") == "failed":
        raise ServerError(f"The model failed: {_error_text(body.get('error'))}")
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    annotations: list[Any] = []
    for item in output:
        item = _object(item, "output item")
        if item.get("type") == "message":
            for part in _array(item.get("content"), "message content"):
                part = _object(part, "content part")
                if part.get("type") == "output_text":
                    text.append(_text(part.get("text"), "output text") or "")
                    cited = part.get("annotations")
                    annotations += cited if isinstance(cited, list) else []
        elif item.get("type") == "function_call":
            calls.append(
                {
                    "id": _text(item.get("call_id"), "call_id"),
                    "type": "function",
                    "function": {
                        "name": _text(item.get("name"), "function name") or "",
                        "arguments": _text(item.get("arguments"), "function arguments") or "",
                    },
                }
            )
    incomplete = (
        (body.get("incomplete_details") or {}).get("reason")
        if isinstance(body.get("incomplete_details"), dict)
        else None
    )
    finish = "tool_calls" if calls else ("length" if incomplete == "max_output_tokens" else "stop")
    found = citations(annotations, body.get("citations"))
    return _shape(choice, mend_text("".join(text)), finish, _usage(body.get("usage")), calls, found)


def _shape(
    choice: ModelChoice,
    content: str,
    finish: Any,
    usage: dict[str, int],
    tool_calls: list[dict[str, Any]],
    cited: list[dict[str, str | None]] | None = None,
) -> dict[str, Any]:
    """The one answer shape; ``tool_calls`` is always there (``[]`` without calls), so callers need no ``get``.

    ``citations`` (``[{"url", "title"}]``) is there when the server cited sources (search).
    """
    answer = {
        "model": choice.display_id,
        "lane": choice.lane,
        "content": content,
        "finish_reason": finish if isinstance(finish, str) else None,
        "usage": usage,
        "tool_calls": tool_calls,
    }
    if cited:
        answer["citations"] = cited
    return answer


def citations(*sources: Any) -> list[dict[str, str | None]]:
    """``[{"url", "title"}]`` from any mix of ``url_citation`` annotations, citation objects and bare URLs.

    Both lanes cite this way: the Responses API in its text's annotations
    (and a top-level ``citations`` list of URLs), chat completions in a
    top-level ``citations``. Each URL once, in order; an entry that is not a
    citation is skipped, since sources are a courtesy, not the answer.
    """
    found: dict[str, str | None] = {}
    for source in sources:
        for entry in source if isinstance(source, list) else []:
            url, title = (entry, None) if isinstance(entry, str) else (None, None)
            if isinstance(entry, dict) and entry.get("type", "url_citation") == "url_citation":
                url, title = entry.get("url"), entry.get("title")
            if isinstance(url, str) and url.startswith(("https://", "http://")):
                if found.get(url) is None:
                    found[url] = mend_text(title) if isinstance(title, str) and title.strip() else None
    return [{"url": url, "title": title} for url, title in found.items()]


#: Said beside an answer with neither text nor tool calls: xAI models now and then return an empty
#: turn (often after long reasoning), and asking again is what works.
EMPTY_ANSWER_NOTE = "The model returned an empty answer; asking again usually works."


def _noted(answer: dict[str, Any]) -> dict[str, Any]:
    """The finished answer, with ``note`` when it is empty, so an agent does not show a person nothing."""
    if not answer["content"].strip() and not answer["tool_calls"]:
        answer["note"] = EMPTY_ANSWER_NOTE
    return answer


# Answers are read defensively: a field of the wrong type is the server's mistake, reported as
# ``bad_response`` (never a TypeError that reads as our own bug).


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"The answer's {what} is not an object.")
    return value


def _array(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"The answer's {what} is not a list.")
    return value


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise MalformedResponse(f"The answer's {what} is not a string.")


def mend_text(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate (a JSON ``\\ud83d`` escape without its partner) as U+FFFD.

    Such a str cannot be encoded as UTF-8, so printing or saving the answer
    would fail far from here. Split pairs are joined first.
    """
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _mend_delta(carry: str, delta: str) -> tuple[str, str]:
    """``(text to emit now, carry)``: a high surrogate ending a delta waits for its partner in the next one."""
    text = carry + delta
    if text and "\ud800" <= text[-1] <= "\udbff":
        return mend_text(text[:-1]), text[-1]
    return mend_text(text), ""


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
    cited: list[Any] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    done: bool = False
    carry: str = ""

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
        if isinstance(chunk.get("citations"), list):
            self.cited = chunk["citations"]  # xAI sends the whole list, in the last chunks
        delta_text = ""
        for item in _array(chunk.get("choices"), "choices"):
            item = _object(item, "choice")
            delta = _object(item.get("delta"), "delta")
            delta_text += _text(delta.get("content"), "delta content") or ""
            for call in _array(delta.get("tool_calls"), "tool_calls"):
                self._merge_call(_object(call, "tool call"))
            finish = _text(item.get("finish_reason"), "finish_reason")
            if finish:
                self.finish_reason = finish
        emitted, self.carry = _mend_delta(self.carry, delta_text)
        if emitted:
            self.text.append(emitted)
        return emitted or None

    def _merge_call(self, call: dict[str, Any]) -> None:
        index = call.get("index", len(self.calls))
        if not isinstance(index, int) or isinstance(index, bool):
            raise MalformedResponse("The answer's tool call index is not a number.")
        slot = self.calls.setdefault(index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        slot["id"] = _text(call.get("id"), "tool call id") or slot["id"]
        function = _object(call.get("function"), "tool call's function")
        slot["function"]["name"] += _text(function.get("name"), "tool call name") or ""
        slot["function"]["arguments"] += _text(function.get("arguments"), "tool call arguments") or ""

    def result(self) -> dict[str, Any]:
        if not self.done:
            raise IncompleteStream("The chat stream ended before its [DONE] marker; the answer may be cut short.")
        calls = [self.calls[i] for i in sorted(self.calls)]
        text = "".join(self.text) + mend_text(self.carry)
        return _noted(_shape(self.choice, text, self.finish_reason, self.usage, calls, citations(self.cited)))


@dataclass
class ResponsesStream:
    """Reads Responses API events; ``response.completed`` ends it, ``response.failed`` / ``error`` fail it."""

    choice: ModelChoice
    text: list[str] = field(default_factory=list)
    final: dict[str, Any] | None = None
    done: bool = False
    carry: str = ""
    cited: list[Any] = field(default_factory=list)

    def feed(self, event: str, data: str) -> str | None:
        if data.strip() == "[DONE]":
            return None  # some gateways add it; the terminal event is response.completed
        payload = _json_event(data)
        kind = payload.get("type") or event
        if kind == "response.output_text.delta":
            emitted, self.carry = _mend_delta(self.carry, _text(payload.get("delta"), "delta") or "")
            if emitted:
                self.text.append(emitted)
                return emitted
        elif kind == "response.output_text.annotation.added":
            self.cited.append(payload.get("annotation"))
        elif kind in ("response.completed", "response.incomplete"):
            self.final = _object(payload.get("response"), "response")
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
        streamed = "".join(self.text) + mend_text(self.carry)
        if isinstance(self.final.get("output"), list):
            answer = _from_response(self.choice, self.final)
            if not answer["content"]:
                answer["content"] = streamed
            cited = citations(answer.get("citations"), self.cited)
            if cited:
                answer["citations"] = cited
            return _noted(answer)
        cited = citations(self.cited, self.final.get("citations"))
        return _noted(_shape(self.choice, streamed, "stop", _usage(self.final.get("usage")), [], cited))


def new_stream(choice: ModelChoice) -> ChatCompletionsStream | ResponsesStream:
    return ChatCompletionsStream(choice) if choice.lane == CHAT_COMPLETIONS else ResponsesStream(choice)


def _json_event(data: str) -> dict[str, Any]:
    from ._files import loads_strict

    try:
        value = loads_strict(data)
    except ValueError:
        raise MalformedResponse("The stream sent an event that is not JSON.") from None
    if not isinstance(value, dict):
        raise MalformedResponse("The stream sent an event that is not a JSON object.")
    return value
