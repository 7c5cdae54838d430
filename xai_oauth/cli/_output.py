"""How does the command speak to a person? Exit codes, JSON or text, and errors as message + action.

Every subcommand hands its export's dict to ``emit``, so the rules live in one
place: ``--json`` prints the dict, otherwise a subcommand's own printer shows
it; a failure prints ``error:`` and the action to follow, and picks the exit
code. The exports speak Python (``call start()``); here their sentences are
put in the command's words (``run `xai-oauth login```) before anything is
printed, JSON included.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ..server._errors import for_terminal

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

__all__ = [
    "EXIT_DENIED",
    "EXIT_EXPIRED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "SPINNER",
    "UsageError",
    "duration",
    "emit",
    "for_terminal",
    "in_commands",
    "print_error",
]

EXIT_OK, EXIT_FAILED, EXIT_DENIED, EXIT_EXPIRED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3, 64, 130
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class UsageError(Exception):
    """A command line the command cannot use: exit ``EXIT_USAGE`` with the usage of the command at fault.

    argparse's own exit code, 2, means "sign-in denied" here. ``parser`` is the
    (sub)command whose usage is printed; ``None`` leaves the choice to ``main``.
    """

    def __init__(self, message: str, parser: argparse.ArgumentParser | None = None) -> None:
        super().__init__(message)
        self.parser = parser


def emit(
    result: dict[str, Any],
    args: argparse.Namespace,
    human: Callable[[dict[str, Any]], object] | None,
    *,
    one_line: bool = False,
) -> int:
    """Print ``result`` as JSON or through ``human``; errors as message + action. Returns the exit code.

    The JSON speaks the command's language too: an action says ``xai-oauth login``, not ``start()``.
    ``one_line`` keeps it on one line (JSON Lines, for ``login --json``).
    """
    result = in_commands(result)
    if args.json:
        print(json.dumps(result, indent=None if one_line else 2), flush=True)
    elif result.get("ok") and human is not None:
        human(result)
    if not result.get("ok"):
        if not args.json:
            print_error(result)
        return (
            EXIT_DENIED
            if result.get("error") == "access_denied"
            else (EXIT_EXPIRED if result.get("error") == "expired" else EXIT_FAILED)
        )
    return EXIT_OK


def print_error(result: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    print(f"error: {result.get('message')}", file=stream)
    if result.get("action"):
        print(f"  → {result['action']}", file=stream)  # emit already put it in the command's words
    if result.get("traceback"):
        print(result["traceback"], file=stream, end="")


#: The fields of an export's dict that talk to a person (and so may name a call).
_SPOKEN = ("message", "action", "note", "storage_note")
#: The command's own action where the export's names a call's argument that the command spells as an option
#: (``out_dir=``, ``search=[...]``, "the request_id that video() returned"), by the error's ``parameter``.
_OPTION_ACTIONS = {
    "request_id": "Pass the id that `xai-oauth video` printed (`xai-oauth video --status ID`), or start a new clip "
    "with `xai-oauth video`.",
    "out_dir": "Pass -o a folder you can write to (or set XAI_OAUTH_MEDIA_DIR to one).",
    "search": "Pass --search web, --search x or --search web,x.",
}
#: The command's own action for errors whose export action names calls the command makes by itself.
_CODE_ACTIONS = {
    "already_signed_in": "Run `xai-oauth login --force` to sign in again (the current sign-in is replaced), "
    "or `xai-oauth logout` first.",
    "no_pending_login": "Run `xai-oauth login` again: the sign-in it waited for is gone (cancelled, or finished "
    "by another process).",
}


def in_commands(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with every spoken field in the command's words (``notes`` too).

    ``switch_hint`` says how to pick another model with this command, and the
    ``missing_dependency`` action names the real skill folder: a person at a
    terminal has no ``SKILL_DIR`` to substitute.
    """
    spoken: dict[str, Any] = {name: for_terminal(result[name]) for name in _SPOKEN if isinstance(result.get(name), str)}
    own = _own_action(result)
    if own is not None:
        spoken["action"] = own
    if isinstance(result.get("notes"), list):
        spoken["notes"] = [for_terminal(n) if isinstance(n, str) else n for n in result["notes"]]
    if "switch_hint" in result:
        example = result.get("default_model_id") or "xai-grok/<id>"
        spoken["switch_hint"] = (
            f"Switch models with `xai-oauth chat --model xai-grok/<id>`, e.g. `xai-oauth chat --model {example}`; "
            "list them with `xai-oauth models`."
        )
    if result.get("error") == "missing_dependency" and isinstance(spoken.get("action"), str):
        spoken["action"] = spoken["action"].replace("SKILL_DIR", _skill_folder())
    return {**result, **spoken}


def _own_action(result: dict[str, Any]) -> str | None:
    """The command's own action for ``result``, where the export's names what only a Python caller has."""
    if result.get("ok"):
        return None
    parameter, error = result.get("parameter"), result.get("error")
    if isinstance(parameter, str) and parameter in _OPTION_ACTIONS:
        return _OPTION_ACTIONS[parameter]
    if isinstance(error, str) and error in _CODE_ACTIONS:
        return _CODE_ACTIONS[error]
    if error == "not_signed_in" and isinstance(result.get("use_model"), str):
        return (
            f"Pass -m {result['use_model']} to use the API key (XAI_API_KEY is set), or run `xai-oauth login` to "
            "sign in with a subscription."
        )
    return None


def _skill_folder() -> str:
    """The folder holding ``exports.py`` (and so the skill's ``requirements.txt`` and ``.venv``)."""
    import os

    import exports

    return os.path.dirname(os.path.abspath(exports.__file__))


def duration(seconds: float | None) -> str:
    """``seconds`` as a person reads a wait: ``1 h 5 min`` or ``4 min 10 s``."""
    if seconds is None:
        return "unknown"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
