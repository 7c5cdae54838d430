"""What did the model answer? Either lane's answer, read into the one shape ``chat()`` returns.

``{"model", "lane", "content", "finish_reason", "usage", "tool_calls", "citations"?, "note"?}``:
``tool_calls`` is always there, ``citations`` lists the sources a search
cited, ``note`` says an empty answer is worth asking again. Answers are read
defensively: a field of the wrong type is the server's mistake, reported as
``bad_response`` (``MalformedResponse``), never a ``TypeError`` that reads as
our own bug. The stream readers (``_streams``) finish with the same helpers,
so a streamed answer and a whole one come out alike.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import MalformedResponse, ServerError
from .._models import CHAT_COMPLETIONS, ModelChoice
from .._redact import scrub

__all__ = [
    "EMPTY_ANSWER_NOTE",
    "as_array",
    "as_object",
    "as_text",
    "citations",
    "error_text",
    "from_response",
    "mend_delta",
    "mend_text",
    "noted",
    "read_answer",
    "read_usage",
    "shape",
]


def read_answer(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    """A whole (non-streamed) answer of either lane in the one shape."""
    if choice.lane == CHAT_COMPLETIONS:
        return noted(_from_chat_completion(choice, body))
    return noted(from_response(choice, body))


def _from_chat_completion(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponse("The chat completion has no choices.")
    message = as_object(choices[0].get("message"), "message")
    calls = [_whole_call(call) for call in as_array(message.get("tool_calls"), "tool_calls")]
    return shape(
        choice,
        mend_text(as_text(message.get("content"), "content") or ""),
        choices[0].get("finish_reason"),
        read_usage(body.get("usage")),
        calls,
        citations(body.get("citations")),
    )


def _whole_call(call: Any) -> dict[str, Any]:
    call = as_object(call, "tool call")
    function = as_object(call.get("function"), "tool call's function")
    return {
        "id": as_text(call.get("id"), "tool call id"),
        "type": "function",
        "function": {
            "name": as_text(function.get("name"), "tool call name") or "",
            "arguments": as_text(function.get("arguments"), "tool call arguments") or "",
        },
    }


def from_response(choice: ModelChoice, body: dict[str, Any]) -> dict[str, Any]:
    output = body.get("output")
    if not isinstance(output, list):
        raise MalformedResponse("The response has no output list.")
    if body.get("status") == "failed":
        raise ServerError(f"The model failed: {error_text(body.get('error'))}")
    from ._openai_responses import searched

    text: list[str] = []
    calls: list[dict[str, Any]] = []
    annotations: list[Any] = []
    queries: list[str] = []
    for item in output:
        item = as_object(item, "output item")
        if item.get("type") == "web_search_call" and (search := searched(item)) and search.query:
            queries.append(mend_text(search.query))
        elif item.get("type") == "message":
            for part in as_array(item.get("content"), "message content"):
                part = as_object(part, "content part")
                if part.get("type") == "output_text":
                    text.append(as_text(part.get("text"), "output text") or "")
                    cited = part.get("annotations")
                    annotations += cited if isinstance(cited, list) else []
        elif item.get("type") == "function_call":
            calls.append(
                {
                    "id": as_text(item.get("call_id"), "call_id"),
                    "type": "function",
                    "function": {
                        "name": as_text(item.get("name"), "function name") or "",
                        "arguments": as_text(item.get("arguments"), "function arguments") or "",
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
    answer = shape(choice, mend_text("".join(text)), finish, read_usage(body.get("usage")), calls, found)
    if queries:
        answer["searched"] = queries
    return answer


def shape(
    choice: ModelChoice,
    content: str,
    finish: Any,
    usage: dict[str, int],
    tool_calls: list[dict[str, Any]],
    cited: list[dict[str, str | None]] | None = None,
) -> dict[str, Any]:
    """The one answer shape; ``tool_calls`` is always there (``[]`` without calls), so callers need no ``get``.

    ``citations`` (``[{"url", "title"}]``) is there when the server cited sources (search); a Responses
    answer adds ``searched``, the queries xAI's web search ran (``from_response``).
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


def noted(answer: dict[str, Any]) -> dict[str, Any]:
    """The finished answer, with ``note`` when it is empty, so an agent does not show a person nothing."""
    if not answer["content"].strip() and not answer["tool_calls"]:
        answer["note"] = EMPTY_ANSWER_NOTE
    return answer


# Answers are read defensively: a field of the wrong type is the server's mistake, reported as
# ``bad_response`` (never a TypeError that reads as our own bug).


def as_object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"The answer's {what} is not an object.")
    return value


def as_array(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"The answer's {what} is not a list.")
    return value


def as_text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise MalformedResponse(f"The answer's {what} is not a string.")


def mend_text(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate (a JSON ``\\ud83d`` escape without its partner) as U+FFFD.

    Such a str cannot be encoded as UTF-8, so printing or saving the answer
    would fail far from here. Split pairs are joined first.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")  # one pass in C; only a surrogate makes it fail
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def mend_delta(carry: str, delta: str) -> tuple[str, str]:
    """``(text to emit now, carry)``: a high surrogate ending a delta waits for its partner in the next one."""
    if not carry and delta.isascii():
        return delta, ""  # the common case: nothing to mend, nothing to carry
    text = carry + delta
    if text and "\ud800" <= text[-1] <= "\udbff":
        return mend_text(text[:-1]), text[-1]
    return mend_text(text), ""


def read_usage(raw: Any) -> dict[str, int]:
    """Both lanes' usage as prompt / completion / total (+ reasoning, + the prompt's cached) tokens."""
    if not isinstance(raw, dict):
        return {}

    def number(*keys: str) -> int | None:
        for key in keys:
            value = raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    details = raw.get("output_tokens_details") or raw.get("completion_tokens_details") or {}
    cached = raw.get("prompt_tokens_details") or raw.get("input_tokens_details") or {}
    usage = {
        "prompt_tokens": number("prompt_tokens", "input_tokens"),
        "completion_tokens": number("completion_tokens", "output_tokens"),
        "total_tokens": number("total_tokens"),
        "reasoning_tokens": details.get("reasoning_tokens") if isinstance(details, dict) else None,
        "cached_tokens": cached.get("cached_tokens") if isinstance(cached, dict) else None,
    }
    return {k: v for k, v in usage.items() if isinstance(v, int)}


def error_text(error: Any) -> str:
    """A server's reason for a failure, scrubbed of anything token-shaped before it joins a message."""
    if isinstance(error, dict):
        error = error.get("message") or error.get("code")
    return scrub(str(error)) if error else "no reason given"
