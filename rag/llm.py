"""LLM: ask an OpenAI-compatible server (llama.cpp, Ollama, vLLM, OpenAI) to write an answer from numbered passages.

The model gets the question, the recent conversation and the passages, and is asked for JSON (``response_format``
with a JSON schema): whether the passages answer, the answer with ``[n]`` markers, and for each marker the passage
number and a short verbatim quote. A server that refuses the schema is asked again for free text with quotes in
double quotes before each ``[passage]`` marker, and a reply that is not the JSON asked for is read as such free
text. What comes back is a ``Draft``: claims, not citations. Nothing here checks a quote (``rag.grounding`` does);
any failure to get a readable draft (unreachable, too slow, an error status, a refusal, HTML, an empty reply)
raises ``WriterError`` with one sentence that can be shown to a person. Only the configured URL is contacted
(proxy variables are ignored) and the API key is never printed.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .followup import Turn
from .settings import Settings

OnText = Callable[[str], None]
HISTORY_TURNS = 6  # the recent conversation the model sees
HISTORY_CHARS = 1500  # of each turn
MAX_TOKENS = 500  # an answer of a few sentences and their quotes

SYSTEM = (
    "You answer questions about news articles using only the numbered passages you are given. "
    "Every sentence of your answer ends with a marker such as [1], and every marker has a citation: the number "
    "of the passage and a short quote copied word for word from that passage that supports the sentence. "
    "Never cite what a passage does not say. If the passages do not answer the question, set found to false and "
    "leave the answer empty.")
SYSTEM_FREE_TEXT = (
    "You answer questions about news articles using only the numbered passages you are given. In every "
    "sentence, copy the words that support it from a passage in double quotes, followed by that passage's "
    "number in brackets, for example: The ministers \"agreed to meet again in June\" [2]. "
    "If the passages do not answer the question, reply only: NOT FOUND")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "found": {"type": "boolean"},
        "answer": {"type": "string"},
        "citations": {"type": "array", "items": {
            "type": "object",
            "properties": {"marker": {"type": "integer"}, "passage": {"type": "integer"}, "quote": {"type": "string"}},
            "required": ["marker", "passage", "quote"], "additionalProperties": False}},
    },
    "required": ["found", "answer", "citations"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Source:
    """A passage as the model sees it: ``[number] title (source)`` and its text."""

    number: int
    title: str
    source: str
    text: str


@dataclass(frozen=True)
class Claim:
    """What the model says marker ``[marker]`` rests on: ``quote``, copied (it says) from passage ``passage``."""

    marker: int
    passage: int
    quote: str


@dataclass(frozen=True)
class Draft:
    """The model's answer as written: its text with ``[n]`` markers and the claims behind them."""

    model: str
    found: bool
    answer: str
    claims: tuple[Claim, ...]


class WriterError(Exception):
    """No readable draft came back; the message is one sentence for a person."""


class Writer(Protocol):
    """Something that drafts an answer from numbered passages."""

    def write(self, question: str, history: Sequence[Turn], sources: Sequence[Source],
              on_text: OnText | None = None) -> Draft: ...


