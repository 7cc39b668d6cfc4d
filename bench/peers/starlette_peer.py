"""The Python peer: sse-starlette + uvicorn, one bounded asyncio.Queue per
subscriber, the way the seed system pushed events.

Routes copy tidings' contract so the load generator drives it the same way:
GET /api/events (SSE) and POST /api/events {"type", "data"}.

What it cannot do: resume (Last-Event-ID is ignored, nothing is kept), and it
drops an event for a subscriber whose queue is full without telling it.
"""

import argparse
import asyncio
import json

import uvicorn
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

QUEUE_SIZE = 256
subscribers: set = set()
state = {"next_id": 0, "dropped": 0}


async def events(request: Request):
    # Register before answering, so the response head means "subscribed".
    queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
    subscribers.add(queue)

    async def stream():
        try:
            yield ServerSentEvent(comment="ready")
            while True:
                event_id, kind, data = await queue.get()
                yield ServerSentEvent(id=event_id, event=kind, data=data)
        finally:
            subscribers.discard(queue)

    return EventSourceResponse(stream(), ping=15)


async def publish(request: Request):
    body = await request.json()
    state["next_id"] += 1
    event_id = str(state["next_id"])
    item = (event_id, body["type"], json.dumps(body["data"], separators=(",", ":")))
    for queue in subscribers:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            state["dropped"] += 1
    return JSONResponse({"id": event_id}, status_code=202)


async def health(request: Request):
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/api/events", events, methods=["GET"]),
        Route("/api/events", publish, methods=["POST"]),
        Route("/api/health", health),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )
