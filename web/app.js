/* ReportSearch web UI — vanilla JS, no dependencies.
 * Report and query text is always rendered with textContent / text nodes. */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var INDEX_HINT = "No index is loaded. Build one with `reportsearch index PATH`, then restart the server and reload this page.";
  var UNREACHABLE = "Cannot reach the ReportSearch server. Check that it is running, then try again.";

  var state = {
    mode: "ask",
    history: [],          // completed turns [{role, content}]
    busy: false,
    controller: null,     // AbortController of the request in flight
    docCache: new Map(),  // id -> Promise<document>
    viewerSource: null,   // what the viewer shows (for Copy citation)
    viewerOpener: null,   // element to refocus when the viewer closes
    nearBottom: true
  };

  // ---------- small helpers ----------

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function button(cls, text, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    if (onClick) b.addEventListener("click", onClick);
    return b;
  }

  function fmtDate(iso) {
    if (!iso) return "undated";
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso));
    if (!m) return String(iso);
    return Number(m[3]) + " " + MONTHS[Number(m[2]) - 1] + " " + m[1];
  }

  function fmtNumber(n) {
    return Number(n || 0).toLocaleString("en-GB");
  }

  function sectionLabel(section) {
    if (!section) return "";
    return [section.number, section.title].filter(Boolean).join(" ");
  }

  function citationText(src) {
    if (src.citation) return src.citation;
    var doc = src.document || {};
    var s = (doc.title || "Untitled") + " (" + fmtDate(doc.date) + ")";
    var sec = sectionLabel(src.section);
    return sec ? s + ", section " + sec : s;
  }

  function metaLine(doc, section, page) {
    var parts = [fmtDate(doc.date)];
    if (doc.doc_type) parts.push(doc.doc_type);
    if (doc.body) parts.push(doc.body);
    var sec = sectionLabel(section);
    if (sec) parts.push("Section " + sec);
    if (page != null) parts.push("p. " + page);
    return parts.join(" · ");
  }

  // ---------- status banner ----------

  function setStatus(kind, message, retry) {
    var box = $("status");
    box.textContent = "";
    if (!message) { box.hidden = true; box.className = "status"; return; }
    box.className = "status status-" + kind;
    box.appendChild(el("span", "status-text", message));
    if (retry) box.appendChild(button("btn btn-small", "Retry", retry));
    box.hidden = false;
  }

  // ---------- API ----------

  function ApiError(kind, message, status) {
    this.kind = kind;        // "network" | "no-index" | "http" | "stream"
    this.message = message;
    this.status = status;
  }

  function detailText(body, status) {
    var d = body && body.detail;
    if (Array.isArray(d)) {
      return d.map(function (e) {
        var loc = Array.isArray(e.loc) ? e.loc.filter(function (x) { return x !== "body"; }).join(".") : "";
        return (loc ? loc + ": " : "") + (e.msg || JSON.stringify(e));
      }).join("; ");
    }
    if (typeof d === "string" && d) return d;
    return "The server returned an error (HTTP " + status + ").";
  }

  async function errorFromResponse(res) {
    var body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (res.status === 503) {
      var d = body && typeof body.detail === "string" && body.detail ? " (Server said: " + body.detail + ")" : "";
      return new ApiError("no-index", INDEX_HINT + d, 503);
    }
    return new ApiError("http", detailText(body, res.status), res.status);
  }

  async function api(method, path, payload, signal) {
    var res;
    try {
      res = await fetch(path, {
        method: method,
        headers: payload ? { "Content-Type": "application/json", "Accept": "application/json" } : { "Accept": "application/json" },
        body: payload ? JSON.stringify(payload) : undefined,
        signal: signal
      });
    } catch (e) {
      if (e && e.name === "AbortError") throw e;
      throw new ApiError("network", UNREACHABLE);
    }
    if (!res.ok) throw await errorFromResponse(res);
    try { return await res.json(); } catch (e) {
      throw new ApiError("http", "The server sent a response that could not be read.", res.status);
    }
  }

  function reportError(err) {
    if (err && err.name === "AbortError") return;
    var msg = (err && err.message) || "Something went wrong.";
    if (err && err.kind === "network") setStatus("error", msg, checkHealth);
    else if (err && err.kind === "no-index") setStatus("warning", msg, checkHealth);
    else setStatus("error", msg);
  }

  // Streams /api/ask as server-sent events. Calls handlers.passages(list), handlers.token(text).
  // Resolves with the final answer object; rejects with ApiError.
  async function askStream(payload, handlers, signal) {
    var res;
    try {
      res = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: JSON.stringify(payload),
        signal: signal
      });
    } catch (e) {
      if (e && e.name === "AbortError") throw e;
      throw new ApiError("network", UNREACHABLE);
    }
    if (!res.ok) throw await errorFromResponse(res);
    var type = res.headers.get("content-type") || "";
    if (type.indexOf("text/event-stream") === -1) return res.json(); // server answered with plain JSON
    if (!res.body || !res.body.getReader) throw new ApiError("stream", "Streaming not supported");

    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    var answer = null;

    function dispatch(block) {
      var event = "message", data = [];
      block.split(/\r?\n/).forEach(function (line) {
        if (!line || line.charAt(0) === ":") return;
        var i = line.indexOf(":");
        var field = i === -1 ? line : line.slice(0, i);
        var value = i === -1 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      });
      if (!data.length) return;
      var parsed;
      try { parsed = JSON.parse(data.join("\n")); } catch (e) { return; }
      if (event === "passages") handlers.passages(parsed);
      else if (event === "token") handlers.token(parsed && parsed.text != null ? String(parsed.text) : "");
      else if (event === "answer") answer = parsed;
      else if (event === "error") {
        var d = parsed && parsed.detail;
        throw new ApiError("http", typeof d === "string" ? d : detailText(parsed, 500));
      }
    }

    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      var parts = buffer.split(/\r?\n\r?\n/);
      buffer = parts.pop();
      for (var i = 0; i < parts.length; i++) dispatch(parts[i]);
      if (answer) { try { reader.cancel(); } catch (e) { /* ignore */ } break; }
    }
    if (!answer && buffer.trim()) dispatch(buffer);
    if (!answer) throw new ApiError("stream", "The answer stream ended early");
    return answer;
  }

  // ---------- health ----------

  async function checkHealth() {
    var stats = $("index-stats");
    try {
      var h = await api("GET", "/api/health");
      var docs = Number(h.documents || 0);
      stats.textContent = fmtNumber(docs) + (docs === 1 ? " document" : " documents") +
        " · " + fmtNumber(h.chunks) + " passages";
      stats.title = h.model ? "Model: " + h.model : "";
      setStatus(null, "");
      loadDocuments();
    } catch (err) {
      stats.textContent = err.kind === "no-index" ? "No index" : "Offline";
      if (!documentsLoaded) {
        $("filter-documents").textContent = "";
        $("filter-documents").appendChild(el("option", null, "Unavailable")).disabled = true;
      }
      reportError(err);
    }
  }

  // ---------- filters ----------

  var documentsLoaded = false;

  async function loadDocuments() {
    if (documentsLoaded) return;
    var sel = $("filter-documents"), types = $("filter-doc-types");
    try {
      var docs = await api("GET", "/api/documents");
      documentsLoaded = true;
      sel.textContent = "";
      docs.slice().sort(function (a, b) { return String(b.date || "").localeCompare(String(a.date || "")); })
        .forEach(function (d) {
          var opt = el("option", null, (d.title || d.id) + " — " + fmtDate(d.date));
          opt.value = d.id;
          opt.title = opt.textContent;
          sel.appendChild(opt);
        });
      if (!docs.length) sel.appendChild(el("option", null, "No documents indexed")).disabled = true;
      var distinct = Array.from(new Set(docs.map(function (d) { return d.doc_type; }).filter(Boolean))).sort();
      types.textContent = "";
      distinct.forEach(function (t) {
        var opt = el("option", null, t);
        opt.value = t;
        types.appendChild(opt);
      });
      types.size = Math.max(2, Math.min(distinct.length, 5));
    } catch (err) {
      sel.textContent = "";
      sel.appendChild(el("option", null, "Could not load documents")).disabled = true;
    }
  }

  function selectedValues(select) {
    return Array.from(select.selectedOptions || []).map(function (o) { return o.value; }).filter(Boolean);
  }

  // Adds the active filters to a request body, marks the page busy; returns its AbortController.
  function beginRequest(payload) {
    var filters = currentFilters();
    if (filters) payload.filters = filters;
    var controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    return controller;
  }

  function currentFilters() {
    var f = {};
    var ids = selectedValues($("filter-documents"));
    var types = selectedValues($("filter-doc-types"));
    if (ids.length) f.document_ids = ids;
    if ($("filter-date-from").value) f.date_from = $("filter-date-from").value;
    if ($("filter-date-to").value) f.date_to = $("filter-date-to").value;
    if (types.length) f.doc_types = types;
    return Object.keys(f).length ? f : null;
  }

  function updateFilterSummary() {
    var f = currentFilters();
    var parts = [];
    if (f && f.document_ids) parts.push(f.document_ids.length + (f.document_ids.length === 1 ? " document" : " documents"));
    if (f && f.date_from) parts.push("from " + fmtDate(f.date_from));
    if (f && f.date_to) parts.push("to " + fmtDate(f.date_to));
    if (f && f.doc_types) parts.push("type: " + f.doc_types.join(", "));
    $("filter-summary").textContent = parts.length ? "Filtered: " + parts.join(" · ") : "Searching all reports";
    $("clear-filters").disabled = !parts.length;
    $("filters-panel").classList.toggle("has-filters", parts.length > 0);
  }

  function clearFilters() {
    ["filter-documents", "filter-doc-types"].forEach(function (id) {
      Array.from($(id).options).forEach(function (o) { o.selected = false; });
    });
    $("filter-date-from").value = "";
    $("filter-date-to").value = "";
    updateFilterSummary();
  }

  // ---------- answer rendering ----------

  // Fills `container` with answer text, turning [n] / [n, m] markers into chips.
  function renderAnswerText(container, text, onChip) {
    container.textContent = "";
    var re = /\[(\d+(?:\s*,\s*\d+)*)\]/g, last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) container.appendChild(document.createTextNode(text.slice(last, m.index)));
      m[1].split(",").forEach(function (s) {
        var n = Number(s.trim());
        var chip = button("citation-chip", String(n));
        chip.dataset.n = String(n);
        chip.setAttribute("aria-label", "Source " + n);
        chip.addEventListener("click", function () { onChip(n, chip); });
        container.appendChild(chip);
      });
      last = re.lastIndex;
    }
    if (last < text.length) container.appendChild(document.createTextNode(text.slice(last)));
  }

  function sourceCard(src, n, openFn) {
    var li = el("li", "source-card");
    var head = el("div", "source-head");
    if (n != null) head.appendChild(el("span", "source-n", n));
    head.appendChild(el("span", "source-title", (src.document && src.document.title) || "Untitled"));
    li.appendChild(head);
    li.appendChild(el("p", "source-meta", metaLine(src.document || {}, src.section, src.page)));
    var quote = src.quote != null ? src.quote : src.text;
    if (quote) li.appendChild(el("blockquote", "source-quote", quote));
    li.appendChild(el("p", "source-citation", citationText(src)));
    var open = button("btn btn-small open-source", "Show in document", function () { openFn(open); });
    li.appendChild(open);
    return li;
  }

  // One assistant turn in the transcript.
  function AssistantMessage(question) {
    this.question = question;
    this.node = el("article", "message assistant");
    this.node.setAttribute("aria-label", "Answer");
    this.node.setAttribute("aria-busy", "true");
    this.header = el("div", "message-header");
    this.header.appendChild(el("span", "message-author", "ReportSearch"));
    this.node.appendChild(this.header);
    this.loading = el("div", "loading");
    this.loading.appendChild(el("span", "dots"));
    this.loadingText = el("span", null, "Searching the reports…");
    this.loading.appendChild(this.loadingText);
    this.node.appendChild(this.loading);
    this.text = el("div", "answer-text");
    this.node.appendChild(this.text);
    this.streamed = "";
    this.passages = [];
    this.answer = null;
    this.pending = false;
  }

  AssistantMessage.prototype.setPassages = function (list) {
    this.passages = Array.isArray(list) ? list : [];
    this.loadingText.textContent = "Reading " + this.passages.length + " passages…";
  };

  AssistantMessage.prototype.appendToken = function (t) {
    this.streamed += t;
    if (this.pending) return;
    this.pending = true;
    var self = this;
    requestAnimationFrame(function () {
      self.pending = false;
      if (self.answer) return;
      self.loading.hidden = true;
      renderAnswerText(self.text, self.streamed, self.openCitation.bind(self));
      keepScrolled();
    });
  };

  AssistantMessage.prototype.openCitation = function (n, opener) {
    var a = this.answer;
    var cit = a && (a.citations || []).find(function (c) { return Number(c.n) === n; });
    var passages = (a && a.passages) || this.passages;
    if (cit) {
      // The citation's own span locates the quote; the passage around it gives context.
      var passage = passages.find(function (p) {
        return p.document && cit.document && p.document.id === cit.document.id && Array.isArray(cit.span) &&
          p.span[0] <= cit.span[0] && cit.span[1] <= p.span[1];
      }) || passages.find(function (p) { return p.chunk_id === cit.chunk_id; });
      openViewer({ document: cit.document, section: cit.section, page: cit.page, citation: cit.citation,
                   quote: cit.quote, span: cit.span || null, passage: passage || null }, opener);
    } else if (passages[n - 1]) {
      openPassage(passages[n - 1], opener);
    } else {
      setStatus("info", "Source " + n + " is not available for this answer.");
    }
  };

  AssistantMessage.prototype.finish = function (answer) {
    this.answer = answer;
    this.node.removeAttribute("aria-busy");
    this.loading.hidden = true;
    var self = this;
    var text = answer.answer || "";
    renderAnswerText(this.text, text, this.openCitation.bind(this));

    if (answer.answerable === false) {
      this.node.classList.add("abstained");
      this.header.appendChild(el("span", "badge badge-abstained", "Not found in these reports"));
    }
    if (answer.notice) this.node.insertBefore(el("p", "notice", answer.notice), this.text);

    var citations = answer.citations || [];
    var passages = answer.passages || this.passages || [];
    var list = el("ol", "source-list");
    var heading;
    if (answer.answerable !== false && citations.length) {
      heading = "Sources";
      citations.forEach(function (c) {
        list.appendChild(sourceCard(c, c.n, function (b) { self.openCitation(Number(c.n), b); }));
      });
    } else if (passages.length) {
      heading = answer.answerable === false ? "Related reading (not evidence for an answer)" : "Retrieved passages";
      passages.slice(0, 3).forEach(function (p) {
        list.appendChild(sourceCard(p, null, function (b) { openPassage(p, b); }));
      });
    }
    if (heading) {
      var sources = el("section", "sources" + (answer.answerable === false ? " related" : ""));
      sources.appendChild(el("h3", "sources-heading", heading));
      sources.appendChild(list);
      this.node.appendChild(sources);
    }

    var actions = el("div", "message-actions");
    var meta = answer.took_ms != null ? "Answered in " + (answer.took_ms / 1000).toFixed(1) + " s" : "";
    if (meta) actions.appendChild(el("span", "took", meta));
    actions.appendChild(button("btn btn-small btn-ghost print-answer", "Print", function () { printMessage(self.node); }));
    this.node.appendChild(actions);

    var announce = (answer.answerable === false ? "Not found in these reports. " : "Answer: ") + text;
    $("announcer").textContent = announce.length > 600 ? announce.slice(0, 600) + "…" : announce;
  };

  AssistantMessage.prototype.fail = function (err) {
    this.node.removeAttribute("aria-busy");
    this.loading.hidden = true;
    this.node.classList.add("failed");
    this.text.textContent = "";
    var msg = err && err.name === "AbortError" ? "Stopped." : (err && err.message) || "Something went wrong.";
    this.node.appendChild(el("p", "message-error", msg));
    if (!(err && err.name === "AbortError")) $("announcer").textContent = "Error: " + msg;
  };

  // ---------- chat ----------

  function transcript() { return $("transcript"); }

  function keepScrolled() {
    if (state.nearBottom) { var t = $("chat-view"); t.scrollTop = t.scrollHeight; }
  }

  async function ask(question) {
    var empty = $("chat-empty");
    if (empty) empty.remove();
    var user = el("article", "message user");
    user.setAttribute("aria-label", "Your question");
    user.appendChild(el("div", "message-text", question));
    transcript().appendChild(user);
    var msg = new AssistantMessage(question);
    transcript().appendChild(msg.node);
    state.nearBottom = true;
    keepScrolled();

    var payload = { question: question, k: 8, history: state.history.slice() };
    var controller = beginRequest(payload);
    try {
      var answer;
      try {
        answer = await askStream(payload, {
          passages: function (p) { msg.setPassages(p); },
          token: function (t) { msg.appendToken(t); }
        }, controller.signal);
      } catch (err) {
        if (!(err instanceof ApiError) || err.kind !== "stream") throw err;
        msg.streamed = "";
        msg.loading.hidden = false;
        msg.loadingText.textContent = "Waiting for the answer…";
        answer = await api("POST", "/api/ask", payload, controller.signal); // non-streaming fallback
      }
      if (controller !== state.controller) return; // conversation was reset
      msg.finish(answer);
      state.history.push({ role: "user", content: question }, { role: "assistant", content: answer.answer || "" });
      if ($("status").classList.contains("status-error") || $("status").classList.contains("status-warning")) setStatus(null, "");
    } catch (err) {
      if (controller !== state.controller) return;
      msg.fail(err);
      reportError(err);
      if (!$("question").value) $("question").value = question; // let the user retry
    } finally {
      if (controller === state.controller) { state.controller = null; setBusy(false); }
      keepScrolled();
    }
  }

  function newConversation() {
    if (state.controller) state.controller.abort();
    state.controller = null;
    setBusy(false);
    state.history = [];
    var t = transcript();
    t.textContent = "";
    var empty = el("div", "empty-state");
    empty.id = "chat-empty";
    empty.appendChild(el("h2", null, "Ask about your reports"));
    empty.appendChild(el("p", null, "Questions are answered only from the indexed reports, with numbered citations you can open to read the source."));
    t.appendChild(empty);
    closeViewer(false);
    setMode("ask");
    $("question").value = "";
    showValidation("");
    $("announcer").textContent = "Started a new conversation.";
    $("question").focus();
  }

  function printMessage(node) {
    var prev = node.previousElementSibling;
    node.classList.add("print-target");
    if (prev && prev.classList.contains("user")) prev.classList.add("print-target");
    document.body.classList.add("print-one");
    var cleanup = function () {
      document.body.classList.remove("print-one");
      document.querySelectorAll(".print-target").forEach(function (n) { n.classList.remove("print-target"); });
      window.removeEventListener("afterprint", cleanup);
    };
    window.addEventListener("afterprint", cleanup);
    window.print();
    setTimeout(cleanup, 1000);
  }

  // ---------- search ----------

  async function search(query) {
    var box = $("search-results");
    box.textContent = "";
    var loading = el("div", "loading");
    loading.appendChild(el("span", "dots"));
    loading.appendChild(el("span", null, "Searching…"));
    box.appendChild(loading);
    box.setAttribute("aria-busy", "true");

    var payload = { query: query, k: 10 };
    var controller = beginRequest(payload);
    try {
      var data = await api("POST", "/api/search", payload, controller.signal);
      if (controller !== state.controller) return;
      renderResults(data, query);
      if (!$("status").classList.contains("status-info")) setStatus(null, "");
    } catch (err) {
      if (controller !== state.controller) return;
      box.textContent = "";
      if (err.name !== "AbortError") box.appendChild(el("p", "message-error", err.message || "Search failed."));
      reportError(err);
    } finally {
      box.removeAttribute("aria-busy");
      if (controller === state.controller) { state.controller = null; setBusy(false); }
    }
  }

  function renderResults(data, query) {
    var box = $("search-results");
    box.textContent = "";
    var results = data.results || [];
    var summary = results.length
      ? results.length + (results.length === 1 ? " passage" : " passages") + " for “" + query + "”"
      : "No passages matched “" + query + "”. Try other words or clear the filters.";
    if (data.took_ms != null && results.length) summary += " · " + Math.round(data.took_ms) + " ms";
    box.appendChild(el("p", "results-summary", summary));
    $("announcer").textContent = summary;
    var list = el("ol", "result-list");
    results.forEach(function (r) {
      var li = el("li", "result");
      var head = el("div", "result-head");
      head.appendChild(el("span", "result-rank", r.rank != null ? r.rank : ""));
      head.appendChild(el("h3", "result-title", (r.document && r.document.title) || "Untitled"));
      if (typeof r.score === "number") head.appendChild(el("span", "result-score", "score " + r.score.toFixed(3)));
      li.appendChild(head);
      li.appendChild(el("p", "source-meta", metaLine(r.document || {}, r.section, r.page)));
      li.appendChild(el("p", "result-text", r.text || ""));
      li.appendChild(el("p", "source-citation", citationText(r)));
      var open = button("btn btn-small open-source", "Open in document", function () { openPassage(r, open); });
      li.appendChild(open);
      list.appendChild(li);
    });
    box.appendChild(list);
  }

  // ---------- viewer ----------

  function getDocument(id) {
    if (!state.docCache.has(id)) {
      var p = api("GET", "/api/documents/" + encodeURIComponent(id));
      p.catch(function () { state.docCache.delete(id); });
      state.docCache.set(id, p);
    }
    return state.docCache.get(id);
  }

  function openPassage(p, opener) {
    openViewer({ document: p.document, section: p.section, page: p.page, citation: p.citation,
                 quote: null, passage: p }, opener);
  }

  function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  // Returns [start, end) of the quote (or the passage) within the document text.
  function locate(text, src) {
    var p = src.passage, q = src.quote;
    var span = p && Array.isArray(p.span) ? p.span : null;
    if (q && Array.isArray(src.span) && text.slice(src.span[0], src.span[1]) === q) return [src.span[0], src.span[1]];
    if (q) {
      if (p && span) {
        var i = (p.text || "").indexOf(q);
        if (i >= 0 && text.substr(span[0] + i, q.length) === q) return [span[0] + i, span[0] + i + q.length];
      }
      var j = text.indexOf(q, span ? Math.max(0, span[0] - 500) : 0);
      if (j < 0) j = text.indexOf(q);
      if (j >= 0) return [j, j + q.length];
      var words = q.trim().split(/\s+/).map(escapeRegExp);
      if (words.length && words[0]) {
        var m = new RegExp(words.join("\\s+")).exec(text);
        if (m) return [m.index, m.index + m[0].length];
      }
    }
    if (span) return [Math.max(0, span[0]), Math.min(text.length, span[1])];
    if (p && p.text) {
      var k = text.indexOf(p.text);
      if (k >= 0) return [k, k + p.text.length];
    }
    return null;
  }

  async function openViewer(src, opener) {
    var viewer = $("viewer"), body = $("viewer-body");
    var doc = src.document || {};
    state.viewerSource = src;
    state.viewerOpener = opener || document.activeElement;
    $("viewer-title").textContent = doc.title || "Source";
    $("viewer-meta").textContent = [fmtDate(doc.date), doc.doc_type, doc.body].filter(Boolean).join(" · ");
    var sec = sectionLabel(src.section);
    var path = src.section && Array.isArray(src.section.path) ? src.section.path.slice(0, -1) : [];
    path.push(sec ? "Section " + sec : "No section heading");
    $("viewer-section").textContent = path.join(" › ") + (src.page != null ? " · p. " + src.page : "");
    var quoteBox = $("viewer-quote");
    quoteBox.textContent = src.quote || "";
    quoteBox.hidden = !src.quote;
    $("copy-citation").textContent = "Copy citation";
    body.textContent = "";
    body.appendChild(el("p", "loading", "Loading document…"));
    viewer.hidden = false;
    document.body.classList.add("viewer-open");
    $("viewer-title").focus();

    var full;
    try {
      full = await getDocument(doc.id);
    } catch (err) {
      if (state.viewerSource !== src) return;
      body.textContent = "";
      body.appendChild(el("p", "message-error", err.message || "Could not load the document."));
      if (src.passage && src.passage.text) body.appendChild(el("p", "doc-text", src.passage.text));
      return;
    }
    if (state.viewerSource !== src) return; // another source was opened meanwhile
    if (full.title) $("viewer-title").textContent = full.title;
    var text = full.text || "";
    var range = locate(text, src);
    body.textContent = "";
    var pre = el("div", "doc-text");
    if (!range) {
      pre.textContent = text;
      body.appendChild(pre);
      return;
    }
    var span = src.passage && Array.isArray(src.passage.span) ? src.passage.span : range;
    var pStart = Math.min(span[0], range[0]), pEnd = Math.max(span[1], range[1]);
    pre.appendChild(document.createTextNode(text.slice(0, pStart)));
    var passage = el("span", "passage");
    passage.appendChild(document.createTextNode(text.slice(pStart, range[0])));
    var mark = el("mark", "highlight", text.slice(range[0], range[1]));
    passage.appendChild(mark);
    passage.appendChild(document.createTextNode(text.slice(range[1], pEnd)));
    pre.appendChild(passage);
    pre.appendChild(document.createTextNode(text.slice(pEnd)));
    body.appendChild(pre);
    requestAnimationFrame(function () {
      var top = mark.getBoundingClientRect().top - body.getBoundingClientRect().top + body.scrollTop;
      body.scrollTop = Math.max(0, top - body.clientHeight / 3);
    });
  }

  function closeViewer(restoreFocus) {
    var viewer = $("viewer");
    if (viewer.hidden) return;
    viewer.hidden = true;
    document.body.classList.remove("viewer-open");
    state.viewerSource = null;
    var opener = state.viewerOpener;
    state.viewerOpener = null;
    if (restoreFocus !== false && opener && document.contains(opener)) opener.focus();
  }

  async function copyToClipboard(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
    } catch (e) { /* fall back below */ }
    var ta = el("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.left = "-9999px";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  async function copyCitation() {
    var src = state.viewerSource;
    if (!src) return;
    var doc = src.document || {};
    var parts = [(doc.title || "Untitled") + " (" + fmtDate(doc.date) + ")"];
    var sec = sectionLabel(src.section);
    if (sec) parts.push("section " + sec);
    if (src.page != null) parts.push("p. " + src.page);
    var quote = src.quote || (src.passage && src.passage.text) || "";
    var text = parts.join(", ") + (quote ? "\n“" + quote.trim() + "”" : "");
    var btn = $("copy-citation");
    var ok = await copyToClipboard(text);
    btn.textContent = ok ? "Copied" : "Copy failed";
    $("announcer").textContent = ok ? "Citation copied." : "Could not copy the citation.";
    clearTimeout(copyCitation.timer);
    copyCitation.timer = setTimeout(function () { btn.textContent = "Copy citation"; }, 2500);
  }

  // ---------- composer & modes ----------

  function setBusy(busy) {
    state.busy = busy;
    $("send").disabled = busy;
    $("send").textContent = busy ? (state.mode === "ask" ? "Answering…" : "Searching…") : (state.mode === "ask" ? "Send" : "Search");
    $("content").setAttribute("aria-busy", busy ? "true" : "false");
  }

  function setMode(mode) {
    state.mode = mode;
    var askMode = mode === "ask";
    $("mode-ask").setAttribute("aria-pressed", String(askMode));
    $("mode-search").setAttribute("aria-pressed", String(!askMode));
    $("chat-view").hidden = !askMode;
    $("search-view").hidden = askMode;
    $("question-label").textContent = askMode ? "Ask a question about the reports" : "Search the reports";
    $("question").placeholder = askMode ? "e.g. What did the panel decide about the precept?" : "e.g. precept increase 2017";
    $("question-hint").textContent = askMode ? "Enter to send · Shift+Enter for a new line" : "Enter to search";
    setBusy(state.busy);
    showValidation("");
  }

  function showValidation(msg) {
    $("question-error").textContent = msg;
    if (msg) $("question").setAttribute("aria-invalid", "true");
    else $("question").removeAttribute("aria-invalid");
  }

  function submit() {
    if (state.busy) return;
    var q = $("question").value.trim();
    if (!q) {
      showValidation(state.mode === "ask" ? "Please type a question first." : "Please type something to search for.");
      $("question").focus();
      return;
    }
    var from = $("filter-date-from").value, to = $("filter-date-to").value;
    if (from && to && from > to) {
      showValidation("The “From date” filter is after the “To date”. Fix the date range first.");
      return;
    }
    showValidation("");
    if (state.mode === "ask") { $("question").value = ""; ask(q); }
    else search(q);
  }

  function init() {
    $("composer").addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    $("question").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    $("question").addEventListener("input", function () {
      if ($("question-error").textContent && $("question").value.trim()) showValidation("");
    });
    $("mode-ask").addEventListener("click", function () { setMode("ask"); });
    $("mode-search").addEventListener("click", function () { setMode("search"); });
    $("new-conversation").addEventListener("click", newConversation);
    $("viewer-close").addEventListener("click", function () { closeViewer(); });
    $("copy-citation").addEventListener("click", copyCitation);
    $("clear-filters").addEventListener("click", clearFilters);
    ["filter-documents", "filter-doc-types", "filter-date-from", "filter-date-to"].forEach(function (id) {
      $(id).addEventListener("change", updateFilterSummary);
      $(id).addEventListener("input", updateFilterSummary);
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !$("viewer").hidden) { e.preventDefault(); closeViewer(); }
    });
    $("chat-view").addEventListener("scroll", function () {
      var v = $("chat-view");
      state.nearBottom = v.scrollHeight - v.scrollTop - v.clientHeight < 80;
    });
    if (window.matchMedia && window.matchMedia("(max-width: 720px)").matches) $("filters-panel").open = false;
    updateFilterSummary();
    checkHealth();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
