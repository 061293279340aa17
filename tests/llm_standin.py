"""A stand-in OpenAI-compatible chat server for fault tests (the only fake the suite uses).

Behaviour per request is chosen by `StandIn.behaviour`: 'good' quotes passage 1, 'bad-citation' adds
an unsupported sentence, 'out-of-range' cites [9], 'slow' stalls past the client's timeout,
'error' answers HTTP 500, 'not-found' says NOT FOUND, 'uncited' gives no [n].
"""

from __future__ import annotations

import json
import re
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


def first_sentence(passage_block: str) -> str:
    body = passage_block.split("\n", 1)[1] if "\n" in passage_block else passage_block
    for line in body.splitlines():
        line = re.sub(r"^\s*(?:[-•]\s+|\d+(?:\.\d+)*\.?\s+)", "", line).strip()
        if len(line.split()) >= 6:
            return re.split(r"(?<=[.!?])\s+", line)[0]
    return body.strip()[:200]


class StandIn:
    def __init__(self):
        self.behaviour = "good"
        self.requests: list[dict] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.chat)

    def reply(self, prompt: str) -> str:
        blocks = re.split(r"\n\n(?=\[\d+\] )", prompt.split("Passages:\n\n", 1)[1].rsplit("\n\nQuestion:", 1)[0])
        claim = first_sentence(blocks[0][4:])
        if self.behaviour == "bad-citation":
            return f"{claim} [1] The moon is made of green cheese and the unit cost £9 billion. [2]"
        if self.behaviour == "out-of-range":
            return f"{claim} [9]"
        if self.behaviour == "not-found":
            return "NOT FOUND"
        if self.behaviour == "uncited":
            return claim
        return f"{claim} [1]"

    async def chat(self, request: Request):
        body = await request.json()
        self.requests.append(body)
        if self.behaviour == "error":
            return JSONResponse({"error": "boom"}, status_code=500)
        text = self.reply(body["messages"][-1]["content"])

        def stream():
            if self.behaviour == "slow":
                time.sleep(5)
            for word in text.split(" "):
                chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")
