/* The station's page: send the visitor's sentences, follow the request, type the
   piece's sentences in beside GPT-2 untamed; after idle_seconds without input the
   screen is cleared for the next visitor. Every text goes in with textContent.
   URL parameter for a quick try: ?idle=SECONDS */
"use strict";
(() => {
  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const token = document.querySelector('meta[name="station-token"]').content;
  const area = $("passage"), alertBox = $("alert"), progress = $("progress"), bar = $("bar"), stage = $("stage");
  const columns = $("columns"), examplesBox = $("examples"), submitButton = $("submit");
  const tamed = document.querySelector('[data-column="tamed"]'), untamed = document.querySelector('[data-column="untamed"]');
  const query = new URLSearchParams(location.search);
  const idleSeconds = Number(query.get("idle")) > 0 ? Number(query.get("idle")) : Number(body.dataset.idle) || 60;
  const reduce = window.matchMedia("(prefers-reduced-motion: reduce)");
  const ready = body.dataset.model === "ready";
  const STAGES = {
    queued: "Waiting for the machine", loading: "The model is loading (once, when the station starts)", untamed: "GPT-2 untamed is writing",
    finetuning: "Fine-tuning GPT-2 on your words", sampling: "Sampling continuations of your words", done: "Done",
  };
  let examples = [], current = 0, idleTimer = 0;
  let busy = false; // a request in flight: the visitor is watching, not idle

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
  const part = (column, name) => column.querySelector("." + name);

  function say(message) { alertBox.textContent = message || ""; }

  function clearColumn(column) {
    if (!column) return;
    column.dataset.state = "empty";
    part(column, "text").replaceChildren();
    part(column, "note").textContent = "";
    const words = part(column, "words");
    if (words) words.textContent = "0";
    column.querySelector("h2 .cached")?.remove();
  }

  function clearAll() {
    current++;
    busy = false;
    area.value = "";
    say("");
    progress.hidden = true;
    columns.hidden = true;
    clearColumn(tamed);
    clearColumn(untamed);
    examplesBox.hidden = false;
    submitButton.disabled = false;
  }

  function idle() {
    clearTimeout(idleTimer);
    if (!busy) idleTimer = setTimeout(clearAll, idleSeconds * 1000);
  }

  function settle() {
    busy = false;
    submitButton.disabled = false;
    idle();
  }

  function showUntamed(result, cached) {
    if (!untamed) return;
    part(untamed, "text").textContent = result.text;
    part(untamed, "note").textContent = result.note;
    if (cached) untamed.querySelector("h2").append(el("span", "cached", "cached"));
    untamed.dataset.state = "done";
  }

  /* the passage, then each added sentence typed in word by word while the count climbs */
  async function showTamed(text, words, result, tok, cached) {
    const p = part(tamed, "text"), count = part(tamed, "words");
    if (cached) tamed.querySelector("h2").append(el("span", "cached", "cached"));
    p.replaceChildren(text);
    part(tamed, "note").textContent = result.note;
    let total = words;
    count.textContent = String(total);
    tamed.dataset.state = "typing";
    for (const sentence of result.sentences) {
      const ins = el("ins", "", "");
      p.append(" ", ins);
      const parts = sentence.text.split(/\s+/).filter(Boolean);
      if (reduce.matches) {
        ins.textContent = sentence.text;
      } else {
        for (let i = 0; i < parts.length; i++) {
          ins.textContent = parts.slice(0, i + 1).join(" ");
          count.textContent = String(total + Math.round(((i + 1) * sentence.words) / parts.length));
          await sleep(120);
          if (tok !== current) return;
        }
      }
      ins.textContent = sentence.text;
      total += sentence.words;
      count.textContent = String(total);
    }
    tamed.dataset.state = "done";
  }

  function begin() {
    clearColumn(tamed);
    clearColumn(untamed);
    say("");
    examplesBox.hidden = true;
    columns.hidden = false;
    return ++current;
  }

  async function poll(id, tok) {
    while (tok === current) {
      let r, s;
      try {
        r = await fetch("/api/visits/" + encodeURIComponent(id), { cache: "no-store" });
        s = await r.json();
      } catch (err) {
        s = { error: "The station stopped answering; please try again." };
        r = { ok: false };
      }
      if (tok !== current) return;
      if (!r.ok) { say(s.error); progress.hidden = true; break; }
      const line = s.ahead ? `${s.ahead} visitor${s.ahead > 1 ? "s" : ""} ahead of you: waiting for the machine`
        : s.stage === "loading" && s.about ? `The model is loading, about ${s.about} s (once, when the station starts)` : STAGES[s.stage] || s.stage;
      if (stage.textContent !== line) stage.textContent = line; // the live region speaks only what changed
      bar.value = s.progress;
      bar.textContent = Math.round(s.progress * 100) + "%";
      if (s.untamed && untamed && untamed.dataset.state === "empty") showUntamed(s.untamed, false);
      if (s.stage === "error") { say(s.message); progress.hidden = true; break; }
      if (s.stage === "done") {
        progress.hidden = true;
        await showTamed(s.passage, s.words, s.tamed, tok, false);
        break;
      }
      await sleep(400);
    }
    if (tok === current) settle();
  }

  async function submit(text) {
    say("");
    submitButton.disabled = true;
    let r, data;
    try {
      r = await fetch("/api/visits", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Station-Token": token },
        body: JSON.stringify({ passage: text }),
      });
      data = await r.json();
    } catch (err) {
      r = { ok: false };
      data = { error: "The station did not answer; please try again." };
    }
    if (!r.ok) { say(data.error); submitButton.disabled = false; return; }
    const tok = begin();
    busy = true;
    clearTimeout(idleTimer);
    progress.hidden = false;
    stage.textContent = STAGES.queued;
    bar.value = 0;
    poll(data.id, tok);
  }

  function showCached(example) {
    const tok = begin();
    area.value = example.text;
    const note = example.cached_note || (example.cached.length ? "" : "The exhibit added nothing to this passage.");
    showTamed(example.text, example.words, { sentences: example.cached, note }, tok, true);
    const untamedShown = example.cached_untamed;
    showUntamed(untamedShown.text || untamedShown.note ? untamedShown : { text: "", note: "No untamed sample of this passage was kept." }, true);
  }

  function listExamples() {
    const list = $("example-list");
    for (const example of examples) {
      const button = el("button", "", "");
      button.type = "button";
      button.append(el("span", "from", "From “" + example.essay + "”"), example.text);
      button.addEventListener("click", () => (ready ? (area.value = example.text, submit(example.text)) : showCached(example)));
      const li = el("li");
      li.append(button);
      list.append(li);
    }
  }

  $("form").addEventListener("submit", (event) => { event.preventDefault(); submit(area.value); });
  for (const type of ["keydown", "pointerdown", "input", "wheel"]) document.addEventListener(type, idle, { passive: true });
  idle();
  fetch("/api/examples", { cache: "no-store" })
    .then((r) => r.json())
    .then((data) => {
      examples = data;
      listExamples();
    })
    .catch(() => say("The examples could not be loaded."));
})();
