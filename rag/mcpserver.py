"""MCP front door: the tools ``ask``, ``search`` and ``list_articles`` and one resource per article.

``make_server(assistant)`` returns an ``MCPServer`` (the official ``mcp`` SDK's FastMCP API)
over a loaded ``Assistant``; ``rag mcp`` serves it over stdio and the web app over Streamable
HTTP at ``/mcp``. It reads arguments, calls the library and shapes the result: no retrieval
or answer logic here. Every failure reaches the client as a tool error of one plain sentence.
"""
from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp.types import CallToolResult, Resource, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from .errors import RagError
from .pipeline import Assistant
from .search import MAX_K, search

ARTICLE_URI = "article://{doc_id}"
LISTED_RESOURCES = 1000  # resources/list names at most this many articles; list_articles pages through all

INSTRUCTIONS = (
    "This server answers questions about a fixed collection of news articles, using only the articles' own "
    "words. Call `ask` for an answer with verbatim citations, `search` to see the best-matching passages, "
    "and `list_articles` to see what the collection holds. When `ask` returns found=false the articles do not "
    "say: tell the user so rather than guessing. Each citation's `uri` is a resource with the article's full "
    "text, in which characters start..end are exactly the quoted text."
)

ASK = (
    "Answer a question about the indexed news articles from the articles' own text, with citations.\n\n"
    "Returns `answer` (the quoted supporting sentence(s) with markers [1], [2], preceded by a short answer "
    "when one stands out), `short_answer` (a few words, or null), `found` (false when the articles do not "
    "say; then do not guess), `sure` (false when found but the reader is unsure: say the articles may not "
    "answer it), `answer_kind` (fact, overview, quote, list, explanation or yesno: what the question asked "
    "for; 'Summarize the article' gets an overview of cited sentences) and `citations`: for each marker n, the article (`doc_id`, `title`, `source`, "
    "`uri`) and the exact quoted `text`, which is characters `start`..`end` of the article text at `uri`. "
    "Quote or link these rather than paraphrasing when precision matters.\n\n"
    "Ask one self-contained question at a time: for a follow-up, repeat the subject ('When will the "
    "defense ministers meet in Brussels?', not 'When?'). `k` is how many sentences to cite at most "
    f"(1-{MAX_K}, default 3). `article` limits the answer to one article id from `list_articles`."
)

SEARCH = (
    "Find the passages of the indexed news articles that best match a query, best first, without composing "
    "an answer. Use it to explore what the articles say about a topic or to gather context; use `ask` for a "
    "direct answer to a question.\n\n"
    "Each passage has its article (`doc_id`, `title`, `source`, `uri`), its `text`, which is characters "
    "`start`..`end` of the article text at `uri`, a `score` (higher is better; compare only within one "
    "search) and `similarity` (cosine similarity to the query, -1 to 1). "
    f"`k` is how many passages to return (1-{MAX_K}, default 5). `article` limits the search to one article id."
)

LIST_ARTICLES = (
    "List the articles in the index: each one's `doc_id` (what `ask` and `search` take as `article`), "
    "`title`, `source` file name, number of passages (`chunks`), and `uri`, a resource (article://<doc_id>) "
    "whose content is the article's full text. `total` is how many articles there are; page with `offset` "
    "and `limit` (default 100)."
)

_ARGUMENTS = {
    "question": "text (the question to answer)",
    "query": "text (what to search for)",
    "k": f"a whole number from 1 to {MAX_K}",
    "article": "an article id (a doc_id from list_articles)",
    "offset": "a whole number of at least 0",
    "limit": "a whole number from 1 to 1000",
}

K = Annotated[int, Field(ge=1, le=MAX_K, strict=True)]
ArticleId = Annotated[str | None, Field(description="Limit to this article (a doc_id from list_articles).")]


class Quoted(BaseModel):
    """A span of an article: ``text`` is exactly characters start..end of the article text at ``uri``."""

    doc_id: str = Field(description="The article's id.")
    title: str = Field(description="The article's title.")
    source: str = Field(description="The article's file name.")
    uri: str = Field(description="Resource with the article's full text.")
    start: int = Field(description="Offset of the first quoted character in the article text.")
    end: int = Field(description="Offset just past the last quoted character.")
    text: str = Field(description="The quoted text, verbatim.")


