"""An LLM writes the answer through our real pipeline; a scripted OpenAI-compatible server on loopback stands in
for the model, so each outcome (a kept quote, a made-up one, a decline, a timeout, garbage) is known."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llm_stub import MODEL, Reply, ScriptedLLM, cited, passages
from rag.answerer import NOT_FOUND
from rag.articles import bundled_article
from rag.followup import Turn
from rag.grounding import NOTHING_FOUND
from rag.llm import OpenAIWriter
from rag.settings import Settings

QUESTION = "who chaired the Paris meeting?"
ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def llm():
    with ScriptedLLM() as stub:
        yield stub


@pytest.fixture(scope="module")
def writing(bundled_index_dir: Path, embedder, llm):
    """An Assistant over the bundled article whose answers the scripted server writes (1.5 s to answer)."""
    from rag.pipeline import Assistant

    assistant = Assistant(Settings(index_dir=bundled_index_dir, llm_url=llm.url, llm_model=MODEL, llm_timeout=1.5),
                          build_missing=False, embedder=embedder)
    yield assistant
    assistant.writer.close()


@pytest.fixture(scope="module")
def extractive(assistant):
    """The answer without a model."""
    return assistant.ask(QUESTION)


@pytest.fixture(autouse=True)
def fresh(llm):
    llm.requests.clear()
    yield


def first_words(text: str, count: int = 8) -> str:
    return " ".join(text.split()[:count])


def check_verbatim(answer) -> None:
    article = bundled_article()
    for citation in answer.citations:
        assert article.text[citation.start:citation.end] == citation.text


def test_a_valid_quote_is_kept_a_made_up_one_dropped_and_the_bare_sentence_marked(writing, llm) -> None:
    def script(body):
        quote = first_words(passages(body)[1])
        return Reply(cited("The meeting was co-chaired [1]. The ministers flew to the Moon [2]. They smiled.",
                           [(1, 1, quote), (2, 1, "the ministers flew to the Moon on Tuesday")]))
    llm.script = script
    answer = writing.ask(QUESTION)
    assert answer.generated and answer.found and answer.model == MODEL and answer.notice is None
    assert answer.answer == "The meeting was co-chaired [1]. The ministers flew to the Moon. They smiled."
    assert [c.n for c in answer.citations] == [1] and answer.quotes_dropped == 1
    assert " ".join(answer.citations[0].text.split()) == first_words(passages(llm.chats[0].body)[1])
    check_verbatim(answer)
    assert [answer.answer[s.start:s.end] for s in answer.unsupported] == ["The ministers flew to the Moon.",
                                                                          "They smiled."]
    assert answer.sure is False and answer.timings_ms["llm"] > 0


def test_quotes_with_other_spacing_and_quote_marks_become_the_articles_own_characters(writing, llm) -> None:
    def script(body):
        text = next(t for t in passages(body).values() if '"' in t)
        start = text.index('"')
        quote = text[start:start + 60].replace('"', "\u201c", 1).replace(" ", "  \n", 2)
        return Reply(cited("The countries said so [3].", [(3, list(passages(body).values()).index(text) + 1,
                                                            quote)]))
    llm.script = script
    answer = writing.ask("What did the seven countries say in their joint statement?")
    assert answer.generated and len(answer.citations) == 1 and answer.quotes_dropped == 0
    assert answer.citations[0].text.startswith('"') and answer.answer == "The countries said so [1]."
    check_verbatim(answer)


def test_a_quote_from_another_passage_than_the_one_named_is_dropped(writing, llm) -> None:
    def script(body):
        found = passages(body)
        return Reply(cited("Said [1]. Also [2].", [(1, 1, first_words(found[1])), (2, 1, first_words(found[2]))]))
    llm.script = script
    answer = writing.ask(QUESTION)
    assert answer.quotes_dropped == 1 and len(answer.citations) == 1 and answer.answer == "Said [1]. Also."


def test_when_no_quote_survives_the_extractive_answer_is_shown_with_a_notice(writing, extractive, llm) -> None:
    llm.script = lambda body: Reply(cited("Ash Carter ran it alone [1].", [(1, 1, "Ash Carter ran it alone")]))
    answer = writing.ask(QUESTION)
    assert not answer.generated and answer.notice == NOTHING_FOUND and answer.quotes_dropped == 1
    assert (answer.answer, answer.citations) == (extractive.answer, extractive.citations)


def test_a_decline_is_a_decline(writing, llm) -> None:
    llm.script = lambda body: Reply(cited("", [], found=False))
    answer = writing.ask(QUESTION)
    assert (answer.answer, answer.found, answer.citations) == (NOT_FOUND, False, ())
    assert answer.generated and answer.model == MODEL and answer.notice is None


@pytest.mark.parametrize("reply, notice", [
    (Reply(delay=3.0), "did not answer within 1.5 s"),
    (Reply(cited("slow " * 40, []), piece=4, pause=0.1), "did not answer within 1.5 s"),  # trickles past it
    (Reply(html=True), "could not be read"),
    (Reply("{\"found\": tr!!}}} \x00 garbage"), "cited nothing|quotes were found"),
    (Reply("   "), "empty reply"),
    (Reply(status=500, error="model crashed"), "error (HTTP 500)"),
    (Reply(status=401, error="bad key"), "error (HTTP 401)"),
    (Reply(refusal="I can't help with that."), "refused"),
])
def test_a_failing_model_leaves_the_extractive_answer_and_one_sentence(writing, extractive, llm, reply,
                                                                       notice) -> None:
    llm.script = lambda body: reply
    answer = writing.ask(QUESTION)
    assert not answer.generated and answer.model is None
    assert any(words in answer.notice for words in notice.split("|")), answer.notice
    assert answer.notice.endswith(".") and answer.notice.count(". ") == 0
    assert (answer.answer, answer.citations, answer.found) == (extractive.answer, extractive.citations, True)
    if reply.delay:  # the next question is answered at once: nothing waits for the slow one
        llm.script = lambda body: Reply(cited("", [], found=False))
        assert writing.ask("Where will the 27 defense ministers meet?").generated


def test_an_unreachable_model_leaves_the_extractive_answer(bundled_index_dir: Path, embedder, monkeypatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    from rag.pipeline import Assistant

    lonely = Assistant(Settings(index_dir=bundled_index_dir, llm_url=f"http://127.0.0.1:{closed}/v1",
                                llm_model="m"), build_missing=False, embedder=embedder)
    answer = lonely.ask(QUESTION)
    lonely.writer.close()
    assert answer.found and not answer.generated
    assert answer.notice == "The language model could not be reached, so this answer is extractive."


def test_an_off_topic_question_is_declined_without_asking_the_model(writing, llm) -> None:
    answer = writing.ask("What did the mayor of Lyon eat for lunch?")
    assert not answer.found and not answer.generated and llm.chats == []


def test_the_model_sees_the_question_the_conversation_and_numbered_passages(writing, llm) -> None:
    seen = []
    llm.script = lambda body: (seen.append(body), Reply(cited("", [], found=False)))[1]
    writing.ask("When will they meet again?", history=[Turn("user", "Where will the defense ministers meet?"),
                                                        Turn("assistant", "In Brussels [1].")])
    body = seen[0]
    assert body["model"] == MODEL and body["stream"] is True and body["temperature"] == 0
    assert body["response_format"]["type"] == "json_schema"
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert body["messages"][1]["content"] == "Where will the defense ministers meet?"
    prompt = body["messages"][-1]["content"]
    assert prompt.endswith("Question: When will they meet again?")
    numbered = passages(body)
    assert 1 <= len(numbered) <= 4 and list(numbered) == list(range(1, len(numbered) + 1))
    title = bundled_article().title
    assert f"[1] {title} (" in prompt
    assert all(text in bundled_article().text for text in numbered.values())


def test_the_answer_text_streams_as_the_model_writes(writing, llm) -> None:
    def script(body):
        return Reply(cited("The meeting [1] was co-chaired.", [(1, 1, first_words(passages(body)[1]))]), piece=3)
    llm.script = script
    pieces: list[str] = []
    answer = writing.ask(QUESTION, on_text=pieces.append)
    assert len(pieces) > 3 and "".join(pieces) == "The meeting [1] was co-chaired."
    assert answer.generated and answer.answer == "The meeting [1] was co-chaired."


def test_a_server_without_json_schema_is_asked_for_free_text(writing, llm, monkeypatch) -> None:
    def script(body):
        if "response_format" in body:
            return Reply(status=400, error="response_format json_schema is not supported")
        quote = first_words(passages(body)[1])
        return Reply(f'The plan was presented: "{quote}" [1]. Nothing else.')
    llm.script = script
    free_text = OpenAIWriter(llm.url, MODEL, timeout=1.5)
    monkeypatch.setattr(writing, "writer", free_text)
    answer = writing.ask(QUESTION)
    assert answer.generated and len(answer.citations) == 1 and answer.quotes_dropped == 0
    assert [("response_format" in r.body) for r in llm.chats] == [True, False]
    check_verbatim(answer)
    writing.ask(QUESTION)  # remembered: the next question goes straight to free text
    assert [("response_format" in r.body) for r in llm.chats] == [True, False, False]
    free_text.close()


def test_without_a_model_name_the_first_listed_is_used(bundled_index_dir: Path, embedder, llm) -> None:
    from rag.pipeline import Assistant

    llm.script = lambda body: Reply(cited("", [], found=False))
    unnamed = Assistant(Settings(index_dir=bundled_index_dir, llm_url=llm.url), build_missing=False,
                        embedder=embedder)
    assert unnamed.ask(QUESTION).model == MODEL
    unnamed.writer.close()
    assert [r.path for r in llm.requests] == ["/v1/models", "/v1/chat/completions"]


def test_ask_llm_sends_the_key_only_to_the_configured_server_and_never_prints_it(bundled_index_dir: Path, llm,
                                                                                  model_cache: Path) -> None:
    secret = "sk-test-0123456789-never-print-me"
    llm.script = lambda body: Reply(cited("Co-chaired [1].", [(1, 1, first_words(passages(body)[1]))]))
    env = {**os.environ, "RAG_LLM_API_KEY": secret, "RAG_CACHE_DIR": str(model_cache), "OPENAI_LOG": "debug",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "rag", "ask", "--index", str(bundled_index_dir), "--llm", llm.url,
                          "--llm-model", MODEL, "--json", QUESTION], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["generated"] and answer["model"] == MODEL and answer["citations"]
    assert secret not in run.stdout + run.stderr
    assert [r.headers.get("authorization") for r in llm.chats] == [f"Bearer {secret}"]  # the proxy was not used
    writer = OpenAIWriter(llm.url, "m", secret)
    assert secret not in repr(Settings(llm_api_key=secret)) and secret not in repr(writer)
    writer.close()



def test_ask_llm_says_which_model_wrote_the_answer(bundled_index_dir: Path, llm, capsys) -> None:
    from rag.cli import ask_main

    llm.script = lambda body: Reply(cited("Co-chaired [1]. Nobody else.", [(1, 1, first_words(passages(body)[1]))]))
    assert ask_main(["--index", str(bundled_index_dir), "--llm", llm.url, QUESTION]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("Co-chaired [1]. Nobody else.\n(written by scripted-model; every quote checked against "
                            "the article; 1 sentence(s) without a source)\n\n[1] ")


@pytest.mark.parametrize("argv, words", [
    (["--llm", "ftp://127.0.0.1/v1"], "The LLM URL must start with http:// or https://"),
    (["--llm", "127.0.0.1:8080"], "The LLM URL must start with http:// or https://"),
])
def test_a_bad_llm_url_is_one_sentence(argv: list[str], words: str, capsys) -> None:
    from rag.cli import ask_main

    assert ask_main([*argv, QUESTION]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "nan", "1e9"])
def test_a_bad_llm_timeout_is_refused(raw: str) -> None:
    from rag.errors import InputError

    with pytest.raises(InputError, match="RAG_LLM_TIMEOUT|The LLM timeout"):
        Settings.from_env({"RAG_LLM_URL": "http://127.0.0.1:1/v1", "RAG_LLM_TIMEOUT": raw})
