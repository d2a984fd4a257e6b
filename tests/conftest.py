"""Shared fixtures: every path and setting points at a temporary folder; the real model loads once."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export cache for the session (the first use of the model makes the export)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Path:
    """Run each test in its own folder with no RAG_* settings from the outside."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the default index lives in the user's data folder
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def embedder():
    from rag.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def bundled_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of the bundled article, built once for the session."""
    from rag.articles import bundled_article
    from rag.build import update_index
    from rag.settings import Settings

    folder = tmp_path_factory.mktemp("bundled") / "index"
    update_index([bundled_article()], folder, embedder, Settings(index_dir=folder))
    return folder


@pytest.fixture(scope="session")
def assistant(bundled_index_dir: Path, embedder):
    """An Assistant over the bundled article, sharing the session's model."""
    from rag.pipeline import Assistant
    from rag.settings import Settings

    return Assistant(Settings(index_dir=bundled_index_dir), build_missing=False, embedder=embedder)


@pytest.fixture(scope="session")
def kinds_assistant(tmp_path_factory: pytest.TempPathFactory, embedder):
    """An Assistant over three articles: the bundled one and two of tests/data/answer-kinds (museum, strike)."""
    from rag.articles import bundled_article, read_article
    from rag.build import update_index
    from rag.pipeline import Assistant
    from rag.settings import Settings

    folder = tmp_path_factory.mktemp("kinds") / "index"
    kinds = Path(__file__).parent / "data" / "answer-kinds"
    articles = [bundled_article(), read_article(kinds / "museum-returns.txt"), read_article(kinds / "port-strike.txt")]
    update_index(articles, folder, embedder, Settings(index_dir=folder))
    return Assistant(Settings(index_dir=folder), build_missing=False, embedder=embedder)


