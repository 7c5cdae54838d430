"""The wire layer: pure translation between xAI's wire formats and the one answer shape.

Nothing here does I/O, holds a credential or reads a clock: a body comes in,
a body (or an answer, or the next event) goes out. ``Client`` calls it for
``chat()`` and ``stream()``, and a local server can call the same functions on
a body it received, without a ``Client``.

* ``_requests``: a chat request as the body each lane takes (chat completions
  or Responses), with an explicit ``FieldPolicy`` for fields a lane cannot carry.
* ``_answers``: a whole answer of either lane, read into the one shape.
* ``_streams``: a stream of either lane, read one event at a time.

A further wire format (Anthropic Messages) is one more module beside these,
and one more entry in the tables keyed by lane.
"""
