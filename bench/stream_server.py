"""A server that sends pre-rendered streams, in a process of its own: what the stream benchmark reads from.

``python bench/stream_server.py --deltas N`` renders, once, a chat-completions stream of ``N`` text deltas
(``POST /v1/chat/completions``) and a Responses stream of ``N`` (``POST /v1/responses``), then answers every
request with those bytes in one write (TCP_NODELAY, HTTP/1.1 keep-alive). It does nothing per event, so a
client's time is its own reading, and in another process it shares no GIL with the client it serves
(issue 22 item 7: the emulator in a thread of the client's process flattered neither side).
"""

from __future__ import annotations

import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_stream_read import chat_events, responses_events  # noqa: E402


def render(deltas: int) -> dict[str, bytes]:
    """The two streams as server-sent events, by path."""
    chat = "".join(f"data: {data}\n\n" for data in chat_events(deltas))
    responses = "".join(f"event: {_type(data)}\ndata: {data}\n\n" for data in responses_events(deltas))
    return {"/v1/chat/completions": chat.encode(), "/v1/responses": responses.encode()}


def _type(data: str) -> str:
    return "response.completed" if data.startswith('{"type": "response.completed"') else "response.output_text.delta"


def serve(deltas: int) -> None:
    streams = render(deltas)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = streams.get(self.path)
            if body is None:
                self.send_error(404)
                return
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            self.wfile.write(head + body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=200_000)
    serve(parser.parse_args().deltas)