@pytest.fixture(scope="session")
def postgres():
    """A real Postgres 18 + pgvector for the session, on 127.0.0.1, in a folder of its own (see ``own_folder``)."""
    from engines import LocalPostgres, own_folder

    with own_folder("rag-test-postgres-") as folder:
        server = LocalPostgres(folder).init()
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture()
def database(postgres, request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database (with the vector extension) for this test."""
    name = "t_" + re.sub(r"\W+", "_", request.node.name.lower())[:50]
    return postgres.create_database(name)


@pytest.fixture(scope="session")
def ray_cluster():
    """A real two-node Ray cluster on 127.0.0.1 for the session (one CPU each)."""
    from engines import LocalRay, own_folder

    with own_folder("rag-test-ray-") as folder:
        cluster = LocalRay(folder)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def onnx_export(embedder, model_cache: Path) -> Path:
    """The query encoder's ONNX export in the session cache, so Assistants and replicas answer without torch."""
    from rag.embedder import export_onnx
    from rag.queryencoder import FORMAT, export_folder

    os.environ["RAG_CACHE_DIR"] = str(model_cache)
    folder = export_folder(embedder.model_id)
    if not (folder / "model.onnx").is_file():
        assert export_onnx(embedder, folder, FORMAT)
    return folder


MCP_BAD_CALLS = [  # (tool, arguments, words in the one-sentence tool error): the same through every transport
    ("ask", {"question": ""}, "The question is empty"),
    ("ask", {"question": "   \n\t "}, "The question is empty"),
    ("ask", {"question": "x" * 3000}, "characters long"),
    ("ask", {}, "The argument 'question' is required"),
    ("ask", {"question": 42}, "The argument 'question' must be text"),
    ("ask", {"question": ["who?"]}, "The argument 'question' must be text"),
    ("ask", {"question": "who met?", "k": 0}, "The argument 'k' must be a whole number from 1 to 50"),
    ("ask", {"question": "who met?", "k": "three"}, "The argument 'k' must be a whole number"),
    ("ask", {"question": "who met?", "k": True}, "The argument 'k' must be a whole number"),
    ("ask", {"question": "who met?", "k": 10 ** 12}, "The argument 'k' must be a whole number"),
    ("ask", {"question": "who met?", "article": "nope"}, "There is no article with id 'nope'"),
    ("ask", {"question": "who met?", "article": 7}, "The argument 'article' must be an article id"),
    ("search", {"query": ""}, "The question is empty"),
    ("search", {"query": "Brussels", "k": 51}, "The argument 'k' must be"),
    ("list_articles", {"limit": 0}, "The argument 'limit' must be"),
    ("list_articles", {"offset": "a"}, "The argument 'offset' must be"),
    ("delete_everything", {}, "There is no tool named 'delete_everything'; the tools are ask, search, list_articles"),
]


@pytest.fixture(scope="session")
def mcp_tour():
    """Return ``tour(session)``: list, call every tool, open the cited article, send bad input; for any transport.

    ``session`` is the SDK's ``ClientSession`` (after initialize) or its ``Client``; both have these methods.
    """
    from mcp import MCPError

    from rag.articles import bundled_article

    article = bundled_article()

    async def tour(session) -> dict:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert list(tools) == ["ask", "search", "list_articles"]
        for tool in tools.values():
            assert len(tool.description) > 200 and tool.output_schema and tool.title
            assert tool.annotations.read_only_hint and not tool.annotations.open_world_hint
        assert tools["ask"].input_schema["required"] == ["question"]
        assert set(tools["ask"].input_schema["properties"]) == {"question", "k", "article"}

        resources = (await session.list_resources()).resources
        assert [(str(r.uri), r.title, r.mime_type) for r in resources] == [
            (f"article://{article.doc_id}", article.title, "text/plain")]
        templates = (await session.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["article://{doc_id}"]

        listed = (await session.call_tool("list_articles", {})).structured_content
        assert listed["total"] == 1 and listed["articles"][0]["doc_id"] == article.doc_id

        result = await session.call_tool("ask", {"question": "who chaired the Paris meeting?", "k": 2})
        assert not result.is_error
        answer = result.structured_content
        assert answer["found"] and "Le Drian" in answer["answer"] and "[1]" in answer["answer"]
        assert [c["n"] for c in answer["citations"]] == [1, 2]
        assert answer["answer_kind"] in ("fact", "list")
        assert json.loads(result.content[0].text) == answer  # a client that reads only text sees the same
        summary = (await session.call_tool("ask", {"question": "Give me the gist"})).structured_content
        assert summary["answer_kind"] == "overview" and len(summary["citations"]) == 3
        assert all(article.text[c["start"]:c["end"]] == c["text"] for c in summary["citations"])
        opened = {}
        for citation in answer["citations"]:
            contents = (await session.read_resource(citation["uri"])).contents
            assert contents[0].mime_type == "text/plain"
            opened[citation["uri"]] = contents[0].text
            assert opened[citation["uri"]][citation["start"]:citation["end"]] == citation["text"]
        assert opened[f"article://{article.doc_id}"] == article.text

        limited = (await session.call_tool("ask", {"question": "who chaired the Paris meeting?",
                                                   "article": article.doc_id})).structured_content
        assert limited["found"] and {c["doc_id"] for c in limited["citations"]} == {article.doc_id}
        not_said = (await session.call_tool("ask", {"question": "What did the mayor of Lyon eat for lunch?"}))
        assert not not_said.is_error and not_said.structured_content["found"] is False

        found = (await session.call_tool("search", {"query": "Brussels meeting in three weeks", "k": 3}))
        passages = found.structured_content["passages"]
        assert [p["rank"] for p in passages] == [1, 2, 3] and "Brussels" in passages[0]["text"]
        for passage in passages:
            assert article.text[passage["start"]:passage["end"]] == passage["text"]

        for name, arguments, words in MCP_BAD_CALLS:
            failed = await session.call_tool(name, arguments)
            message = failed.content[0].text
            assert failed.is_error and words in message, (name, arguments, message)
            assert message.endswith(".") and "\n" not in message and "Error executing" not in message
        with pytest.raises(MCPError, match="There is no article with id 'nope'"):
            await session.read_resource("article://nope")

        again = await session.call_tool("ask", {"question": "Where will the 27 defense ministers meet?"})
        assert not again.is_error and "Brussels" in again.structured_content["answer"]  # still serving
        return answer

    return tour