class Cited(Quoted):
    """One citation of an answer."""

    n: int = Field(description="The marker number: [n] in the answer.")
    score: float = Field(description="How well this sentence supports the answer (higher is better).")


class AskResult(BaseModel):
    """A grounded answer and the evidence behind it."""

    answer: str = Field(description="The answer: quoted sentence(s) with [n] markers, or 'The article doesn't say.'")
    short_answer: str | None = Field(description="A few words that answer the question, quoted, or null.")
    found: bool = Field(description="False when the articles do not answer the question.")
    citations: list[Cited] = Field(description="One entry per [n] marker, best first.")
    short_start: int | None = Field(default=None, description="Where short_answer starts in citation 1's article.")
    short_end: int | None = Field(default=None, description="Where it ends: text[short_start:short_end].")
    sure: bool = Field(default=False, description="False when not found, or when the reader is unsure: the answer "
                       "then quotes the closest passage under a warning, and short_answer is only its best guess.")
    answer_kind: str = Field(default="fact", description="What the question asked for: fact, overview, quote "
                             "(who said what), list, explanation or yesno.")
    generated: bool = Field(default=False, description="True when a language model wrote the answer (every "
                            "citation checked verbatim against the article); false for the extractive answer.")
    model: str | None = Field(default=None, description="The language model that wrote the answer, or null.")
    notice: str | None = Field(default=None, description="Why the language model's answer is not shown, or null.")
    unsupported: list[list[int]] = Field(default_factory=list, description="[start, end] of each sentence of "
                                         "answer that no checked citation supports.")


class Passage(Quoted):
    """One passage found by a search."""

    rank: int = Field(description="1 for the best match.")
    score: float = Field(description="Fused rank score; higher is better, comparable only within one search.")
    similarity: float = Field(description="Cosine similarity of the passage to the query.")


class SearchResult(BaseModel):
    """The best-matching passages, best first."""

    query: str
    passages: list[Passage]


class ArticleEntry(BaseModel):
    """One article of the index."""

    doc_id: str
    title: str
    source: str
    chunks: int = Field(description="How many passages the article was cut into.")
    uri: str = Field(description="Resource with the article's full text.")


class ArticleList(BaseModel):
    """A page of the index's articles."""

    total: int = Field(description="How many articles the index holds.")
    articles: list[ArticleEntry]


def article_uri(doc_id: str) -> str:
    """Return the resource URI of an article: ``article://<doc_id>``."""
    return ARTICLE_URI.format(doc_id=doc_id)


_Result = TypeVar("_Result")


def _plainly(run: Callable[[], _Result]) -> _Result:
    """Run a tool body, turning our own errors into tool errors with their one-sentence message."""
    try:
        return run()
    except RagError as error:
        raise ToolError(str(error)) from error