class OpenAIWriter:
    """Drafts answers with a chat model behind an OpenAI-compatible ``base_url``, through the ``openai`` SDK."""

    def __init__(self, url: str, model: str = "", api_key: str = "", timeout: float = 60.0) -> None:
        import openai

        self.url, self.timeout, self._model = url, timeout, model
        self._structured = True  # until the server refuses the JSON schema
        # trust_env=False: no proxy from the environment; requests go to ``url`` and nowhere else.
        self._client = openai.OpenAI(base_url=url, api_key=api_key or "no-key", max_retries=0,
                                     timeout=openai.Timeout(timeout, connect=min(timeout, 10.0)),
                                     http_client=openai.DefaultHttpxClient(trust_env=False))

    def close(self) -> None:
        """Close the connections to the server."""
        self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIWriter(url={self.url!r}, model={self._model!r})"  # never the key

    @property
    def model(self) -> str:
        """The model's name: the configured one, else the first the server lists (asked once)."""
        if not self._model:
            self._model = self._call(lambda: self._client.models.list().data[0].id)
        return self._model

    def write(self, question: str, history: Sequence[Turn], sources: Sequence[Source],
              on_text: OnText | None = None) -> Draft:
        """Ask the model for an answer; raise WriterError when none readable comes back in time."""
        deadline = time.monotonic() + self.timeout
        model = self.model
        if self._structured:
            try:
                return self._draft(model, True, question, history, sources, on_text, deadline)
            except _SchemaRefused:
                self._structured = False
        return self._draft(model, False, question, history, sources, on_text, deadline)

    def _draft(self, model: str, structured: bool, question: str, history: Sequence[Turn],
               sources: Sequence[Source], on_text: OnText | None, deadline: float) -> Draft:
        options: dict[str, Any] = {}
        if structured:
            options["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": "cited_answer", "strict": True, "schema": SCHEMA}}
        messages = prompt(question, history, sources, SYSTEM if structured else SYSTEM_FREE_TEXT)

        def stream() -> str:
            pieces: list[str] = []
            shown = _AnswerField() if structured else None
            with self._client.chat.completions.create(model=model, messages=messages, stream=True, temperature=0,
                                                      max_tokens=MAX_TOKENS, **options) as chunks:
                if "html" in chunks.response.headers.get("content-type", ""):  # a proxy's or a portal's web page
                    raise WriterError("The language model's reply could not be read, so this answer is extractive.")
                for chunk in chunks:
                    if time.monotonic() > deadline:  # a server that trickles is as slow as one that is silent
                        raise self._too_slow()
                    for choice in getattr(chunk, "choices", None) or ():
                        delta = choice.delta
                        if getattr(delta, "refusal", None):
                            raise WriterError("The language model refused to answer, so this answer is extractive.")
                        if delta.content:
                            pieces.append(delta.content)
                            text = delta.content if shown is None else shown.feed(delta.content)
                            if on_text and text:
                                on_text(text)
            return "".join(pieces)

        return read_reply(model, self._call(stream, structured))

    def _too_slow(self) -> WriterError:
        return WriterError(f"The language model did not answer within {self.timeout:g} s, "
                           "so this answer is extractive.")

    def _call(self, run: Callable[[], Any], structured: bool = False) -> Any:
        """Run one SDK call, turning its failures into WriterError (or _SchemaRefused for the schema)."""
        import openai

        try:
            return run()
        except openai.APITimeoutError:
            raise self._too_slow() from None
        except openai.APIConnectionError:
            raise WriterError("The language model could not be reached, so this answer is extractive.") from None
        except openai.APIStatusError as error:
            if structured and error.status_code in (400, 422, 500, 501) and \
                    re.search(r"response_format|json_schema|schema|grammar", str(error.message), re.IGNORECASE):
                raise _SchemaRefused() from None
            raise WriterError(f"The language model answered with an error (HTTP {error.status_code}), "
                              "so this answer is extractive.") from None
        except (WriterError, _SchemaRefused):
            raise
        except Exception:  # an unreadable reply: HTML, broken events, a listing without models
            raise WriterError("The language model's reply could not be read, so this answer is extractive.") from None


def writer_from_settings(settings: Settings) -> OpenAIWriter | None:
    """Return the writer the settings configure (``RAG_LLM_URL``...), or None for extractive answers only."""
    if not settings.llm_url:
        return None
    return OpenAIWriter(settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout)


class _SchemaRefused(Exception):
    """The server does not take ``response_format`` with a JSON schema."""


def prompt(question: str, history: Sequence[Turn], sources: Sequence[Source], system: str) -> list[dict[str, str]]:
    """Return the chat messages: the instructions, the recent conversation, then the passages and the question."""
    messages = [{"role": "system", "content": system}]
    for turn in list(history)[-HISTORY_TURNS:]:
        if turn.content.strip():
            messages.append({"role": turn.role, "content": turn.content[:HISTORY_CHARS]})
    passages = "\n\n".join(f"[{s.number}] {s.title} ({s.source})\n{s.text}" for s in sources)
    messages.append({"role": "user", "content": f"Passages:\n\n{passages}\n\nQuestion: {question}"})
    return messages


