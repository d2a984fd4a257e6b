"""The OpenAI-compatible door under the Procfile's gunicorn, driven by the official ``openai`` SDK.

``OpenAI(base_url=..., api_key=...)`` exactly as a script would use it: plain and streamed completions,
a follow-up that leans on the history, the models list, and every error as the SDK's own exception.
"""
from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from rag.articles import bundled_article
from rag.tokens import count_tokens

QUESTION = "who chaired the Paris meeting?"
ARTICLE = bundled_article()


@pytest.fixture(scope="module")
def sdk(procfile_server) -> OpenAI:
    return OpenAI(base_url=f"{procfile_server.url}/v1", api_key=procfile_server.key, max_retries=0, timeout=60)


def ask(sdk: OpenAI, content: str = QUESTION, **options):  # type: ignore[no-untyped-def]
    return sdk.chat.completions.create(model="rag-news", messages=[{"role": "user", "content": content}], **options)


def test_models_list_and_retrieve(sdk: OpenAI):
    assert [model.id for model in sdk.models.list()] == ["rag-news"]
    model = sdk.models.retrieve("rag-news")
    assert model.object == "model" and model.created > 1_700_000_000 and model.owned_by == "rag-news"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"


def test_plain_completion_quotes_the_article_with_markers_and_citations(sdk: OpenAI):
    completion = ask(sdk)
    assert completion.object == "chat.completion" and completion.model == "rag-news"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "Le Drian" in choice.message.content and "[1]" in choice.message.content
    citations = choice.message.citations  # the documented extra fields
    assert choice.message.answer_kind in ("fact", "list")
    assert [citation["n"] for citation in citations] == [1, 2, 3]
    for citation in citations:
        assert ARTICLE.text[citation["start"]:citation["end"]] == citation["text"]
        assert citation["doc_id"] == ARTICLE.doc_id and citation["title"] == ARTICLE.title
    assert completion.usage.completion_tokens > 10 and completion.usage.prompt_tokens == count_tokens(QUESTION)
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_streamed_completion_is_the_plain_one_in_chunks(sdk: OpenAI):
    plain = ask(sdk)
    chunks = list(ask(sdk, stream=True, stream_options={"include_usage": True}))
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"} and len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == plain.choices[0].message.content and len(chunks) > 5
    finished = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert len(finished) == 1 and finished[0].choices[0].finish_reason == "stop"
    assert finished[0].choices[0].delta.citations == plain.choices[0].message.citations
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert all(chunk.usage is None for chunk in chunks[:-1])

    with sdk.chat.completions.stream(model="rag-news", messages=[{"role": "user", "content": QUESTION}]) as stream:
        final = stream.get_final_completion()  # the SDK's own accumulator keeps the extra field
    assert final.choices[0].message.content == plain.choices[0].message.content
    assert final.choices[0].message.citations == plain.choices[0].message.citations


def test_a_follow_up_uses_the_earlier_turns(sdk: OpenAI):
    alone = ask(sdk, "When?")
    assert alone.choices[0].message.content == "The article doesn't say." and alone.choices[0].message.citations == []
    first = ask(sdk, "Where will the 27 defense ministers meet?")
    follow_up = sdk.chat.completions.create(model="rag-news", messages=[
        {"role": "system", "content": "You are a helpful assistant."},  # accepted and ignored
        {"role": "user", "content": "Where will the 27 defense ministers meet?"},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "When?"}]},
    ])
    assert "three weeks" in follow_up.choices[0].message.content


def test_extra_body_k_and_article(sdk: OpenAI):
    one = ask(sdk, extra_body={"k": 1, "article": ARTICLE.doc_id})
    assert len(one.choices[0].message.citations) == 1


