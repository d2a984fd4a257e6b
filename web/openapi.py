"""The OpenAPI 3.1 description of the JSON API, kept beside the views it describes."""
from __future__ import annotations

from typing import Any


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document(max_k: int, max_bytes: int) -> dict[str, Any]:
    """Return the OpenAPI document for limits ``max_k`` and a body of at most ``max_bytes``."""
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
        "required": ["question", "answer", "short_answer", "found", "citations", "timings_ms"],
        "properties": {
            "question": {"type": "string"},
            "answer": {"type": "string", "description": "The whole grounded answer with [n] markers."},
            "short_answer": {"type": ["string", "null"], "description": "A verbatim span of the source, or null."},
            "found": {"type": "boolean", "description": "False when the articles do not say."},
            "citations": {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}},
            "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    }
    ask_request = {
        "type": "object",
        "required": ["question"],
        "properties": {
            "question": {"type": "string", "minLength": 1, "maxLength": 2000},
            "k": {"type": "integer", "minimum": 1, "maximum": max_k},
            "stream": {"type": "boolean", "description": "Answer as Server-Sent Events."},
            "history": {"type": "array", "maxItems": 50, "items": {
                "type": "object", "required": ["role", "content"],
                "properties": {"role": {"enum": ["user", "assistant"]}, "content": {"type": "string"}}}},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "rag-news", "version": "1.0.0",
                 "description": "Grounded, cited answers from news articles. Every error is {\"error\": sentence}."},
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
                    "400": _error("The question, k, stream or history is missing or invalid."),
                    "413": _error(f"The body is larger than {max_bytes} bytes."),
                    "401": _error("RAG_API_KEY is set and the X-API-Key header is missing or wrong."),
                    "415": _error("The body is not declared as application/json."),
                    "429": _error("RAG_RATE_LIMIT is set and this client went over it."),
                    "503": _error("The index or model is not usable."),
                }}},
            "/api/documents/{doc_id}": {"get": {
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
        },
        "security": [{}, {"apiKey": []}],
        "components": {"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
                       "schemas": {
            "AskRequest": ask_request, "Answer": answer, "Citation": citation,
            "Document": {"type": "object", "required": ["id", "source", "title", "text"],
                         "properties": {"id": {"type": "string"}, "source": {"type": "string"},
                                        "title": {"type": "string"}, "text": {"type": "string"}}},
            "Health": {"type": "object", "required": ["status", "index", "model", "chunks", "sources"],
                       "properties": {"status": {"const": "ok"}, "index": {"type": "string"},
                                      "model": {"type": "string"}, "built_at": {"type": "string"},
                                      "chunks": {"type": "integer"}, "sources": {"type": "array"}}},
            "Event": {"type": "object", "required": ["event", "data"],
                      "description": "One Server-Sent Event; data is JSON: {citations} for 'citations', "
                                     "{text} for 'delta', the whole Answer for 'done'.",
                      "properties": {"event": {"enum": ["citations", "delta", "done"]},
                                     "data": {"type": "string"}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        }},
    }
