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
    nearBottom: true,
    documents: [],        // the papers the caller may see (for the filter list and "filters exclude all")
    turns: [],            // [{question, answer}] of this conversation, for the meeting brief
    filtersOpenBeforeViewer: null
  };

  // ---------- small helpers ----------

  // A member's or officer's key (reportsearch keys add NAME --role member) lets this tab see restricted
  // papers; it is kept in sessionStorage only, so it goes when the tab closes.
  var KEY_STORE = "reportsearch-key";

  function accessKey() {
    try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  function withKey(headers) {
    var key = accessKey();
    if (key) headers.Authorization = "Bearer " + key;
    return headers;
  }

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

  // A date typed the British way: "01/03/2017", "1/3/17", "1 March 2017" or ISO "2017-03-01".
  // Returns {iso} or {error}; an empty box returns {iso: ""}.
  var MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december"];
  function parseDateInput(raw) {
    var s = String(raw || "").trim();
    if (!s) return { iso: "" };
    var d, m, y, hit;
    if ((hit = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s))) { y = +hit[1]; m = +hit[2]; d = +hit[3]; }
    else if ((hit = /^(\d{1,2})[\/.\-](\d{1,2})[\/.\-](\d{2}|\d{4})$/.exec(s))) { d = +hit[1]; m = +hit[2]; y = +hit[3]; }
    else if ((hit = /^(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+),?\s+(\d{4})$/.exec(s))) {
      d = +hit[1]; y = +hit[3];
      var name = hit[2].toLowerCase();
      m = MONTH_NAMES.findIndex(function (n) { return name.length >= 3 && n.indexOf(name) === 0; }) + 1;
    }
    if (!hit || !m) return { error: "write it as day/month/year, e.g. 01/03/2017" };
    if (y < 100) y += 2000;
    var date = new Date(Date.UTC(y, m - 1, d));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
      return { error: "there is no such date (day/month/year)" };
    }
    return { iso: y + "-" + String(m).padStart(2, "0") + "-" + String(d).padStart(2, "0") };
  }

  // "Answered in 1.4 s", "in 180 ms"; an answer served from a cache took no measurable time.
  function fmtTook(ms) {
    if (ms == null || !(ms >= 1)) return "Answered from cache";
    if (ms < 1000) return "Answered in " + Math.round(ms) + " ms";
    return "Answered in " + (ms / 1000).toFixed(1) + " s";
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

  // Where in the paper, as the server's citation words it ("Minute 219, paragraph 13 …",
  // "Section 3.2 Revenue"), else from the section itself.
  function placeLabel(src) {
    var doc = src.document || {}, c = src.citation || "";
    var head = (doc.title || "") + " (";
    var close = c.indexOf("), ", head.length - 2);
    if (doc.title && c.indexOf(head) === 0 && close > 0) {
      var place = c.slice(close + 3).replace(/,?\s*p\. \S+$/, "");
      if (place) return place.charAt(0).toUpperCase() + place.slice(1);
    }
    var sec = sectionLabel(src.section);
    return sec ? "Section " + sec : "";
  }

  function metaLine(doc, section, page, citation) {
    var parts = [fmtDate(doc.date)];
    if (doc.doc_type) parts.push(doc.doc_type);
    if (doc.body) parts.push(doc.body);
    var place = placeLabel({ document: doc, section: section, citation: citation });
    if (place) parts.push(place);
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
        headers: withKey(payload ? { "Content-Type": "application/json", "Accept": "application/json" } : { "Accept": "application/json" }),
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
        headers: withKey({ "Content-Type": "application/json", "Accept": "text/event-stream" }),
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
      loadDocuments().then(updateFilterSummary);
      if (!examples.length) loadExamples();
      loadSaved();
    } catch (err) {
      stats.textContent = err.kind === "no-index" ? "No index" : "Offline";
      if (!documentsLoaded) {
        $("filter-documents").textContent = "";
        $("filter-documents").appendChild(el("p", "hint", "Unavailable"));
      }
      reportError(err);
    }
  }

  // ---------- filters ----------

  var documentsLoaded = false;

  async function loadDocuments() {
    if (documentsLoaded) return;
    var list = $("filter-documents"), types = $("filter-doc-types"), bodies = $("filter-bodies");
    try {
      var docs = await api("GET", "/api/documents");
      documentsLoaded = true;
      state.documents = docs;
      list.textContent = "";
      docs.slice().sort(function (a, b) { return String(b.date || "").localeCompare(String(a.date || "")); })
        .forEach(function (d) {
          var id = "doc-" + d.id;
          var row = el("label", "doc-option");
          row.htmlFor = id;
          var box = el("input");
          box.type = "checkbox";
          box.id = id;
          box.value = d.id;
          box.className = "doc-check";
          row.appendChild(box);
          var text = el("span", "doc-option-text");
          text.appendChild(el("span", "doc-option-title", d.title || d.id));
          text.appendChild(el("span", "doc-option-meta", [fmtDate(d.date), d.doc_type, d.body].filter(Boolean).join(" · ")));
          row.appendChild(text);
          list.appendChild(row);
        });
      if (!docs.length) list.appendChild(el("p", "hint", "No documents indexed"));
      fillSelect(types, docs.map(function (d) { return d.doc_type; }));
      fillSelect(bodies, docs.map(function (d) { return d.body; }));
    } catch (err) {
      list.textContent = "";
      list.appendChild(el("p", "hint", "Could not load documents"));
    }
  }

  function fillSelect(select, values) {
    var distinct = Array.from(new Set(values.filter(Boolean))).sort();
    select.textContent = "";
    distinct.forEach(function (t) {
      var opt = el("option", null, t);
      opt.value = t;
      opt.title = t;
      select.appendChild(opt);
    });
    select.size = Math.max(2, Math.min(distinct.length, 5));
  }

  function selectedValues(select) {
    return Array.from(select.selectedOptions || []).map(function (o) { return o.value; }).filter(Boolean);
  }

  function checkedDocuments() {
    return Array.from(document.querySelectorAll("#filter-documents .doc-check:checked")).map(function (b) { return b.value; });
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
    var ids = checkedDocuments();
    var types = selectedValues($("filter-doc-types"));
    var bodies = selectedValues($("filter-bodies"));
    var from = parseDateInput($("filter-date-from").value), to = parseDateInput($("filter-date-to").value);
    if (ids.length) f.document_ids = ids;
    if (from.iso) f.date_from = from.iso;
    if (to.iso) f.date_to = to.iso;
    if (types.length) f.doc_types = types;
    if (bodies.length) f.bodies = bodies;
    return Object.keys(f).length ? f : null;
  }

  // How many of the caller's papers the filters let through (the page knows them all).
  function papersAllowed(f) {
    if (!f) return state.documents.length;
    return state.documents.filter(function (d) {
      if (f.document_ids && f.document_ids.indexOf(d.id) < 0) return false;
      if (f.doc_types && f.doc_types.indexOf(d.doc_type) < 0) return false;
      if (f.bodies && f.bodies.indexOf(d.body) < 0) return false;
      if ((f.date_from || f.date_to) && !d.date) return false;
      if (f.date_from && d.date < f.date_from) return false;
      if (f.date_to && d.date > f.date_to) return false;
      return true;
    }).length;
  }

  function dateProblem() {
    var from = parseDateInput($("filter-date-from").value), to = parseDateInput($("filter-date-to").value);
    if (from.error) return "“From date”: " + from.error + ".";
    if (to.error) return "“To date”: " + to.error + ".";
    if (from.iso && to.iso && from.iso > to.iso) return "The “From date” filter is after the “To date”. Fix the date range first.";
    return "";
  }

  function updateFilterSummary() {
    var f = currentFilters();
    var parts = [];
    if (f && f.document_ids) parts.push(f.document_ids.length + (f.document_ids.length === 1 ? " document" : " documents"));
    if (f && f.date_from) parts.push("from " + fmtDate(f.date_from));
    if (f && f.date_to) parts.push("to " + fmtDate(f.date_to));
    if (f && f.doc_types) parts.push("type: " + f.doc_types.join(", "));
    if (f && f.bodies) parts.push("meeting: " + f.bodies.join(", "));
    var text = parts.length ? "Filtered: " + parts.join(" · ") : "Searching all reports";
    if (parts.length && documentsLoaded) {
      var n = papersAllowed(f);
      text += n ? " (" + n + (n === 1 ? " paper)" : " papers)") : " — no paper matches these filters";
    }
    if ($("filter-newest").checked) text += " · newest first";
    $("filter-summary").textContent = text;
    $("clear-filters").disabled = !parts.length && !$("filter-newest").checked;
    $("filters-panel").classList.toggle("has-filters", parts.length > 0);
  }

  function clearFilters() {
    ["filter-doc-types", "filter-bodies"].forEach(function (id) {
      Array.from($(id).options).forEach(function (o) { o.selected = false; });
    });
    document.querySelectorAll("#filter-documents .doc-check").forEach(function (b) { b.checked = false; });
    $("filter-date-from").value = "";
    $("filter-date-to").value = "";
    $("filter-newest").checked = false;
    updateFilterSummary();
  }

  // Shown instead of an empty list when the filters let no paper (or no passage) through.
  function excludedNotice(what, retry) {
    var f = currentFilters();
    var n = papersAllowed(f);
    var box = el("div", "excluded");
    box.setAttribute("role", "note");
    box.appendChild(el("p", null, n === 0
      ? "Your filters exclude every paper, so nothing was searched."
      : "Nothing in the " + n + (n === 1 ? " paper" : " papers") + " your filters allow " + what + "."));
    box.appendChild(button("btn btn-small clear-and-retry", "Clear filters and try again", function () {
      clearFilters();
      retry();
    }));
    return box;
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
    li.appendChild(el("p", "source-meta", metaLine(src.document || {}, src.section, src.page_label || src.page, src.citation)));
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
      openViewer({ document: cit.document, section: cit.section, page: cit.page, page_label: cit.page_label,
                   citation: cit.citation,
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

    var citations = answer.citations || [];
    var passages = answer.passages || this.passages || [];
    if (answer.answerable === false) {
      this.node.classList.add("abstained");
      var excluded = !passages.length && currentFilters();
      this.header.appendChild(el("span", "badge badge-abstained", excluded ? "Nothing searched" : "Not found in these reports"));
      if (excluded) {  // "the closest passages are listed below" would list nothing
        this.text.textContent = "";
        this.node.appendChild(excludedNotice("answers this", function () { ask(self.question); }));
      }
    } else if (typeof answer.confidence === "number") {
      this.header.appendChild(evidenceBadge(answer.confidence));
    }
    if (answer.notice && !this.node.querySelector(".excluded")) this.node.insertBefore(el("p", "notice", answer.notice), this.text);
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
    actions.appendChild(el("span", "took", fmtTook(answer.took_ms)));
    // "What did we say before?": the same words through every paper, newest meeting first.
    actions.appendChild(button("btn btn-small btn-ghost trace-precedent", "Earlier wording", function () {
      setMode("precedent");
      $("question").value = self.question;
      precedent(self.question);
    }));
    actions.appendChild(button("btn btn-small btn-ghost print-answer", "Print", function () { printMessage(self.node); }));
    this.node.appendChild(actions);

    var announce = (answer.answerable === false ? "Not found in these reports. " : "Answer: ") + text;
    $("announcer").textContent = announce.length > 600 ? announce.slice(0, 600) + "…" : announce;
  };

  // The answer's calibrated confidence (a probability that the cited evidence answers the question)
  // shown in three plain bands, so a weak answer does not look as certain as a strong one.
  function evidenceBadge(confidence) {
    var c = Math.max(0, Math.min(1, confidence));
    var band = c >= 0.8 ? "strong" : c >= 0.6 ? "moderate" : "weak";
    var badge = el("span", "badge evidence evidence-" + band);
    badge.appendChild(el("span", "evidence-bar", null)).style.setProperty("--level", String(c));
    badge.appendChild(el("span", null, "Evidence: " + band + " (" + Math.round(c * 100) + "%)"));
    badge.title = "Calibrated confidence that the cited passages answer the question";
    return badge;
  }

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
      state.turns.push({ question: question, answer: answer });
      updateBriefButtons();
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
    var ex = el("div", "examples");
    ex.hidden = true;
    ex.appendChild(el("h3", "examples-heading", "Try asking"));
    ex.appendChild(el("ul", "example-list"));
    empty.appendChild(ex);
    t.appendChild(empty);
    state.turns = [];
    updateBriefButtons();
    renderExamples();
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

  // One panel request (search, precedent): a loading line, the call, its rendering or its error.
  async function panelRequest(boxId, loadingText, path, payload, render, failText) {
    var box = $(boxId);
    box.textContent = "";
    var loading = el("div", "loading");
    loading.appendChild(el("span", "dots"));
    loading.appendChild(el("span", null, loadingText));
    box.appendChild(loading);
    box.setAttribute("aria-busy", "true");
    var controller = beginRequest(payload);
    try {
      var data = await api("POST", path, payload, controller.signal);
      if (controller !== state.controller) return;
      render(data);
      if (!$("status").classList.contains("status-info")) setStatus(null, "");
    } catch (err) {
      if (controller !== state.controller) return;
      box.textContent = "";
      if (err.name !== "AbortError") box.appendChild(el("p", "message-error", err.message || failText));
      reportError(err);
    } finally {
      box.removeAttribute("aria-busy");
      if (controller === state.controller) { state.controller = null; setBusy(false); }
    }
  }

  function search(query) {
    var payload = { query: query, k: 10, sort: $("filter-newest").checked ? "newest" : "relevance" };
    return panelRequest("search-results", "Searching…", "/api/search", payload,
                        function (data) { renderResults(data, query); }, "Search failed.");
  }

  function renderResults(data, query) {
    var box = $("search-results");
    box.textContent = "";
    var results = data.results || [];
    if (!results.length && currentFilters()) {
      box.appendChild(excludedNotice("matches “" + query + "”", function () { search(query); }));
      $("announcer").textContent = box.textContent;
      return;
    }
    var summary = results.length
      ? results.length + (results.length === 1 ? " passage" : " passages") + " for “" + query + "”" +
        ($("filter-newest").checked ? ", newest first" : "")
      : "No passages matched “" + query + "”. Try other words.";
    if (data.took_ms != null && results.length) summary += " · " + Math.round(data.took_ms) + " ms";
    box.appendChild(el("p", "results-summary", summary));
    $("announcer").textContent = summary;
    var list = el("ol", "result-list");
    results.forEach(function (r) {
      list.appendChild(resultItem(r, "result", r.rank != null ? r.rank : "",
                                  typeof r.score === "number" ? "score " + r.score.toFixed(3) : null));
    });
    box.appendChild(list);
  }

  // One passage as a list item: rank, title, a side note (score or date found), place, text, citation, open.
  function resultItem(r, cls, rankText, note) {
    var li = el("li", cls);
    var head = el("div", "result-head");
    head.appendChild(el("span", "result-rank", rankText));
    head.appendChild(el("h3", "result-title", (r.document && r.document.title) || "Untitled"));
    if (note) head.appendChild(el("span", "result-score", note));
    li.appendChild(head);
    li.appendChild(el("p", "source-meta", metaLine(r.document || {}, r.section, r.page_label || r.page, r.citation)));
    li.appendChild(el("p", "result-text", r.text || ""));
    li.appendChild(el("p", "source-citation", citationText(r)));
    var open = button("btn btn-small open-source", "Open in document", function () { openPassage(r, open); });
    li.appendChild(open);
    return li;
  }

  // ---------- precedent ----------

  function precedent(query) {
    return panelRequest("precedent-results", "Reading the papers…", "/api/precedent", { query: query, k: 20, sort: "newest" },
                        function (data) { renderPrecedent(data, query); }, "Precedent search failed.");
  }

  function hasDigit(text) { return /\d/.test(text); }

  // The words changed since the previous use: removed struck through, added underlined, figures marked.
  function renderDiff(diff) {
    var p = el("p", "diff");
    diff.forEach(function (d) {
      if (d.op === "equal") { p.appendChild(document.createTextNode(d.text)); return; }
      var node = el(d.op === "insert" ? "ins" : "del", hasDigit(d.text) ? "figure" : null, d.text);
      node.setAttribute("aria-label", (d.op === "insert" ? "added: " : "removed: ") + d.text);
      p.appendChild(node);
    });
    return p;
  }

  function copyButton(label, textFn) {
    var b = button("btn btn-small copy-quote", label, async function () {
      var ok = await copyToClipboard(textFn());
      b.textContent = ok ? "Copied" : "Copy failed";
      $("announcer").textContent = ok ? "Citation and quote copied." : "Could not copy.";
      setTimeout(function () { b.textContent = label; }, 2500);
    });
    return b;
  }

  function quotedCitation(citation, text) {
    return citation + "\n“" + String(text || "").trim() + "”";
  }

  function renderPrecedent(data, query) {
    var box = $("precedent-results");
    box.textContent = "";
    var groups = data.groups || [];
    if (!groups.length) {
      if (currentFilters()) box.appendChild(excludedNotice("speaks to “" + query + "”", function () { precedent(query); }));
      else box.appendChild(el("p", "results-summary", "No paper speaks to “" + query + "”. Try other words."));
      $("announcer").textContent = box.textContent;
      return;
    }
    var papers = groups.reduce(function (n, g) { return n + g.occurrences.length; }, 0);
    var summary = papers + (papers === 1 ? " paper" : " papers") + " on “" + query + "”, newest first";
    var reused = groups.filter(function (g) { return g.papers > 1; }).length;
    if (reused) summary += " · " + reused + (reused === 1 ? " wording" : " wordings") + " used in several papers";
    box.appendChild(el("p", "results-summary", summary));
    $("announcer").textContent = summary;
    var list = el("ol", "precedent-list");
    groups.forEach(function (g) {
      var li = el("li", "precedent-group" + (g.papers > 1 ? " reused" : ""));
      var head = el("div", "group-head");
      if (g.papers > 1) {  // a single paper's date is on its own line below
        head.appendChild(el("span", "badge badge-reused", "Same wording in " + g.papers + " papers"));
        head.appendChild(el("span", "group-span", "first used " + fmtDate(g.first_used) + " · last used " + fmtDate(g.last_used)));
        li.appendChild(head);
      }
      var occs = el("ol", "occurrence-list");
      g.occurrences.forEach(function (o, i) {
        var item = el("li", "occurrence");
        var top = el("div", "occurrence-head");
        top.appendChild(el("span", "occurrence-date", fmtDate(o.document.date)));
        top.appendChild(el("span", "occurrence-title", o.document.title || "Untitled"));
        item.appendChild(top);
        item.appendChild(el("p", "source-meta", [o.document.body, o.document.doc_type].filter(Boolean).join(" · ")));
        item.appendChild(el("blockquote", "source-quote", o.text));
        var changed = (o.diff || []).some(function (d) { return d.op !== "equal"; });
        var previous = g.occurrences[i + 1];
        if (o.diff && changed) {
          var since = el("div", "changes");
          since.appendChild(el("p", "changes-heading", "Changed since " + fmtDate(previous && previous.document.date) + ":"));
          since.appendChild(renderDiff(o.diff));
          item.appendChild(since);
        } else if (o.diff) {
          item.appendChild(el("p", "changes-heading", "Same wording as " + fmtDate(previous && previous.document.date) + "."));
        }
        item.appendChild(el("p", "source-citation", o.citation));
        var actions = el("div", "occurrence-actions");
        actions.appendChild(copyButton("Copy citation with quote", function () { return quotedCitation(o.citation, o.text); }));
        var open = button("btn btn-small btn-ghost open-source", "Open in document", function () {
          openViewer({ document: o.document, section: null, page: o.page, page_label: o.page_label, citation: o.citation,
                       quote: o.text, span: o.span, passage: null }, open);
        });
        actions.appendChild(open);
        item.appendChild(actions);
        occs.appendChild(item);
      });
      li.appendChild(occs);
      list.appendChild(li);
    });
    box.appendChild(list);
  }

  // ---------- saved searches ----------

  async function loadSaved() {
    var saved;
    try { saved = await api("GET", "/api/saved"); } catch (e) { return; }
    var list = $("saved-list");
    list.textContent = "";
    $("saved-panel").hidden = !saved.length;
    saved.forEach(function (s) {
      var li = el("li", "saved-item");
      var n = (s.matches || []).length;
      var open = button("btn btn-small btn-ghost saved-open", s.name + (n ? " · " + n + " new" : ""), function () { showSaved(s); });
      open.setAttribute("aria-label", "Saved search " + s.name + ": " + (n ? n + " new passages" : "no new passages"));
      li.appendChild(open);
      var feed = el("a", "saved-feed", "Atom feed");
      feed.href = "/api/saved/" + encodeURIComponent(s.name) + "/feed";
      li.appendChild(feed);
      list.appendChild(li);
    });
  }

  function showSaved(saved) {
    setMode("search");
    var box = $("search-results");
    box.textContent = "";
    var matches = saved.matches || [];
    var summary = matches.length
      ? matches.length + (matches.length === 1 ? " new passage" : " new passages") + " for saved search “" + saved.name + "” (" + saved.query + ")"
      : "No new passages for saved search “" + saved.name + "” (" + saved.query + ") since it was saved.";
    box.appendChild(el("p", "results-summary", summary));
    $("announcer").textContent = summary;
    var list = el("ol", "result-list");
    matches.forEach(function (m) {
      list.appendChild(resultItem(m.result, "result saved-match", "new", "found " + fmtDate(m.found)));
    });
    box.appendChild(list);
  }

  // ---------- example questions ----------

  var examples = [];

  async function loadExamples() {
    try { examples = await api("GET", "/api/examples"); } catch (e) { examples = []; }
    renderExamples();
  }

  function renderExamples() {
    var empty = $("chat-empty");
    if (!empty || !examples.length) return;
    var box = empty.querySelector(".examples"), list = empty.querySelector(".example-list");
    list.textContent = "";
    examples.forEach(function (q) {
      var li = el("li");
      li.appendChild(button("btn btn-small example", q, function () {
        if (state.busy) return;
        setMode("ask");
        ask(q);
      }));
      list.appendChild(li);
    });
    box.hidden = false;
  }

  // ---------- meeting brief ----------

  function updateBriefButtons() {
    var none = !state.turns.length;
    $("export-markdown").disabled = none;
    $("export-print").disabled = none;
  }

  function stripMarkers(text) { return String(text || "").replace(/\s*\[\d+(?:\s*,\s*\d+)*\]/g, ""); }

  function briefMarkdown() {
    var today = fmtDate(new Date().toISOString().slice(0, 10));
    var out = ["# Meeting brief", "", "Prepared " + today + " with ReportSearch from the indexed reports.", ""];
    state.turns.forEach(function (t, i) {
      var a = t.answer || {};
      out.push("## " + (i + 1) + ". " + t.question, "");
      if (a.answerable === false) {
        out.push("_Not found in these reports._", "");
        return;
      }
      out.push(String(a.answer || "").trim(), "");
      if (typeof a.confidence === "number") out.push("Evidence: " + Math.round(a.confidence * 100) + "%", "");
      (a.citations || []).forEach(function (c) {
        out.push("> [" + c.n + "] “" + String(c.quote || "").trim().replace(/\n+/g, " ") + "”  ");
        out.push("> — " + citationText(c), "");
      });
    });
    return out.join("\n").replace(/\n{3,}/g, "\n\n") + "\n";
  }

  function downloadBrief() {
    var blob = new Blob([briefMarkdown()], { type: "text/markdown;charset=utf-8" });
    var a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = "meeting-brief-" + new Date().toISOString().slice(0, 10) + ".md";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    $("announcer").textContent = "Meeting brief downloaded as Markdown.";
  }

  function printBrief() {
    setMode("ask");
    document.body.classList.add("print-brief");
    var cleanup = function () {
      document.body.classList.remove("print-brief");
      window.removeEventListener("afterprint", cleanup);
    };
    window.addEventListener("afterprint", cleanup);
    window.print();
    setTimeout(cleanup, 1000);
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
    openViewer({ document: p.document, section: p.section, page: p.page, page_label: p.page_label,
                 citation: p.citation, quote: null, passage: p }, opener);
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
    var place = placeLabel(src);
    var path = src.section && Array.isArray(src.section.path) ? src.section.path.slice(0, -1) : [];
    if (/^Minute /.test(place)) path = [];  // the minute's own title is in the label
    path.push(place || "No section heading");
    var pageName = src.page_label || (src.page != null ? String(src.page) : "");
    $("viewer-section").textContent = src.section ? path.join(" › ") + (pageName ? " · p. " + pageName : "")
      : (src.citation || "") ;
    var original = $("viewer-original");
    original.href = "/api/documents/" + encodeURIComponent(doc.id) + "/source" + (src.page != null ? "#page=" + src.page : "");
    original.textContent = pageName ? "Open original at p. " + pageName : "Open original";
    original.hidden = false;
    original.onclick = accessKey() ? openWithKey : null;
    var quoteBox = $("viewer-quote");
    quoteBox.textContent = src.quote || "";
    quoteBox.hidden = !src.quote;
    $("copy-citation").textContent = "Copy citation";
    body.textContent = "";
    body.appendChild(el("p", "loading", "Loading document…"));
    viewer.hidden = false;
    document.body.classList.add("viewer-open");
    collapseFiltersForViewer();
    var paged = isPdf(doc) && src.page != null;
    document.querySelector(".viewer-tabs").hidden = !paged;
    showViewerTab(paged ? "page" : "text");
    if (paged) showPdfPage(src, doc);
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

  // ---------- PDF pages (pdf.js, vendored under /static/vendor/pdfjs, loaded on first use) ----------

  var pdfjs = null;          // Promise of the pdf.js module
  var pdfDocuments = new Map();  // document id -> Promise of the loaded PDF

  function isPdf(doc) { return /\.pdf$/i.test(String((doc && doc.source_path) || "")); }

  function loadPdfjs() {
    if (!pdfjs) {
      pdfjs = import("/static/vendor/pdfjs/pdf.min.mjs").then(function (lib) {
        lib.GlobalWorkerOptions.workerSrc = "/static/vendor/pdfjs/pdf.worker.min.mjs";
        return lib;
      });
      pdfjs.catch(function () { pdfjs = null; });
    }
    return pdfjs;
  }

  // A link cannot carry the key: fetch the original with it and open the file the browser received.
  async function openWithKey(event) {
    event.preventDefault();
    var link = event.currentTarget, url = link.href.split("#");
    try {
      var res = await fetch(url[0], { headers: withKey({}) });
      if (!res.ok) throw await errorFromResponse(res);
      var blobUrl = URL.createObjectURL(await res.blob());
      window.open(blobUrl + (url[1] ? "#" + url[1] : ""), "_blank", "noopener");
      setTimeout(function () { URL.revokeObjectURL(blobUrl); }, 60000);
    } catch (err) { reportError(err); }
  }

  function setupAccessKey() {
    var input = $("access-key"), status = $("access-key-status");
    function show() {
      status.textContent = accessKey() ? "Using a key: restricted papers your role may see are included."
        : "Public papers only.";
      $("access-key-forget").hidden = !accessKey();
    }
    $("access-key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      try { sessionStorage.setItem(KEY_STORE, input.value.trim()); } catch (e) { /* storage off: nothing kept */ }
      input.value = "";
      location.reload();
    });
    $("access-key-forget").addEventListener("click", function () {
      try { sessionStorage.removeItem(KEY_STORE); } catch (e) { /* nothing kept */ }
      location.reload();
    });
    show();
  }

  function pdfOf(lib, id) {
    if (!pdfDocuments.has(id)) {
      var task = lib.getDocument({ url: "/api/documents/" + encodeURIComponent(id) + "/source", isEvalSupported: false,
                                   httpHeaders: withKey({}) });
      pdfDocuments.set(id, task.promise);
      task.promise.catch(function () { pdfDocuments.delete(id); });
    }
    return pdfDocuments.get(id);
  }

  function words(text) { return String(text || "").toLowerCase().match(/[a-z0-9£$%]+/g) || []; }

  // The page's text items that spell the quote: the longest run of the quote's words, in order.
  function quoteItems(items, quote) {
    var want = words(quote);
    if (!want.length) return [];
    var flat = [];
    items.forEach(function (item, i) { words(item.str).forEach(function (w) { flat.push([w, i]); }); });
    var best = { start: -1, length: 0 };
    for (var skip = 0; skip < Math.min(3, want.length); skip++) {  // the quote may open on a stripped marker
      for (var i = 0; i < flat.length; i++) {
        var n = 0;
        while (i + n < flat.length && skip + n < want.length && flat[i + n][0] === want[skip + n]) n++;
        if (n > best.length) best = { start: i, length: n };
      }
    }
    if (best.length < Math.min(4, want.length)) return [];
    var hit = new Set();
    for (var k = best.start; k < best.start + best.length; k++) hit.add(flat[k][1]);
    return Array.from(hit).map(function (i) { return items[i]; });
  }

  async function showPdfPage(src, doc) {
    var box = $("viewer-pdf");
    box.textContent = "";
    box.appendChild(el("p", "loading", "Loading page " + src.page + "…"));
    try {
      var lib = await loadPdfjs();
      var pdf = await pdfOf(lib, doc.id);
      var page = await pdf.getPage(src.page);
      if (state.viewerSource !== src) return;
      var width = Math.max(240, box.clientWidth - 24);
      var viewport = page.getViewport({ scale: Math.min(2, width / page.getViewport({ scale: 1 }).width) });
      var ratio = window.devicePixelRatio || 1;
      var holder = el("div", "pdf-page");
      holder.style.width = viewport.width + "px";
      holder.style.height = viewport.height + "px";
      var canvas = el("canvas");
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.style.width = viewport.width + "px";
      canvas.style.height = viewport.height + "px";
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", "Page " + (src.page_label || src.page) + " of " + (doc.title || "the document") +
        " (the Text view reads it aloud)");
      holder.appendChild(canvas);
      await page.render({ canvasContext: canvas.getContext("2d"), viewport: viewport,
                          transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null }).promise;
      if (state.viewerSource !== src) return;
      var quote = src.quote || (src.passage && src.passage.text) || "";
      var content = await page.getTextContent();
      var first = null;
      quoteItems(content.items, quote).forEach(function (item) {
        var tx = lib.Util.transform(viewport.transform, item.transform);
        var height = Math.hypot(tx[2], tx[3]);
        var mark = el("div", "pdf-hit");
        mark.style.left = tx[4] + "px";
        mark.style.top = (tx[5] - height) + "px";
        mark.style.width = (item.width * viewport.scale) + "px";
        mark.style.height = (height * 1.15) + "px";
        holder.appendChild(mark);
        if (!first || tx[5] < first) first = tx[5];
      });
      box.textContent = "";
      box.appendChild(holder);
      if (first !== null) box.scrollTop = Math.max(0, first - box.clientHeight / 3);
    } catch (err) {
      if (state.viewerSource !== src) return;
      showViewerTab("text");
      box.textContent = "";
      setStatus("info", "The original page could not be shown (" + ((err && err.message) || "unknown error") +
        "); the text of the document is shown instead.");
    }
  }

  function showViewerTab(which) {
    var page = which === "page";
    $("viewer-show-page").setAttribute("aria-pressed", String(page));
    $("viewer-show-text").setAttribute("aria-pressed", String(!page));
    $("viewer-pdf").hidden = !page;
    $("viewer-body").hidden = page;
    var mark = !page && $("viewer-body").querySelector("mark.highlight");
    if (mark) mark.scrollIntoView({ block: "center" });
  }

  // Beside the viewer on a laptop screen the conversation needs the room more than the filters do:
  // they fold to a narrow strip while the viewer is open, and unfold when it closes.
  function collapseFiltersForViewer() {
    var panel = $("filters-panel");
    var wide = window.matchMedia && window.matchMedia("(min-width: 901px) and (max-width: 1599px)").matches;
    if (!wide || !panel.open) return;
    if (state.filtersOpenBeforeViewer === null) state.filtersOpenBeforeViewer = true;
    panel.open = false;
  }

  function closeViewer(restoreFocus) {
    var viewer = $("viewer");
    if (viewer.hidden) return;
    viewer.hidden = true;
    document.body.classList.remove("viewer-open");
    if (state.filtersOpenBeforeViewer) $("filters-panel").open = true;
    state.filtersOpenBeforeViewer = null;
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
    var quote = src.quote || (src.passage && src.passage.text) || "";
    var text = citationText(src.passage && !src.quote ? src.passage : src) + (quote ? "\n“" + quote.trim() + "”" : "");
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
    var labels = { ask: ["Send", "Answering…"], search: ["Search", "Searching…"], precedent: ["Find", "Reading…"] };
    $("send").textContent = labels[state.mode][busy ? 1 : 0];
    $("content").setAttribute("aria-busy", busy ? "true" : "false");
  }

  var MODES = {
    ask: { view: "chat-view", label: "Ask a question about the reports",
           placeholder: "e.g. What did the panel decide about the precept?", hint: "Enter to send · Shift+Enter for a new line" },
    search: { view: "search-view", label: "Search the reports", placeholder: "e.g. precept increase 2017", hint: "Enter to search" },
    precedent: { view: "precedent-view", label: "A topic or a wording to trace through the papers",
                 placeholder: "e.g. firearms licensing backlog", hint: "Enter to find · newest meeting first" }
  };

  function setMode(mode) {
    state.mode = mode;
    Object.keys(MODES).forEach(function (m) {
      $("mode-" + m).setAttribute("aria-pressed", String(m === mode));
      $(MODES[m].view).hidden = m !== mode;
    });
    $("question-label").textContent = MODES[mode].label;
    $("question").placeholder = MODES[mode].placeholder;
    $("question-hint").textContent = MODES[mode].hint;
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
    var problem = dateProblem();
    if (problem) {
      showValidation(problem);
      return;
    }
    showValidation("");
    if (state.mode === "ask") { $("question").value = ""; ask(q); }
    else if (state.mode === "precedent") precedent(q);
    else search(q);
  }

  function init() {
    setupAccessKey();
    $("composer").addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
    $("question").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    $("question").addEventListener("input", function () {
      if ($("question-error").textContent && $("question").value.trim()) showValidation("");
    });
    $("mode-ask").addEventListener("click", function () { setMode("ask"); });
    $("mode-search").addEventListener("click", function () { setMode("search"); });
    $("mode-precedent").addEventListener("click", function () { setMode("precedent"); });
    $("export-markdown").addEventListener("click", downloadBrief);
    $("export-print").addEventListener("click", printBrief);
    $("close-filters").addEventListener("click", function () { $("filters-panel").open = false; $("question").focus(); });
    $("filter-newest").addEventListener("change", updateFilterSummary);
    $("filter-documents").addEventListener("change", updateFilterSummary);
    $("new-conversation").addEventListener("click", newConversation);
    $("viewer-close").addEventListener("click", function () { closeViewer(); });
    $("copy-citation").addEventListener("click", copyCitation);
    $("viewer-show-page").addEventListener("click", function () { showViewerTab("page"); });
    $("viewer-show-text").addEventListener("click", function () { showViewerTab("text"); });
    $("clear-filters").addEventListener("click", clearFilters);
    ["filter-date-from", "filter-date-to"].forEach(function (id) {
      $(id).addEventListener("change", function () {  // shown back as day/month/year, whatever was typed
        var parsed = parseDateInput($(id).value);
        if (parsed.iso) $(id).value = parsed.iso.slice(8) + "/" + parsed.iso.slice(5, 7) + "/" + parsed.iso.slice(0, 4);
      });
    });
    ["filter-doc-types", "filter-bodies", "filter-date-from", "filter-date-to"].forEach(function (id) {
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
