// The chat page: asks /api/ask as a stream, renders answers with clickable citations and the cited span
// highlighted in the article, keeps the conversation across reloads, and adds, lists and removes articles.
// All text goes into the page as text nodes.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const input = $("question");
  const send = $("send");
  const scroller = $("scroller");
  const messages = $("messages");
  const welcome = $("welcome");
  const suggestions = $("suggestions");
  const status = $("status");
  const scope = $("scope");
  const about = $("about");
  const panel = $("panel");
  const panelTitle = $("panel-title");
  const panelText = $("panel-text");
  const library = $("library");
  const writes = document.body.dataset.writes;
  const STORE = "rag-news:chat:" + location.pathname;
  const SCOPE = "rag-news:scope";
  const UNREACHABLE = "The server can't be reached; try again.";
  const documents = new Map();
  let articles = [];
  let conversation = load();
  let busy = false;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(label, className, onClick) {
    const node = element("button", className, label);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function load() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE) || "[]");
      return Array.isArray(saved) ? saved.filter((turn) => turn && turn.question && turn.answer) : [];
    } catch (error) {
      return [];
    }
  }

  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(conversation.slice(-50))); } catch (error) { /* full or off */ }
  }

  // Keep the newest message in view above the input box; one taller than the view shows from its start.
  function scrollToNewest() {
    requestAnimationFrame(() => {
      const last = messages.lastElementChild;
      const tall = last && last.offsetHeight > scroller.clientHeight;
      scroller.scrollTop = tall ? last.offsetTop - scroller.offsetTop : scroller.scrollHeight;
    });
  }

  function addMessage(role) {
    welcome.hidden = true;
    const item = element("li", "message " + role);
    messages.appendChild(item);
    scrollToNewest();
    return item;
  }

  // A request that failed: a plain sentence for what went wrong.
  async function failure(response) {
    if (!response) return UNREACHABLE;
    try {
      const data = await response.json();
      if (data && data.error) return data.error;
    } catch (error) { /* not JSON */ }
    return response.status >= 500 ? "The server had a problem; try again." : "The request was refused; try again.";
  }

  async function call(path, options) {
    let response;
    options = options || {};
    options.headers = withKey(options.headers || {});
    try {
      response = await fetch(path, options);
    } catch (error) {
      throw new Error(UNREACHABLE);
    }
    if (!response.ok) throw new Error(await failure(response));
    return response;
  }

  // The API key typed in "Articles" goes with every call (asks and reads too: without public reads they need it).
  function withKey(headers) {
    const key = $("api-key") && $("api-key").value;
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  // Citation offsets count code points (Python's str); JavaScript strings count UTF-16 units, so an emoji
  // before a span counts 1 there and 2 here. Example: unitOffset("a\u{1F600}b", 2) -> 3.
  function unitOffset(text, points) {
    let units = 0;
    for (const char of text) {
      if (points-- <= 0) break;
      units += char.length;
    }
    return units;
  }

  // ---- answers -------------------------------------------------------------------------------------------

  function citationButton(citation, label, className) {
    const node = button(label, className, () => openDocument(citation));
    node.setAttribute("aria-label", "Show citation " + citation.n + " in the article");
    node.dataset.n = String(citation.n);
    return node;
  }

  function card(citation) {
    const item = element("li", "source-card");
    const node = citationButton(citation, "", "card-button");
    node.appendChild(element("span", "card-n", "[" + citation.n + "]"));
    node.appendChild(element("span", "card-title", citation.title));
    node.appendChild(element("span", "card-quote", citation.text));
    item.appendChild(node);
    return item;
  }

  function plainAnswer(answer) {
    const lines = [answer.answer];
    for (const c of answer.citations) lines.push("[" + c.n + "] " + c.title + ": \u201c" + c.text + "\u201d");
    return lines.join("\n");
  }

  async function copy(text, node) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = element("textarea", "visually-hidden");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    node.textContent = "Copied";
    status.textContent = "The answer was copied.";
    setTimeout(() => { node.textContent = "Copy"; }, 1500);
  }

  // "text [1] more [2]" with the markers as buttons; the short answer, if any, in bold (or the warning of an
  // unsure answer in its place); cards only for
  // the sources the answer cites, the other passages folded away.
  function renderAnswer(bubble, answer) {
    bubble.textContent = "";
    bubble.className = "message assistant" + (answer.found ? "" : " not-found");
    const byNumber = new Map(answer.citations.map((c) => [c.n, c]));
    let body = answer.answer;
    if (answer.notice) bubble.appendChild(element("p", "notice", answer.notice));
    if (answer.generated && answer.found) {
      bubble.appendChild(element("p", "written-by", "Written by " + answer.model +
        "; every quote checked against the article"));
    } else if (answer.found && answer.sure === false && body.includes("\n\n")) {
      // the reader is unsure: a warning line stands where the short answer would
      bubble.appendChild(element("p", "unsure", body.slice(0, body.indexOf("\n\n"))));
      body = body.slice(body.indexOf("\n\n") + 2);
    } else if (answer.short_answer && body.startsWith(answer.short_answer + "\n\n")) {
      bubble.appendChild(element("p", "short-answer", answer.short_answer));
      body = body.slice(answer.short_answer.length + 2);
    }
    const paragraph = element("p", "answer-text");
    const cited = new Set();
    // text with its [n] markers as buttons
    const addText = (into, text) => {
      for (const part of text.split(/(\[\d+\])/)) {
        const match = /^\[(\d+)\]$/.exec(part);
        const citation = match && byNumber.get(Number(match[1]));
        if (citation) cited.add(citation.n);
        into.appendChild(citation ? citationButton(citation, part, "marker") : document.createTextNode(part));
      }
    };
    // a model's sentences that no checked citation supports are marked (offsets into answer.answer)
    let at = 0;
    for (const span of answer.generated ? (answer.unsupported || []) : []) {
      addText(paragraph, body.slice(at, span.start));
      const unsupported = element("span", "unsupported");
      unsupported.title = "No quote from the article supports this sentence";
      addText(unsupported, body.slice(span.start, span.end));
      unsupported.appendChild(element("span", "unsupported-flag", "no source"));
      paragraph.appendChild(unsupported);
      at = span.end;
    }
    addText(paragraph, body.slice(at));
    bubble.appendChild(paragraph);
    const shown = answer.citations.filter((c) => cited.has(c.n));
    const more = answer.citations.filter((c) => !cited.has(c.n));
    if (shown.length) {
      const cards = element("ol", "sources");
      cards.setAttribute("aria-label", "Sources");
      shown.forEach((c) => cards.appendChild(card(c)));
      bubble.appendChild(cards);
    }
    if (more.length) {
      const details = element("details", "more-passages");
      details.appendChild(element("summary", "", "More passages (" + more.length + ")"));
      const cards = element("ol", "more-sources");
      more.forEach((c) => cards.appendChild(card(c)));
      details.appendChild(cards);
      details.addEventListener("toggle", scrollToNewestIfLast(bubble));
      bubble.appendChild(details);
    }
    if (answer.found) {
      const actions = element("div", "answer-actions");
      const copier = button("Copy", "quiet small copy", () => copy(plainAnswer(answer), copier));
      copier.setAttribute("aria-label", "Copy the answer");
      actions.appendChild(copier);
      bubble.appendChild(actions);
    }
  }

  function scrollToNewestIfLast(bubble) {
    return () => { if (bubble === messages.lastElementChild) scrollToNewest(); };
  }

  function showTurn(turn) {
    addMessage("user").appendChild(element("p", "", turn.question));
    renderAnswer(addMessage("assistant"), turn.answer);
  }

  function history() {
    return conversation.slice(-3).flatMap((turn) => [
      { role: "user", content: turn.question }, { role: "assistant", content: turn.answer.answer }]);
  }

  // Parse a text/event-stream body; call onEvent(name, data) for each event.
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
      if (done) return;
    }
  }

  async function ask(question) {
    busy = true;
    send.disabled = true;
    const mine = addMessage("user");
    mine.appendChild(element("p", "", question));
    const bubble = addMessage("assistant working");
    const typing = element("p", "working-text", "Reading the article");
    typing.appendChild(element("span", "dots", ""));
    bubble.appendChild(typing);
    status.textContent = "Working on your question\u2026";
    scrollToNewest();
    try {
      const body = { question, stream: true, history: history() };
      if (scope.value) body.doc_id = scope.value;
      let response;
      try {
        response = await fetch("/api/ask", {
          method: "POST",
          headers: withKey({ "Content-Type": "application/json", Accept: "text/event-stream" }),
          body: JSON.stringify(body),
        });
      } catch (error) {
        throw new Error(UNREACHABLE);
      }
      if (!response.ok) throw new Error(await failure(response));
      let streamed = "";
      let final = null;
      try {
        await readEvents(response, (name, data) => {
          if (name === "delta") {
            bubble.classList.remove("working");
            streamed += data.text;
            bubble.textContent = "";
            bubble.appendChild(element("p", "answer-text", streamed));
            scrollToNewest();
          } else if (name === "done") {
            final = data;
          }
        });
      } catch (error) {
        throw new Error(UNREACHABLE);
      }
      if (!final) throw new Error("The answer was cut off; try again.");
      renderAnswer(bubble, final);
      scrollToNewest();
      conversation.push({ question, answer: final });
      save();
      status.textContent = final.found ? "Answered." : "The article doesn't say.";
    } catch (error) {
      mine.classList.add("failed");
      bubble.className = "message assistant error";
      bubble.textContent = "";
      bubble.appendChild(element("p", "", error.message));
      bubble.appendChild(button("Retry", "retry", () => {
        if (busy) return;
        mine.remove();
        bubble.remove();
        if (input.value.trim() === question) input.value = "";
        ask(question);
      }));
      if (!input.value.trim()) input.value = question;
      status.textContent = error.message;
    } finally {
      busy = false;
      send.disabled = false;
      scrollToNewest();
      input.focus();
    }
  }

  function newChat() {
    conversation = [];
    save();
    messages.textContent = "";
    welcome.hidden = false;
    status.textContent = "New chat.";
    input.value = "";
    input.focus();
  }

  // ---- the article beside the chat --------------------------------------------------------------------

  async function openDocument(citation) {
    let doc = documents.get(citation.doc_id);
    if (!doc) {
      try {
        const response = await call("/api/documents/" + encodeURIComponent(citation.doc_id));
        doc = await response.json();
      } catch (error) {
        status.textContent = error.message === UNREACHABLE ? UNREACHABLE : "That article is no longer in the index.";
        return;
      }
      documents.set(citation.doc_id, doc);
    }
    if (library && library.open) library.close();
    panelTitle.textContent = doc.title;
    panelText.textContent = "";
    const start = unitOffset(doc.text, citation.start);
    const end = unitOffset(doc.text, citation.end);
    panelText.appendChild(document.createTextNode(doc.text.slice(0, start)));
    const mark = element("mark", "cited", doc.text.slice(start, end));
    mark.id = "cited";
    panelText.appendChild(mark);
    panelText.appendChild(document.createTextNode(doc.text.slice(end)));
    panel.hidden = false;
    document.body.classList.add("panel-open");
    if (citation.end > citation.start) mark.scrollIntoView({ block: "center" });
    else panelText.scrollTop = 0;
    panel.focus({ preventScroll: true });
  }

  function closePanel() {
    panel.hidden = true;
    document.body.classList.remove("panel-open");
    input.focus();
  }

  // ---- articles: list, scope, suggestions, add, remove ---------------------------------------------------

  async function refreshArticles() {
    try {
      articles = (await (await call("/api/documents")).json()).documents;
    } catch (error) {
      return;
    }
    const chosen = localStorage.getItem(SCOPE) || "";
    scope.textContent = "";
    scope.appendChild(new Option("all articles", ""));
    for (const article of articles) scope.appendChild(new Option(article.title, article.id));
    scope.value = articles.some((a) => a.id === chosen) ? chosen : "";
    about.textContent = articles.length
      ? "Answers come only from: " + articles.map((a) => a.title).join(", ")
      : "No articles yet: add one to start.";
    if ($("article-count")) $("article-count").textContent = "(" + articles.length + ")";
    renderList();
    loadSuggestions();
  }

  function suggest(question) {
    const item = element("li");
    item.appendChild(button(question, "suggestion", () => { if (!busy) ask(question); }));
    suggestions.appendChild(item);
  }

  function summaryQuestion() {
    // an overview of the chosen (or only) article; with several and none chosen, a line for each
    return scope.value || articles.length === 1 ? "Summarize this article" : "Summarize the articles";
  }

  async function loadSuggestions() {
    const target = scope.value || (articles[0] && articles[0].id);
    suggestions.textContent = "";
    if (!target) return;
    suggest(summaryQuestion());
    let questions = [];
    try {
      questions = (await (await call("/api/documents/" + encodeURIComponent(target) + "/questions")).json()).questions;
    } catch (error) {
      return;
    }
    if ((scope.value || (articles[0] && articles[0].id)) !== target) return;  // the choice changed meanwhile
    suggestions.textContent = "";
    suggest(summaryQuestion());
    for (const question of questions) suggest(question);
  }

  function size(characters) {
    return characters >= 1000 ? Math.round(characters / 100) / 10 + "k characters" : characters + " characters";
  }

  function when(added) {
    const date = new Date(added.replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));
    return isNaN(date) ? "" : "added " + date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function renderList() {
    const list = $("article-list");
    if (!list) return;
    list.textContent = "";
    if (!articles.length) list.appendChild(element("li", "empty", "No articles yet."));
    for (const article of articles) {
      const item = element("li", "article-row");
      item.dataset.id = article.id;
      const open = button(article.title, "article-title", () => openDocument({ doc_id: article.id, start: 0, end: 0 }));
      item.appendChild(open);
      item.appendChild(element("span", "article-meta", [size(article.characters), when(article.added)]
        .filter(Boolean).join(" \u00b7 ")));
      const actions = element("span", "article-actions");
      actions.appendChild(button("Ask about this", "quiet small", () => {
        scope.value = article.id;
        scope.dispatchEvent(new Event("change"));
        library.close();
        input.focus();
      }));
      if (writes !== "none") {
        const remove = button("Remove", "quiet small danger", () => confirmRemove(item, article));
        remove.setAttribute("aria-label", "Remove " + article.title);
        actions.appendChild(remove);
      }
      item.appendChild(actions);
      list.appendChild(item);
    }
  }

  function confirmRemove(item, article) {
    const row = element("span", "confirm");
    row.appendChild(element("span", "", "Remove it from the index?"));
    const yes = button("Remove", "small danger", async () => {
      yes.disabled = true;
      try {
        await call("/api/documents/" + encodeURIComponent(article.id), { method: "DELETE", headers: withKey({}) });
        documents.delete(article.id);
        status.textContent = "Removed \u201c" + article.title + "\u201d.";
        await refreshArticles();
      } catch (error) {
        status.textContent = error.message;
        row.remove();
      }
    });
    row.appendChild(yes);
    row.appendChild(button("Keep", "small quiet", () => row.remove()));
    item.appendChild(row);
    yes.focus();
  }

  const STAGES = { queued: "Waiting", starting: "Starting", articles: "Reading the article",
    chunks: "Embedding passages", sentences: "Embedding sentences", done: "Done" };

  function showProgress(text, done, total) {
    $("add-progress").hidden = false;
    $("add-status").textContent = text;
    const bar = $("add-bar");
    if (total) { bar.max = total; bar.value = done; } else { bar.removeAttribute("value"); }
  }

  async function addArticle(options, label) {
    showProgress("Sending " + label + "\u2026", 0, 0);
    try {
      const started = await (await call("/api/documents", options)).json();
      let job = started.job;
      while (job.state === "queued" || job.state === "running") {
        const stage = STAGES[job.stage] || "Working";
        showProgress(stage + (job.total ? " " + job.done + " of " + job.total : "") + "\u2026", job.done, job.total);
        await new Promise((resolve) => setTimeout(resolve, 400));
        job = await (await call(started.status_url)).json();
      }
      if (job.state === "failed") throw new Error(job.error);
      const doc = job.document;
      showProgress(doc.already_indexed ? "\u201c" + doc.title + "\u201d was already in the index."
        : "Added \u201c" + doc.title + "\u201d.", 1, 1);
      await refreshArticles();
      return true;
    } catch (error) {
      showProgress(error.message, 0, 1);
      $("add-progress").classList.add("failed");
      return false;
    } finally {
      setTimeout(() => $("add-progress").classList.remove("failed"), 4000);
    }
  }

  function addFile(file) {
    const data = new FormData();
    data.append("file", file, file.name);
    return addArticle({ method: "POST", body: data, headers: withKey({}) }, file.name);
  }

  function jsonPost(body) {
    return { method: "POST", headers: withKey({ "Content-Type": "application/json" }), body: JSON.stringify(body) };
  }

  function wireLibrary() {
    if (!library) return;
    $("open-library").addEventListener("click", () => { library.showModal(); refreshArticles(); });
    $("library-close").addEventListener("click", () => library.close());
    library.addEventListener("close", () => input.focus());
    const keyField = $("api-key");
    if (keyField) {
      keyField.value = sessionStorage.getItem("rag-news:key") || "";
      keyField.addEventListener("change", () => sessionStorage.setItem("rag-news:key", keyField.value));
    }
    if (!$("add-text-form")) return;
    $("add-text-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("add-text").value;
      if (!text.trim()) return;
      if (await addArticle(jsonPost({ text }), "the text")) $("add-text").value = "";
    });
    $("add-url-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const url = $("add-url").value.trim();
      if (!url) return;
      if (await addArticle(jsonPost({ url }), url)) $("add-url").value = "";
    });
    $("add-file").addEventListener("change", () => {
      const file = $("add-file").files[0];
      if (file) addFile(file).then(() => { $("add-file").value = ""; });
    });
    const zone = $("drop-zone");
    for (const name of ["dragenter", "dragover"]) {
      document.addEventListener(name, (event) => {
        if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
        event.preventDefault();
        zone.classList.add("dragging");
      });
    }
    document.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    document.addEventListener("drop", (event) => {
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (!file) return;
      event.preventDefault();
      zone.classList.remove("dragging");
      if (!library.open) library.showModal();
      addFile(file);
    });
  }

  // ---- wiring ----------------------------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || busy) return;
    input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  scope.addEventListener("change", () => {
    localStorage.setItem(SCOPE, scope.value);
    loadSuggestions();
  });
  $("new-chat").addEventListener("click", newChat);
  $("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) closePanel();
  });
  window.addEventListener("resize", scrollToNewest);
  wireLibrary();
  conversation.forEach(showTurn);
  welcome.hidden = conversation.length > 0;
  scrollToNewest();
  refreshArticles();
  input.focus();
})();
