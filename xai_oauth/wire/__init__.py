"""The wire layer: pure translation between the wire formats and the one answer shape.

Nothing here does I/O, holds a credential or reads a clock: a body comes in,
a body (or an answer, or the next event) goes out. ``Client`` calls it for
``chat()`` and ``stream()``, and the local server calls the same functions on
a body it received, without a ``Client``.

For ``chat()`` (xAI's two lanes, read into the one answer dict):

* ``_requests``: a chat request as the body each lane takes (chat completions
  or Responses), with an explicit ``FieldPolicy`` for fields a lane cannot carry.
* ``_answers``: a whole answer of either lane, read into the one shape.
* ``_streams``: a stream of either lane, read one event at a time.

For the server (three wire formats, through one neutral vocabulary):

* ``_events``: the neutral events every format's reader yields and writer takes.
* ``_openai_chat``, ``_openai_responses``, ``_openai_responses_writer``,
  ``_openai_requests``, ``_openai_errors``: chat completions and Responses, read
  and written, and a Responses request as a chat-completions one.
* ``_anthropic``, ``_anthropic_stream``, ``_anthropic_models``: Anthropic
  Messages requests, answers, streams, errors and model names.
"""
