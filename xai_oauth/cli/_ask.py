"""``xai-oauth chat``, ``image`` and ``video``: how does a person ask Grok for text, pictures and clips?

The question comes from the argument, from stdin when it is piped, or from a
JSON file of messages; the answer streams to a terminal and arrives whole
elsewhere. Pictures and clips are saved as files and their paths printed; a
clip is waited for with a spinner at the server's pace (or, with
``--no-wait``, its request id is printed for ``--status`` later).
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

import exports

from ._output import SPINNER, UsageError, emit

if TYPE_CHECKING:
    import argparse

__all__ = ["chat", "image", "video"]


def chat(args: argparse.Namespace) -> int:
    messages: list[dict[str, Any]] = []
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as handle:
                messages = json.load(handle)
            said = None if _is_messages(messages) else "it does not hold a list of {role, content} objects"
        except (OSError, ValueError) as exc:
            said = type(exc).__name__
        if said is not None:
            return emit(
                {
                    "ok": False,
                    "error": "invalid_request",
                    "message": f"Could not read {args.file}: {said}.",
                    "action": "Give a JSON file holding a list of {role, content} messages.",
                },
                args,
                None,
            )
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    prompt = _prompt(args)
    if prompt is not None:
        messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {}
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    stream = (sys.stdout.isatty() if args.stream is None else args.stream) and not args.json
    if args.search:
        params["search"] = args.search
    result = exports.chat(
        args.model, messages, stream=stream, thinking={"effort": args.thinking} if args.thinking else None, **params
    )

    def human(r: dict[str, Any]) -> None:
        if not stream:
            print(r["content"])
        if r.get("searched"):
            print("\nSearched: " + "; ".join(r["searched"]))
        if r.get("citations"):
            print("Sources:" if r.get("searched") else "\nSources:")
            for number, cited in enumerate(r["citations"], 1):
                print(f"  [{number}] {cited['title'] + ' - ' if cited.get('title') else ''}{cited['url']}")
        if r.get("note"):
            print(f"note: {r['note']}", file=sys.stderr)

    return emit(result, args, human)


def _is_messages(loaded: object) -> bool:
    """A non-empty list of objects: what ``--file`` must hold (each object's fields are the API's to judge)."""
    return isinstance(loaded, list) and bool(loaded) and all(isinstance(message, dict) for message in loaded)


def _prompt(args: argparse.Namespace) -> str | None:
    """The question, from the argument or a piped stdin; ``None`` when ``--file`` holds it. Never empty.

    An empty question is refused here, before anything is sent: the model would
    only answer a message with no content (or a bare system message) with a guess.
    """
    prompt: str | None = args.prompt
    if prompt is None:
        if args.file:
            return None
        if sys.stdin.isatty():
            raise UsageError("chat needs a PROMPT: give it as an argument, pipe it on stdin, or use --file")
        prompt = sys.stdin.read().strip()  # `echo question | xai-oauth chat`
        if not prompt:
            raise UsageError("the question on stdin is empty: give a PROMPT, or use --file")
    if not prompt.strip():
        raise UsageError("the PROMPT is empty: ask something")
    return prompt


def image(args: argparse.Namespace) -> int:
    result = exports.image(
        args.prompt, args.model, n=args.n, aspect_ratio=args.aspect_ratio, image=args.edit, out_dir=args.out_dir
    )

    def human(r: dict[str, Any]) -> None:
        print(f"Saved {len(r['files'])} image{'s' if len(r['files']) != 1 else ''} ({r['model']}):")
        for path in r["files"]:
            print(f"  {path}")
        if r.get("revised_prompt"):
            print(f"The model drew: {r['revised_prompt']}")

    return emit(result, args, human)


def video(args: argparse.Namespace) -> int:
    """Start the job (or take up ``--status``), then check at the server's pace with a spinner on stderr."""
    if args.status:
        result = exports.video_status(args.status)
    elif args.prompt:
        result = exports.video(
            args.prompt,
            args.model,
            duration=args.duration,
            aspect_ratio=args.aspect_ratio,
            resolution=args.resolution,
            image=args.image,
            out_dir=args.out_dir,
            wait=False,
        )
    else:
        raise UsageError("video needs a PROMPT, or --status REQUEST_ID")
    started, frame = time.monotonic(), 0
    live = sys.stderr.isatty() and not args.json
    while result.get("ok") and result.get("status") == "pending" and not args.no_wait:
        if time.monotonic() - started > args.timeout:
            break
        deadline = time.monotonic() + float(result.get("retry_after") or 5)
        while time.monotonic() < deadline:
            if live:
                elapsed = int(time.monotonic() - started)
                print(
                    f"\r{SPINNER[frame % len(SPINNER)]} xAI is rendering the clip ({elapsed} s)",
                    end="",
                    file=sys.stderr,
                )
                frame += 1
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        result = exports.video_status(result["request_id"])
    if live:
        print("\r\033[K", end="", file=sys.stderr)

    def human(r: dict[str, Any]) -> None:
        if r["status"] == "done":
            seconds = f", {r['duration']:g} s" if r.get("duration") else ""
            print(f"Saved the clip ({r['model']}{seconds}):\n  {r['file']}")
        else:
            print(f"Still rendering. Check again with: xai-oauth video --status {r['request_id']}")

    return emit(result, args, human)
