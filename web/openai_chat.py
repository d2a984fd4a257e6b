"""OpenAI-compatible door: ``POST /v1/chat/completions`` (plain or streamed), ``GET /v1/models``.

A chat front end, notebook or script that already speaks the OpenAI API
(``OpenAI(base_url="http://host/v1")``) gets grounded answers. The last message is the user's
question and the earlier user and assistant messages are the history; system and developer
messages are accepted and ignored (answers come only from the articles). ``model`` names the
index (``RAG_MODEL_NAME``, default ``rag-news``); sampling settings such as ``temperature`` are
ignored. The assistant message's ``content`` is the answer with [n] markers; the citations ride
in one extra field, ``citations``, on the message (and on the last chunk's ``delta`` when
streaming), beside ``answer_kind`` (what the question asked for), so a client that ignores it still shows a clean answer.
With a language model configured (``RAG_LLM_URL``) the message (and the last delta) also says ``generated``, the
``model`` that wrote it and any ``notice`` and ``unsupported`` sentences, as ``/api/ask`` does; the content is
streamed once checked.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, stream_with_context

from rag.answerer import Answer
from rag.followup import MAX_TURNS, Turn
from rag.pipeline import valid_k
from rag.tokens import count_tokens

from .api import MAX_K, answer_pieces, current_assistant, json_object
from .errors import InvalidRequest

openai_door = Blueprint("openai", __name__, url_prefix="/v1")
CHAT_ROLES = ("user", "assistant")
IGNORED_ROLES = ("system", "developer")


@openai_door.get("/models")
def models() -> Response:
    """List the one model this server has: the index it serves."""
    return jsonify({"object": "list", "data": [_model()]})


@openai_door.get("/models/<path:name>")
def model(name: str) -> Response:
    """Describe the model ``name``, if it is the one served."""
    _check_model(name)
    return jsonify(_model())


@openai_door.post("/chat/completions")
def chat_completions() -> Response:
    """Answer the last user message from the articles, with citations; as chunks when ``stream`` is true."""
    body = json_object()
    _check_model(body.get("model"))
    question, history = _conversation(body.get("messages"))
    stream = _flag(body, "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object such as {\"include_usage\": true}.", "stream_options")
    n = body.get("n")
    if n is not None and (n != 1 or isinstance(n, bool)):
        raise InvalidRequest("Only one choice is made per request; leave 'n' out or set it to 1.", "n")
    k = current_app.config["K"] if body.get("k") is None else body["k"]
    if not valid_k(k):
        raise InvalidRequest(f"'k' must be a whole number from 1 to {MAX_K}.", "k")
    article = body.get("article")
    if article is not None and not isinstance(article, str):
        raise InvalidRequest("'article' must be an article id (a string).", "article")
    answer = current_assistant().ask(question, k, history, article)
    reply = _Reply(answer, f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), current_app.config["MODEL_NAME"],
                   _usage(question, history, answer.answer))
    if stream:
        return Response(stream_with_context(reply.chunks(_flag(options, "include_usage", "stream_options."))),
                        mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return jsonify(reply.completion())


class _Reply:
    """One answer in the shapes of the OpenAI API: a whole completion or its stream of chunks."""

    def __init__(self, answer: Answer, id: str, created: int, model: str, usage: dict[str, int]) -> None:
        self.answer, self.id, self.created, self.model, self.usage = answer, id, created, model, usage
        self.citations = [asdict(citation) for citation in answer.citations]
        self.writing = {"generated": answer.generated, "model": answer.model, "notice": answer.notice,
                        "unsupported": [asdict(span) for span in answer.unsupported],
                        "quotes_dropped": answer.quotes_dropped}

    def completion(self) -> dict[str, Any]:
        message = {"role": "assistant", "content": self.answer.answer, "refusal": None, "citations": self.citations,
                   "answer_kind": self.answer.answer_kind, **self.writing}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
                "usage": self.usage}

    def chunks(self, include_usage: bool) -> Iterator[str]:
        """Yield Server-Sent Events: the role, the answer in pieces, the citations with the finish, [DONE]."""
        yield self._chunk({"role": "assistant", "content": ""})
        for piece in answer_pieces(self.answer.answer):
            yield self._chunk({"content": piece})
        yield self._chunk({"citations": self.citations, "answer_kind": self.answer.answer_kind, **self.writing},
                          finish="stop")
        if include_usage:
            yield self._event({**self._head(), "choices": [], "usage": self.usage})
        yield "data: [DONE]\n\n"

    def _head(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        return self._event({**self._head(), "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    @staticmethod
    def _event(data: dict[str, Any]) -> str:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _model() -> dict[str, Any]:
    assistant = current_assistant()
    try:
        created = int(datetime.fromisoformat(assistant.index.manifest.built_at).timestamp())
    except ValueError:
        created = 0
    return {"id": current_app.config["MODEL_NAME"], "object": "model", "created": created, "owned_by": "rag-news"}


def _check_model(name: Any) -> None:
    served = current_app.config["MODEL_NAME"]
    if name is None:
        raise InvalidRequest(f"The field 'model' is required; this server's model is '{served}'.", "model")
    if name != served:
        shown = str(name)[:60] if isinstance(name, str) else type(name).__name__
        raise InvalidRequest(f"The model '{shown}' does not exist here; the model is '{served}' (see GET /v1/models).",
                             "model", "model_not_found", 404)


def _conversation(messages: Any) -> tuple[str, list[Turn]]:
    """Return the question (the last message, from the user) and the earlier user/assistant turns."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty list of {role, content} objects.", "messages")
    turns = []
    for number, message in enumerate(messages):
        where = f"messages[{number}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object with 'role' and 'content'.", where)
        role = message.get("role")
        if role not in CHAT_ROLES + IGNORED_ROLES:
            shown = repr(role[:30]) if isinstance(role, str) else "missing" if role is None else "not a string"
            raise InvalidRequest(f"The role of {where} is {shown}; use 'system', 'user' or 'assistant' "
                                 "(tool messages are not supported).", f"{where}.role")
        text = _text(message.get("content"), where, role)
        if role in CHAT_ROLES:
            turns.append(Turn(role, text))
    if not turns or turns[-1].role != "user":
        raise InvalidRequest("The last message must be the user's question.", "messages")
    return turns[-1].content, turns[:-1][-MAX_TURNS:]  # front ends resend the whole chat; the recent turns suffice


def _text(content: Any, where: str, role: str) -> str:
    """Return a message's text: a string, or the text parts of a list of content parts joined by newlines."""
    if isinstance(content, str):
        return content
    if content is None and role == "assistant":  # an assistant turn that only called tools
        return ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) and isinstance(part.get("type"), str) else "non-text"
                raise InvalidRequest(f"The content of {where} holds a {kind[:30]!r} part; only text is supported.",
                                     f"{where}.content")
            texts.append(part["text"])
        return "\n".join(texts)
    raise InvalidRequest(f"The content of {where} must be a string or a list of text parts.", f"{where}.content")


def _flag(body: dict[str, Any], name: str, prefix: str = "") -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{prefix}{name}' must be true or false.", f"{prefix}{name}")
    return value


def _usage(question: str, history: list[Turn], answer: str) -> dict[str, int]:
    """Count cl100k_base tokens of what was read and written (the closest thing to an LLM's usage)."""
    prompt = count_tokens(question) + sum(count_tokens(turn.content) for turn in history)
    completion = count_tokens(answer)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
