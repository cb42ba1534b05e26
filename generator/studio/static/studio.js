/* The curation studio: one decision per key press, each sent to the studio and saved at once. */
(() => {
  "use strict";
  const token = document.querySelector('meta[name="studio-token"]').content;
  const root = document.getElementById("passages");
  if (!root) return;
  const essay = root.dataset.essay;
  const status = document.getElementById("status");
  const help = document.getElementById("help");
  const memory = `studio:${essay}`;
  let current = null; // the focused candidate: {key, ref} (a run's ids repeat from passage to passage)
  let queue = Promise.resolve(); // decisions go out one at a time, in the order they were made

  const candidates = () => Array.from(root.querySelectorAll("[data-candidate]"));
  const sectionOf = (el) => el.closest("[data-passage]");
  const say = (text) => { status.textContent = text; };

  function focusCandidate(el, scroll = true) {
    if (!el) return;
    for (const c of root.querySelectorAll('[data-candidate][tabindex="0"]')) c.tabIndex = -1;
    el.tabIndex = 0;
    el.focus({ preventScroll: !scroll });
    if (scroll) el.scrollIntoView({ block: "nearest" });
    current = { key: sectionOf(el).dataset.passage, ref: el.dataset.candidate };
    sessionStorage.setItem(memory, JSON.stringify(current));
  }

  function find(where) {
    if (!where) return null;
    return root.querySelector(`[data-passage="${CSS.escape(where.key)}"] [data-candidate="${CSS.escape(where.ref)}"]`);
  }

  function move(step) {
    const all = candidates();
    if (!all.length) return;
    const active = document.activeElement;
    if (root.contains(active) && !active.dataset.candidate) {
      // from a passage's heading (or another control): the nearest candidate that way
      const after = all.filter((c) => active.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
      const target = step > 0 ? after[0] : all[all.length - after.length - 1];
      return focusCandidate(target || all[step > 0 ? all.length - 1 : 0]);
    }
    const at = all.indexOf(find(current));
    const next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    focusCandidate(all[next]);
  }

  function jumpPassage(step) {
    const sections = Array.from(root.querySelectorAll("[data-passage]"));
    const here = sectionOf(document.activeElement);
    const i = here ? sections.indexOf(here) + step : step > 0 ? 0 : sections.length - 1;
    const target = sections[i];
    if (!target) return;
    const first = target.querySelector("[data-candidate]");
    if (first) return focusCandidate(first);
    const heading = target.querySelector("h2"); // a passage without samples: land on its heading
    heading.tabIndex = -1;
    heading.focus();
  }

  function updateTotals(data) {
    const ratio = document.querySelector("[data-ratio]");
    ratio.dataset.ratio = data.ratio.toFixed(3);
    ratio.textContent = `×${data.ratio.toFixed(2)}`;
    document.querySelector("[data-essay-words]").textContent = `${data.original} → ${data.words}`;
    document.querySelector("[data-curated]").textContent = `${data.curated} / ${data.passages}`;
  }

  function replacePassage(data) {
    const section = root.querySelector(`[data-passage="${CSS.escape(data.passage)}"]`);
    const keep = section && section.contains(document.activeElement) && current && current.key === data.passage ? current : null;
    if (section) section.innerHTML = data.html;
    updateTotals(data);
    const again = keep && find(keep);
    if (again) focusCandidate(again, false);
    else if (current && find(current)) find(current).tabIndex = 0;
  }

  async function post(path, body) {
    const response = await fetch(`/api/essays/${encodeURIComponent(essay)}/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Studio-Token": token },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({ error: `the studio answered ${response.status}` }));
    if (!response.ok) throw Object.assign(new Error(data.error || `error ${response.status}`), { status: response.status });
    return data;
  }

  async function get(url) {
    const response = await fetch(url);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `the studio answered ${response.status}; reload the page`);
    return data;
  }

  function reloadWith(message) {
    sessionStorage.setItem(`${memory}:notice`, message);
    location.reload();
  }

  function send(path, body, done) {
    queue = queue.then(async () => {
      try {
        const data = await post(path, body);
        if (data.nothing) return say(data.nothing);
        if (data.reload) return reloadWith(data.notices.join(" "));
        replacePassage(data);
        say(data.message || done);
      } catch (err) {
        if (err.status === 409) return reloadWith(err.message);
        say(err.message);
      }
    });
    return queue;
  }

  function decide(action, el, ref) {
    const section = sectionOf(el);
    if (!section) return;
    const verbs = { accept: "accepted", reject: "rejected", unpick: "taken back", up: "moved up", down: "moved down", clear: "cleared", auto: "auto-picked" };
    send("decide", { action, passage: section.dataset.passage, candidate: ref || null }, `${verbs[action]}; saved`);
  }

  function toggle(kind) {
    const el = current && find(current);
    if (!el) return;
    const state = el.dataset.state;
    const action = kind === "accept" ? (state === "picked" ? "unpick" : "accept") : (state === "rejected" ? "unpick" : "reject");
    decide(action, el, current.ref);
  }

  async function more(button) {
    const section = sectionOf(button);
    const body = { passage: section.dataset.passage };
    if (button.dataset.more === "custom") {
      for (const input of section.querySelectorAll(".more-form input")) if (input.value.trim()) body[input.name] = input.value.trim();
    }
    const line = section.querySelector(".job");
    button.disabled = true;
    try {
      let job = await post("more", body);
      while (job.stage !== "done" && job.stage !== "error") {
        line.textContent = `${job.message} (${job.seconds} s)`;
        await new Promise((r) => setTimeout(r, 500));
        job = await get(`/api/jobs/${encodeURIComponent(job.job)}`); // an error answer (a restarted studio) ends the wait
      }
      if (job.stage === "error") throw new Error(job.message);
      const data = await get(`/api/essays/${encodeURIComponent(essay)}/passages/${encodeURIComponent(body.passage)}`);
      replacePassage(data);
      const fresh = root.querySelector(`[data-passage="${CSS.escape(body.passage)}"] .job`);
      fresh.textContent = `New run ${job.run}: ${job.message}.`;
      say(`new samples for passage ${section.querySelector("h2").textContent.split("·")[0].trim()}`);
    } catch (err) {
      line.textContent = err.message;
      button.disabled = false;
    }
  }

  root.addEventListener("click", (event) => {
    const cand = event.target.closest("[data-candidate]");
    if (cand) {
      focusCandidate(cand, false);
      return toggle("accept");
    }
    const act = event.target.closest("[data-action]");
    if (act) {
      const mate = act.dataset.ref && find({ key: sectionOf(act).dataset.passage, ref: act.dataset.ref });
      if (mate) focusCandidate(mate, false);
      const action = act.dataset.action === "reject" && act.getAttribute("aria-pressed") === "true" ? "unpick" : act.dataset.action;
      return decide(action, act, act.dataset.ref);
    }
    const m = event.target.closest("[data-more]");
    if (m) more(m);
  });

  root.addEventListener("focusin", (event) => {
    const cand = event.target.closest("[data-candidate]");
    if (cand && cand !== find(current)) focusCandidate(cand, false);
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || help.open) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      return send("undo", {}, "undone; saved");
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = {
      j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
      a: () => toggle("accept"), x: () => toggle("reject"), n: () => jumpPassage(1), p: () => jumpPassage(-1),
      u: () => send("undo", {}, "undone; saved"), "?": () => help.showModal(),
    };
    const run = keys[event.key];
    if (!run) return;
    event.preventDefault();
    run();
  });

  const notice = sessionStorage.getItem(`${memory}:notice`);
  if (notice) {
    sessionStorage.removeItem(`${memory}:notice`);
    say(notice);
  }
  let remembered = null;
  try {
    remembered = find(JSON.parse(sessionStorage.getItem(memory)));
  } catch (err) {
    remembered = null;
  }
  const start = remembered || candidates()[0];
  if (start) {
    start.tabIndex = 0;
    current = { key: sectionOf(start).dataset.passage, ref: start.dataset.candidate };
    if (remembered) focusCandidate(start);
  }
})();
