// The chat page: sends questions to /api/ask as a stream, renders answers with clickable citations,
// and shows the cited span highlighted in the article. All text goes into the page as text nodes.
"use strict";

(function () {
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const messages = document.getElementById("messages");
  const status = document.getElementById("status");
  const panel = document.getElementById("panel");
  const panelTitle = document.getElementById("panel-title");
  const panelText = document.getElementById("panel-text");
  const history = [];
  const documents = new Map();
  let busy = false;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addMessage(role) {
    const item = element("li", "message " + role);
    messages.appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  function citationButton(citation, label, className) {
    const button = element("button", className, label);
    button.type = "button";
    button.setAttribute("aria-label", "Show citation " + citation.n + " in the article");
    button.dataset.n = String(citation.n);
    button.addEventListener("click", () => openDocument(citation));
    return button;
  }

  // Render "text [1] more [2]" with the markers as buttons; the short answer, if any, in bold.
  function renderAnswer(bubble, answer) {
    bubble.textContent = "";
    bubble.classList.toggle("not-found", !answer.found);
    const byNumber = new Map(answer.citations.map((c) => [c.n, c]));
    let body = answer.answer;
    if (answer.short_answer && body.startsWith(answer.short_answer + "\n\n")) {
      bubble.appendChild(element("p", "short-answer", answer.short_answer));
      body = body.slice(answer.short_answer.length + 2);
    }
    const paragraph = element("p", "answer-text");
    for (const part of body.split(/(\[\d+\])/)) {
      const match = /^\[(\d+)\]$/.exec(part);
      const citation = match && byNumber.get(Number(match[1]));
      paragraph.appendChild(citation ? citationButton(citation, part, "marker") : document.createTextNode(part));
    }
    bubble.appendChild(paragraph);
    if (answer.citations.length) {
      const cards = element("ol", "sources");
      cards.setAttribute("aria-label", "Sources");
      for (const citation of answer.citations) {
        const card = element("li", "source-card");
        const button = citationButton(citation, "", "card-button");
        button.appendChild(element("span", "card-n", "[" + citation.n + "]"));
        button.appendChild(element("span", "card-title", citation.title));
        button.appendChild(element("span", "card-quote", citation.text));
        card.appendChild(button);
        cards.appendChild(card);
      }
      bubble.appendChild(cards);
    }
  }

  async function openDocument(citation) {
    let doc = documents.get(citation.doc_id);
    if (!doc) {
      const response = await fetch("/api/documents/" + encodeURIComponent(citation.doc_id));
      if (!response.ok) {
        status.textContent = "The article could not be loaded.";
        return;
      }
      doc = await response.json();
      documents.set(citation.doc_id, doc);
    }
    panelTitle.textContent = doc.title;
    panelText.textContent = "";
    panelText.appendChild(document.createTextNode(doc.text.slice(0, citation.start)));
    const mark = element("mark", "cited", doc.text.slice(citation.start, citation.end));
    mark.id = "cited";
    panelText.appendChild(mark);
    panelText.appendChild(document.createTextNode(doc.text.slice(citation.end)));
    panel.hidden = false;
    document.body.classList.add("panel-open");
    mark.scrollIntoView({ block: "center" });
    panel.focus({ preventScroll: true });
  }

  function closePanel() {
    panel.hidden = true;
    document.body.classList.remove("panel-open");
    input.focus();
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
    bubble.appendChild(element("p", "working-text", "Reading the article\u2026"));
    status.textContent = "Working on your question\u2026";
    try {
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ question, stream: true, history: history.slice(-6) }),
      });
      if (!response.ok) {
        let message = "Something went wrong; please try again.";
        try { message = (await response.json()).error || message; } catch (error) { /* keep the default */ }
        throw new Error(message);
      }
      let streamed = "";
      let final = null;
      await readEvents(response, (name, data) => {
        if (name === "delta") {
          bubble.classList.remove("working");
          streamed += data.text;
          bubble.textContent = "";
          bubble.appendChild(element("p", "answer-text", streamed));
        } else if (name === "done") {
          final = data;
        }
      });
      if (!final) throw new Error("The answer was cut off; please try again.");
      bubble.classList.remove("working");
      renderAnswer(bubble, final);
      history.push({ role: "user", content: question }, { role: "assistant", content: final.answer });
      status.textContent = final.found ? "Answered." : "The article doesn't say.";
    } catch (error) {
      bubble.classList.remove("working");
      bubble.classList.add("error");
      bubble.textContent = "";
      bubble.appendChild(element("p", "", error.message));
      status.textContent = error.message;
    } finally {
      busy = false;
      send.disabled = false;
      bubble.scrollIntoView({ block: "nearest" });
      input.focus();
    }
  }

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
  document.getElementById("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) closePanel();
  });
  input.focus();
})();
