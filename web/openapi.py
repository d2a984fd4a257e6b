"""The OpenAPI 3.1 description of the JSON API, kept beside the views it describes."""
from __future__ import annotations

from typing import Any

from rag.kinds import KINDS


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _openai_error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}}}


def _openai_part(max_k: int, max_bytes: int, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the paths and schemas of the OpenAI-compatible door (``/v1/``)."""
    message = {"type": "object", "required": ["role", "content"], "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant"],
                 "description": "system and developer messages are accepted and ignored."},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {
            "type": "object", "required": ["type", "text"],
            "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}}]}}}
    request = {"type": "object", "required": ["model", "messages"], "properties": {
        "model": {"enum": [model], "description": "The index this server answers from (GET /v1/models)."},
        "messages": {"type": "array", "minItems": 1, "items": message,
                     "description": "The last message is the user's question; earlier ones are the history."},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "n": {"const": 1},
        "k": {"type": "integer", "minimum": 1, "maximum": max_k, "description": "Extra: citations at most."},
        "article": {"type": "string", "description": "Extra: answer from this article (doc_id) only."},
    }, "description": "Other OpenAI fields (temperature, max_tokens, ...) are accepted and ignored."}
    citations = {"type": "array", "items": {"$ref": "#/components/schemas/Citation"},
                 "description": "Extra field: one entry per [n] marker in the content."}
    usage = {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
             "properties": {"prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"},
                            "total_tokens": {"type": "integer"}}}
    completion = {"type": "object", "required": ["id", "object", "created", "model", "choices", "usage"],
                  "properties": {
        "id": {"type": "string"}, "object": {"const": "chat.completion"}, "created": {"type": "integer"},
        "model": {"type": "string"}, "usage": usage,
        "choices": {"type": "array", "items": {"type": "object", "required": ["index", "message", "finish_reason"],
                                               "properties": {
            "index": {"type": "integer"}, "finish_reason": {"const": "stop"},
            "message": {"type": "object", "required": ["role", "content", "citations", "answer_kind"], "properties": {
                "role": {"const": "assistant"}, "content": {"type": "string"}, "citations": citations,
                "answer_kind": {"type": "string", "enum": list(KINDS), "description": "Extra: what the question "
                                "asked for (fact, overview, quote, list, explanation, yesno)."},
                **WRITING}}}}}}}
    chunk = {"type": "object", "description": "One Server-Sent Event 'data:' line: a chat.completion.chunk whose "
             "delta holds the role, then pieces of the content, then (with finish_reason 'stop') the citations, "
             "answer_kind and generated, model, notice, unsupported, quotes_dropped; "
             "then a usage chunk if stream_options.include_usage, then the line [DONE].",
             "properties": {"object": {"const": "chat.completion.chunk"}, "choices": {"type": "array"}}}
    model_object = {"type": "object", "required": ["id", "object", "created", "owned_by"],
                    "properties": {"id": {"type": "string"}, "object": {"const": "model"},
                                   "created": {"type": "integer"}, "owned_by": {"type": "string"}}}
    unauthorized = _openai_error("RAG_API_KEY is set and the Authorization: Bearer key is missing or wrong.")
    limited = _openai_error("RAG_RATE_LIMIT is set and this client went over it.")
    paths = {
        "/v1/chat/completions": {"post": {
            "summary": "OpenAI-compatible chat completion: a grounded answer with citations",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ChatRequest"}}}},
            "responses": {
                "200": {"description": "The completion, or with stream=true a text/event-stream of chunks.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"}},
                                    "text/event-stream": {"schema": {"$ref": "#/components/schemas/ChatChunk"}}}},
                "400": _openai_error("The messages, stream, n, k or article are missing or invalid."),
                "401": unauthorized,
                "404": _openai_error("The model is not the one this server has (code model_not_found)."),
                "413": _openai_error(f"The body is larger than {max_bytes} bytes."),
                "415": _openai_error("The body is not declared as application/json."),
                "429": limited,
                "503": _openai_error("The index or model is not usable."),
            }}},
        "/v1/models": {"get": {
            "summary": "The one model (index) this server answers from",
            "responses": {"200": {"description": "A list of one model.", "content": {"application/json": {
                "schema": {"type": "object", "required": ["object", "data"], "properties": {
                    "object": {"const": "list"},
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}}}}}},
                "401": unauthorized, "429": limited}}},
        "/v1/models/{model}": {"get": {
            "summary": "One model",
            "parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The model.", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Model"}}}},
                "401": unauthorized, "404": _openai_error("No model has this name."), "429": limited}}},
    }
    schemas = {
        "ChatRequest": request, "ChatCompletion": completion, "ChatChunk": chunk, "Model": model_object,
        "OpenAIError": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["message", "type", "param", "code"],
            "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                           "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}},
    }
    return paths, schemas


SPAN = {"type": "object", "required": ["start", "end"],
        "properties": {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0}}}
WRITING = {  # what an answer says about a language model (RAG_LLM_URL); extractive answers: false/null/[]/0
    "generated": {"type": "boolean", "description": "True when a language model wrote the answer; every citation "
                  "is still checked verbatim against its article."},
    "model": {"type": ["string", "null"], "description": "The language model that wrote the answer, or null."},
    "notice": {"type": ["string", "null"], "description": "One sentence saying why the language model's answer is "
               "not shown (unreachable, too slow, refused, unreadable, nothing it cited was found), or null."},
    "unsupported": {"type": "array", "items": SPAN, "description": "Sentences of the answer (answer[start:end]) "
                    "that no checked citation supports."},
    "quotes_dropped": {"type": "integer", "minimum": 0,
                       "description": "The model's quotes that were not found in their passages and were dropped."},
}


def openapi_document(max_k: int, max_bytes: int, max_document: int = 1024 * 1024, model: str = "rag-news"
                     ) -> dict[str, Any]:
    """Return the OpenAPI document for limits ``max_k``, a body of ``max_bytes``, articles of ``max_document``
    and the model name."""
    citation = {
        "type": "object",
        "required": ["n", "source", "title", "doc_id", "start", "end", "text", "score"],
        "properties": {
            "n": {"type": "integer", "minimum": 1, "description": "The marker number, as in [1]."},
            "source": {"type": "string"}, "title": {"type": "string"},
            "doc_id": {"type": "string", "description": "Fetch the article with GET /api/documents/{doc_id}."},
            "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0},
            "text": {"type": "string", "description": "Exactly article_text[start:end]."},
            "score": {"type": "number"},
        },
    }
    answer = {
        "type": "object",
        "required": ["question", "answer", "short_answer", "found", "citations", "timings_ms", "short_start",
                     "short_end", "sure", "answer_kind"],
        "properties": {
            "question": {"type": "string"},
            "answer": {"type": "string", "description": "The whole grounded answer with [n] markers."},
            "short_answer": {"type": ["string", "null"], "description": "A verbatim span of the source, or null."},
            "found": {"type": "boolean", "description": "False when the articles do not say."},
            "citations": {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}},
            "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
            "short_start": {"type": ["integer", "null"], "minimum": 0,
                            "description": "Where the short answer starts in the article of citation 1, or null."},
            "short_end": {"type": ["integer", "null"], "minimum": 0,
                          "description": "Where it ends: text[short_start:short_end] == short_answer."},
            "sure": {"type": "boolean", "description": "False when not found, or when the reader is unsure: the "
                     "answer then quotes the closest passage under a warning instead of a short answer."},
            "answer_kind": {"type": "string", "enum": list(KINDS),
                            "description": "What the question asked for: a short fact, an overview of an article, "
                            "who said what (quote), a list, an explanation (why/how) or yes/no."},
            **WRITING,
        },
    }
    ask_request = {
        "type": "object",
        "required": ["question"],
        "properties": {
            "question": {"type": "string", "minLength": 1, "maxLength": 2000},
            "k": {"type": "integer", "minimum": 1, "maximum": max_k},
            "stream": {"type": "boolean", "description": "Answer as Server-Sent Events."},
            "doc_id": {"type": "string", "description": "Answer from this one article only (an id from "
                                                        "GET /api/documents); left out: all articles."},
            "history": {"type": "array", "maxItems": 50, "items": {
                "type": "object", "required": ["role", "content"],
                "properties": {"role": {"enum": ["user", "assistant"]}, "content": {"type": "string"}}}},
        },
    }
    openai_paths, openai_schemas = _openai_part(max_k, max_bytes, model)
    entry = {
        "type": "object", "required": ["id", "source", "title", "characters", "added", "chunks"],
        "properties": {"id": {"type": "string"}, "source": {"type": "string"}, "title": {"type": "string"},
                       "characters": {"type": "integer", "minimum": 0}, "added": {"type": "string"},
                       "chunks": {"type": "integer", "minimum": 0},
                       "already_indexed": {"type": "boolean", "description": "On an add: the same text was there."}},
    }
    job = {
        "type": "object", "required": ["id", "state", "title", "stage", "done", "total", "document", "error"],
        "properties": {"id": {"type": "string"}, "state": {"enum": ["queued", "running", "done", "failed"]},
                       "title": {"type": "string"},
                       "stage": {"type": "string", "description": "starting, articles, chunks, sentences, done."},
                       "done": {"type": "integer"}, "total": {"type": "integer"},
                       "document": {"oneOf": [{"$ref": "#/components/schemas/DocumentEntry"}, {"type": "null"}]},
                       "error": {"type": ["string", "null"]}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "rag-news", "version": "1.0.0",
                 "description": "Grounded, cited answers from news articles. Every error under /api/ is "
                                "{\"error\": sentence}; under /v1/ (OpenAI-compatible) it is OpenAI's error object. "
                                "The MCP server (JSON-RPC over Streamable HTTP) is at POST /mcp."},
        "paths": {
            "/api/ask": {"post": {
                "summary": "Answer a question from the indexed articles",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AskRequest"}}}},
                "responses": {
                    "200": {"description": "The answer (JSON), or with stream=true a text/event-stream of "
                                           "'citations', 'delta' and a final 'done' event holding the answer.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}},
                                        "text/event-stream": {"schema": {"$ref": "#/components/schemas/Event"}}}},
                    "400": _error("The question, k, stream, history or doc_id is missing or invalid."),
                    "404": _error("No article has the doc_id given."),
                    "413": _error(f"The body is larger than {max_bytes} bytes."),
                    "401": _error("RAG_API_KEY is set and the X-API-Key header is missing or wrong."),
                    "415": _error("The body is not declared as application/json."),
                    "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                    "503": _error("The index or model is not usable."),
                }}},
            "/api/documents": {
                "get": {
                    "summary": "The index's articles: id, title, size, when added",
                    "responses": {
                        "200": {"description": "The list.", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/DocumentList"}}}},
                        "401": _error("RAG_API_KEY is set (without RAG_PUBLIC_READS) and the key is missing or wrong."),
                        "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                    }},
                "post": {
                    "summary": "Add an article: pasted text, an uploaded .txt/.md/.html file, or a web page's URL",
                    "description": "The article is read and checked at once, then indexed in a job; poll status_url. "
                                   "With ?wait=1 the call waits (up to 50 s) and answers 201 with the document. "
                                   "Nothing already indexed is removed. URLs: http(s) only, public addresses only "
                                   "(checked after DNS and on every redirect), 15 s and the size limit.",
                    "parameters": [{"name": "wait", "in": "query", "required": False,
                                    "schema": {"enum": ["1", "true"]}}],
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/AddRequest"}},
                        "multipart/form-data": {"schema": {
                            "type": "object", "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary",
                                                    "description": f"A .txt, .md or .html file of at most "
                                                                   f"{max_document} bytes."}}}}}},
                    "responses": {
                        "201": {"description": "Indexed (with ?wait=1).", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/DocumentEntry"}}}},
                        "202": {"description": "Being indexed; poll status_url.", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Started"}}}},
                        "400": _error("No text, url or file; an empty, binary or non-article file; a refused URL "
                                      "(not http(s), or an address that is not public)."),
                        "401": _error("RAG_API_KEY is set and the X-API-Key header is missing or wrong."),
                        "413": _error(f"The body is larger than {max_document} bytes."),
                        "415": _error("The body is neither JSON nor multipart/form-data."),
                        "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                        "502": _error("The web page could not be fetched (no answer, an error status, too slow)."),
                        "503": _error("Too many articles are being added at once, or the index is not usable."),
                    }}},
            "/api/documents/jobs/{job_id}": {"get": {
                "summary": "How far an add has got",
                "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The job.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Job"}}}},
                    "401": _error("RAG_API_KEY is set (without RAG_PUBLIC_READS) and the key is missing or wrong."),
                    "404": _error("No job has this id (jobs are kept an hour)."),
                    "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                }}},
            "/api/documents/{doc_id}/questions": {"get": {
                "summary": "Suggested first questions, made of this article's headline and names, each answered by it",
                "parameters": [{"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Up to three questions.", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["questions"],
                        "properties": {"questions": {"type": "array", "items": {"type": "string"}}}}}}},
                    "401": _error("RAG_API_KEY is set (without RAG_PUBLIC_READS) and the key is missing or wrong."),
                    "404": _error("No article has this id."),
                    "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                }}},
            "/api/documents/{doc_id}": {
              "delete": {
                "summary": "Remove an article from the index; every other article stays",
                "parameters": [{"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Removed.", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["removed", "documents"],
                        "properties": {"removed": {"$ref": "#/components/schemas/DocumentEntry"},
                                       "documents": {"type": "integer", "description": "Articles left."}}}}}},
                    "401": _error("RAG_API_KEY is set and the X-API-Key header is missing or wrong."),
                    "404": _error("No article has this id."),
                    "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                }},
              "get": {
                "summary": "An article's full text, for highlighting citations",
                "parameters": [{"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The article.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Document"}}}},
                    "401": _error("RAG_API_KEY is set and the X-API-Key header is missing or wrong."),
                    "404": _error("No article has this id."),
                    "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                }}},
            "/api/health": {"get": {
                "summary": "Readiness and what the index holds",
                "responses": {"200": {"description": "Ready.", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Health"}}}}}}},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {
                    "schema": {"type": "object"}}}}}}},
            **openai_paths,
        },
        "security": [{}, {"apiKey": []}, {"bearer": []}],
        "components": {"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                           "bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {
            **openai_schemas,
            "AskRequest": ask_request, "Answer": answer, "Citation": citation,
            "Document": {"type": "object", "required": ["id", "source", "title", "text"],
                         "properties": {"id": {"type": "string"}, "source": {"type": "string"},
                                        "title": {"type": "string"}, "text": {"type": "string"}}},
            "DocumentEntry": entry, "DocumentList": {
                "type": "object", "required": ["documents"],
                "properties": {"documents": {"type": "array", "items": {"$ref": "#/components/schemas/DocumentEntry"}}}},
            "AddRequest": {"type": "object", "description": "Exactly one of text or url.",
                           "properties": {"text": {"type": "string", "minLength": 1},
                                          "title": {"type": "string", "maxLength": 300},
                                          "url": {"type": "string", "format": "uri"}}},
            "Job": job, "Started": {"type": "object", "required": ["job", "status_url"], "properties": {
                "job": {"$ref": "#/components/schemas/Job"}, "status_url": {"type": "string"}}},
            "Health": {"type": "object", "required": ["status", "index", "model", "chunks", "sources"],
                       "properties": {"status": {"const": "ok"}, "index": {"type": "string"},
                                      "model": {"type": "string"}, "built_at": {"type": "string"},
                                      "chunks": {"type": "integer"}, "sources": {"type": "array"}}},
            "Event": {"type": "object", "required": ["event", "data"],
                      "description": "One Server-Sent Event; data is JSON: {citations} for 'citations', "
                                     "{text} for 'delta', the whole Answer for 'done', {error} for 'error'. "
                                     "Without a language model: citations, deltas, done. With one (RAG_LLM_URL): "
                                     "the deltas of the model's draft as it writes, then the checked citations, "
                                     "then done, whose answer replaces the draft (the extractive answer when the "
                                     "draft failed its checks).",
                      "properties": {"event": {"enum": ["citations", "delta", "done", "error"]},
                                     "data": {"type": "string"}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        }},
    }