_MARKER = re.compile(r"\[(\d{1,3})\]")
_QUOTED = re.compile(r"[\"\u201c]([^\"\u201c\u201d]{3,}?)[\"\u201d]")
_SENTENCE_END = re.compile(r"(?<=[.!?])((?:\s*\[\d{1,3}\])*)\s+|\s*\n\s*")


def read_reply(model: str, content: str) -> Draft:
    """Read the model's reply: the JSON asked for, else free text with quotes before ``[passage]`` markers."""
    text = content.strip()
    if not text:
        raise WriterError("The language model returned an empty reply, so this answer is extractive.")
    if text.lstrip("\ufeff").startswith("<"):
        raise WriterError("The language model's reply could not be read, so this answer is extractive.")
    structured = _structured(text)
    if structured is not None:
        found, answer, claims = structured
        return Draft(model, found and bool(answer.strip()), answer.strip(), claims)
    if re.match(r"NOT FOUND\b", text, re.IGNORECASE):
        return Draft(model, False, "", ())
    return Draft(model, True, text, free_text_claims(text))


def _structured(text: str) -> tuple[bool, str, tuple[Claim, ...]] | None:
    """Return (found, answer, claims) from the JSON reply, or None when it is not that JSON."""
    try:
        reply = json.loads(text)
    except ValueError:
        return None
    if not isinstance(reply, dict) or not isinstance(reply.get("answer"), str):
        return None
    claims = []
    for item in reply.get("citations") or ():
        if isinstance(item, dict) and isinstance(item.get("quote"), str) \
                and all(isinstance(item.get(key), int) and not isinstance(item.get(key), bool)
                        for key in ("marker", "passage")):
            claims.append(Claim(item["marker"], item["passage"], item["quote"]))
    return reply.get("found") is not False, reply["answer"], tuple(claims)


def free_text_claims(text: str) -> tuple[Claim, ...]:
    """Return the claims of a free-text answer: each ``[n]`` marker cites passage n with the quoted words before
    it in its sentence, else with the sentence itself (which then must be a verbatim copy).

    Example: 'They "met in Paris" [2].' -> (Claim(2, 2, 'met in Paris'),)
    """
    claims = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        before = 0
        for marker in _MARKER.finditer(sentence):
            quotes = _QUOTED.findall(sentence[before:marker.start()])
            own = re.sub(r"\s*\[\d{1,3}\]", "", sentence).strip()
            for quote in quotes or [own]:
                claims.append(Claim(int(marker.group(1)), int(marker.group(1)), quote))
            before = marker.end()
    return tuple(claims)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each sentence of ``text``; markers after a full stop stay with its sentence.

    Example: 'A b [1]. C d. [2] E' -> [(0, 8), (9, 17), (18, 19)]
    """
    spans, start = [], 0
    for cut in _SENTENCE_END.finditer(text):
        end = cut.start() if cut.group(1) is None else cut.end(1)
        if text[start:end].strip():
            spans.append((start, end))
        start = cut.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


class _AnswerField:
    """Pull the ``answer`` string out of a JSON reply as it streams in: feed chunks, get newly decoded text."""

    _START = re.compile(r'"answer"\s*:\s*"')

    def __init__(self) -> None:
        self.raw, self.start, self.shown, self.closed = "", -1, 0, False

    def feed(self, chunk: str) -> str:
        self.raw += chunk
        if self.closed:
            return ""
        if self.start < 0:
            match = self._START.search(self.raw)
            if match is None:
                return ""
            self.start = match.end()
        body, escaped = self.raw[self.start:], False
        for at, char in enumerate(body):
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                body, self.closed = body[:at], True
                break
        decoded = _decode_prefix(body)
        new, self.shown = decoded[self.shown:], max(self.shown, len(decoded))
        return new


def _decode_prefix(body: str) -> str:
    """Decode the longest prefix of a JSON string's body that ends outside an escape sequence."""
    for cut in range(len(body), max(len(body) - 12, -1), -1):
        try:
            return json.loads(f'"{body[:cut]}"')
        except ValueError:
            continue
    return ""