@pytest.mark.parametrize("request_options, error, param, words", [
    ({"model": "gpt-4o"}, openai.NotFoundError, "model", "The model 'gpt-4o' does not exist here"),
    ({"messages": []}, openai.BadRequestError, "messages", "non-empty list"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, openai.BadRequestError, "messages[0].role", "'robot'"),
    ({"messages": [{"role": "tool", "content": "42", "tool_call_id": "x"}]}, openai.BadRequestError,
     "messages[0].role", "tool messages are not supported"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
     openai.BadRequestError, "messages", "The last message must be the user's question"),
    ({"messages": [{"role": "user", "content": ""}]}, openai.BadRequestError, None, "The question is empty"),
    ({"messages": [{"role": "user", "content": "x" * 3000}]}, openai.BadRequestError, None, "characters long"),
    ({"messages": [{"role": "user", "content": "x" * 100_000}]}, openai.APIStatusError, None, "too large"),
    ({"messages": [{"role": "user", "content": 42}]}, openai.BadRequestError, "messages[0].content", "a string"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]},
     openai.BadRequestError, "messages[0].content", "'image_url' part; only text"),
    ({"messages": ["who met?"]}, openai.BadRequestError, "messages[0]", "must be an object"),
    ({"n": 2}, openai.BadRequestError, "n", "Only one choice"),
    ({"extra_body": {"k": "3"}}, openai.BadRequestError, "k", "'k' must be a whole number"),
    ({"extra_body": {"k": 0}}, openai.BadRequestError, "k", "'k' must be a whole number"),
    ({"extra_body": {"article": "nope"}}, openai.NotFoundError, None, "no article with id 'nope'"),
    ({"extra_body": {"stream_options": "yes"}}, openai.BadRequestError, "stream_options", "must be an object"),
])
def test_every_error_is_an_openai_error_object(sdk: OpenAI, request_options: dict, error: type, param, words: str):
    arguments = {"model": "rag-news", "messages": [{"role": "user", "content": QUESTION}], **request_options}
    with pytest.raises(error) as caught:
        sdk.chat.completions.create(**arguments)
    failure = caught.value
    assert 400 <= failure.status_code < 500 and failure.param == param and failure.type == "invalid_request_error"
    assert words in failure.message and failure.message.endswith(".") and "\n" not in failure.message
    assert [model.id for model in sdk.models.list()] == ["rag-news"]  # still serving


def test_a_wrong_key_is_refused(procfile_server):
    intruder = OpenAI(base_url=f"{procfile_server.url}/v1", api_key="guess", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        ask(intruder)
    assert caught.value.code == "invalid_api_key" and "API key" in caught.value.message
    with pytest.raises(openai.AuthenticationError):
        intruder.models.list()


@pytest.mark.parametrize("send, status, words", [
    (lambda c: c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}), 400,
     "'model' is required"),
    (lambda c: c.post("/v1/chat/completions", json={"model": "rag-news"}), 400, "non-empty list"),
    (lambda c: c.post("/v1/chat/completions", data="{not json", content_type="application/json"), 400, "not valid JSON"),
    (lambda c: c.post("/v1/chat/completions", data="hi", content_type="text/plain"), 415, "Content-Type"),
    (lambda c: c.post("/v1/chat/completions", json=["rag-news"]), 400, "JSON object"),
    (lambda c: c.post("/v1/chat/completions", json={"model": "rag-news", "stream": "yes",
                                                    "messages": [{"role": "user", "content": "hi"}]}), 400, "'stream'"),
    (lambda c: c.post("/v1/chat/completions", json={"model": ["rag-news"], "messages": []}), 404, "'list'"),
    (lambda c: c.get("/v1/chat/completions"), 405, "not allowed"),
    (lambda c: c.get("/v1/embeddings"), 404, "no such"),
])
def test_malformed_requests_in_the_openai_shape(client, send, status: int, words: str):
    response = send(client)
    assert response.status_code == status and response.is_json
    error = response.get_json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert words in error["message"] and "\n" not in error["message"]


def test_a_summary_through_the_openai_client(sdk: OpenAI):
    completion = sdk.chat.completions.create(model="rag-news",
                                             messages=[{"role": "user", "content": "What is this article about?"}])
    message = completion.choices[0].message
    assert message.answer_kind == "overview" and len(message.citations) == 3
    for citation in message.citations:
        assert ARTICLE.text[citation["start"]:citation["end"]] == citation["text"]
        assert f"{citation['text']} [{citation['n']}]" in message.content
