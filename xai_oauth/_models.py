"""Which model, which credential, which lane: the model ids, their prefixes and the default model.

A model id says who pays and where it is served: ``xai-grok/<id>`` is the
subscription, ``xai/<id>`` the API key, a bare id the subscription when
signed in; multi-agent models live only on ``POST /responses``, every other
model on ``POST /chat/completions``. Sign-in (the default model it records),
the client (the lane it sends to) and ``status()`` all ask this, so it sits
low in the house and imports nothing heavy: ``status()`` loads it, and must
stay as light as the standard library's ``os`` and ``json`` (no
``dataclasses``, no ``typing``).
"""

from ._exceptions import ModelNotFound, UnsupportedParameter

__all__ = [
    "API_KEY_PREFIX",
    "CHAT_COMPLETIONS",
    "DEFAULT_MODEL_ID",
    "MAX_ID_LENGTH",
    "PATHS",
    "RESPONSES",
    "SUBSCRIPTION_PREFIX",
    "ModelChoice",
    "lane_for",
    "parse_model",
    "pick_default",
    "sendable",
    "shown_id",
]

DEFAULT_MODEL_ID = "xai-grok/grok-4.3"
SUBSCRIPTION_PREFIX = "xai-grok/"
API_KEY_PREFIX = "xai/"
CHAT_COMPLETIONS = "chat_completions"
RESPONSES = "responses"
PATHS = {CHAT_COMPLETIONS: "/chat/completions", RESPONSES: "/responses"}


#: The longest model id sent anywhere: xAI's are a few dozen characters, and an id travels as a header.
MAX_ID_LENGTH = 256


def sendable(model_id: object) -> bool:
    """True when ``model_id`` can travel as an HTTP header value: printable ASCII, no control characters, at most
    ``MAX_ID_LENGTH`` characters.

    The chat proxy routes on the ``x-grok-model-override`` header, and a
    header cannot carry ``模型`` or ``grök-4`` (nor a newline, nor a lone
    surrogate, which no encoder can write). xAI's ids are all short plain
    ASCII, so anything else is a typo, a garbled listing or an attack, and is
    refused (``parse_model``) or skipped (listings, the cached default)
    here, whatever the HTTP client would have made of it, rather than
    failing inside the HTTP client or sending a 100 KB header.
    """
    return (
        isinstance(model_id, str) and len(model_id) <= MAX_ID_LENGTH and model_id.isascii() and model_id.isprintable()
    )


def shown_id(model_id: str) -> str:
    """``model_id`` as a message shows it: quoted and escaped (a surrogate or a newline as ``\\udc00``, ``\\n``),
    and cut after 80 characters, so a 100 KB id does not make a 100 KB message."""
    cut = len(model_id) > 80
    return repr(model_id[:80]) + (f"... ({len(model_id)} characters)" if cut else "")


def pick_default(chat_ids: "list[str]", preferred: "str | None" = None) -> "str | None":
    """``preferred`` if listed, else ``xai-grok/grok-4.3`` if listed, else the first chat model.

    An id that could not be sent (see ``sendable``) is never the default: a
    bad listing must not poison every later call that names no model.
    """
    chat_ids = [i for i in chat_ids if sendable(i)]
    for candidate in (preferred, DEFAULT_MODEL_ID):
        if candidate and candidate in chat_ids:
            return candidate
    return chat_ids[0] if chat_ids else None


def lane_for(model_id: str) -> str:
    """``responses`` for multi-agent models, ``chat_completions`` for the rest."""
    return RESPONSES if "multi-agent" in model_id else CHAT_COMPLETIONS


class ModelChoice:
    """Which credential and lane a model id means. ``credential`` is ``subscription`` or ``api_key``.

    Immutable and compared by value, as a frozen dataclass would be; written
    by hand because ``dataclasses`` (it imports ``inspect``) would cost
    ``status()`` several milliseconds.
    """

    __slots__ = ("model_id", "credential", "lane")

    model_id: str  # as the API knows it, without our prefix
    credential: str
    lane: str

    def __init__(self, model_id: str, credential: str, lane: str) -> None:
        for name, value in (("model_id", model_id), ("credential", credential), ("lane", lane)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _key(self) -> "tuple[str, str, str]":
        return (self.model_id, self.credential, self.lane)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, ModelChoice) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"ModelChoice(model_id={self.model_id!r}, credential={self.credential!r}, lane={self.lane!r})"

    @property
    def display_id(self) -> str:
        prefix = SUBSCRIPTION_PREFIX if self.credential == "subscription" else API_KEY_PREFIX
        return prefix + self.model_id

    @property
    def path(self) -> str:
        return PATHS[self.lane]


def parse_model(model: str, *, signed_in: bool, lane: "str | None" = None) -> ModelChoice:
    """Read the prefix: ``xai-grok/`` subscription, ``xai/`` API key, bare: subscription if signed in.

    An id that cannot be a header value (``sendable``) is ``ModelNotFound``
    here, before anything is sent: no such model exists, and the README's
    action for it (list models()) is the one that helps.

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
    if not sendable(model_id):
        raise ModelNotFound(
            f"{shown_id(model)} is not a model id xAI serves: its ids are printable ASCII, with no accents, other "
            f"scripts or control characters, and at most {MAX_ID_LENGTH} characters long."
        )
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