class RagMCPServer(MCPServer):
    """The SDK's server, with article resources listed from the live index and errors in plain sentences."""

    def __init__(self, assistant: Assistant) -> None:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        super().__init__("rag-news", title="rag-news: grounded answers from news articles", version=_version(),
                         instructions=INSTRUCTIONS, log_level="WARNING")
        root.handlers[:] = handlers  # the SDK calls logging.basicConfig; the host program's logging stays its own
        root.setLevel(level)
        self.assistant = assistant

    def live_assistant(self) -> Assistant:
        """Return the Assistant, with a rebuilt index swapped in first if there is one."""
        self.assistant.reload_if_rebuilt()  # a `rag build` of the served index is picked up without a restart
        return self.assistant

    async def list_resources(self) -> list[Resource]:
        """List one text resource per article of the index that is loaded now."""
        sources = self.live_assistant().index.manifest.sources[:LISTED_RESOURCES]
        return [Resource(uri=article_uri(info.doc_id), name=info.source, title=info.title, mime_type="text/plain",
                         description=f"Full text of the article \u201c{info.title}\u201d ({info.source}).")
                for info in sources]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        """Call a tool; any failure becomes an ``is_error`` result holding one plain sentence."""
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            logging.getLogger(__name__).exception("The MCP tool %r failed", name)
            message = "Something went wrong on the server; the error was logged."
        except ToolError as error:
            message = _sentence(name, error, [tool.name for tool in await self.list_tools()])
        return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _version() -> str:
    try:
        return importlib.metadata.version("rag-news")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _sentence(tool: str, error: ToolError, tools: list[str]) -> str:
    """Return one plain sentence for a failed call: bad arguments, our own message, or an unknown tool."""
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        problem = cause.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "arguments"
        if problem["type"] == "missing":
            return f"The argument '{name}' is required."
        return f"The argument '{name}' must be {_ARGUMENTS.get(name, 'as the tool schema says')}."
    if isinstance(cause, ToolError):  # raised by the tool body with our own sentence
        return str(cause)
    if tool not in tools:
        return f"There is no tool named {tool[:60]!r}; the tools are {', '.join(tools)}."
    return str(error)


def make_server(assistant: Assistant) -> RagMCPServer:
    """Return the MCP server over ``assistant``: three read-only tools and the article resources."""
    server = RagMCPServer(assistant)
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    @server.tool(title="Ask the articles", description=ASK, annotations=read_only)
    def ask(question: Annotated[str, Field(description="The question, in plain words.")], k: K = 3,
            article: ArticleId = None) -> AskResult:
        answer = _plainly(lambda: server.live_assistant().ask(question, k, article=article))
        return AskResult(answer=answer.answer, short_answer=answer.short_answer, found=answer.found,
                         citations=[Cited(n=c.n, doc_id=c.doc_id, title=c.title, source=c.source,
                                          uri=article_uri(c.doc_id), start=c.start, end=c.end, text=c.text,
                                          score=c.score) for c in answer.citations],
                         short_start=answer.short_start, short_end=answer.short_end, sure=answer.sure,
                         answer_kind=answer.answer_kind, generated=answer.generated, model=answer.model,
                         notice=answer.notice, unsupported=[[span.start, span.end] for span in answer.unsupported])

    @server.tool(name="search", title="Search the articles", description=SEARCH, annotations=read_only)
    def search_passages(query: Annotated[str, Field(description="What to look for.")], k: K = 5,
                        article: ArticleId = None) -> SearchResult:
        hits = _plainly(lambda: search(server.live_assistant(), query, k, article))
        return SearchResult(query=query, passages=[
            Passage(rank=h.rank, doc_id=h.doc_id, title=h.title, source=h.source, uri=article_uri(h.doc_id),
                    start=h.start, end=h.end, text=h.text, score=h.score, similarity=h.similarity) for h in hits])

    @server.tool(title="List the articles", description=LIST_ARTICLES, annotations=read_only)
    def list_articles(offset: Annotated[int, Field(ge=0, strict=True)] = 0,
                      limit: Annotated[int, Field(ge=1, le=1000, strict=True)] = 100) -> ArticleList:
        sources = server.live_assistant().index.manifest.sources
        return ArticleList(total=len(sources), articles=[
            ArticleEntry(doc_id=info.doc_id, title=info.title, source=info.source, chunks=info.chunks,
                         uri=article_uri(info.doc_id)) for info in sources[offset:offset + limit]])

    @server.resource(ARTICLE_URI, name="article", title="Article text", mime_type="text/plain",
                     description="The full text of one article; citations' start/end are offsets into it.")
    def article_text(doc_id: str) -> str:
        index = server.live_assistant().index
        number = index.article_number(doc_id)
        if number is None:
            raise ResourceNotFoundError(f"There is no article with id {doc_id[:40]!r}; list_articles gives the ids.")
        return index.article(index.manifest.sources[number].source).text

    return server


def run_stdio(assistant: Assistant) -> None:
    """Serve the MCP server over standard input and output until the client closes them."""
    make_server(assistant).run("stdio")
