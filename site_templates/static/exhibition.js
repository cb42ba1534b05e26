/* The exhibition loop: each passage, then the model's sentences typed into it while
   the word count climbs; a visitor's touch, click or key pauses it on a side-by-side
   view, and after idle_seconds without input it plays again from where it was.
   Every text from passages.json goes in with textContent: generated text stays inert.
   URL parameters for a quick try: ?idle= ?speed= ?seconds_per_word= ?hold= ?orientation= ?essays=a,b */
"use strict";
(() => {
  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const card = $("card"), screen = $("screen"), view = $("view"), steps = $("steps");
  const counter = document.querySelector("[data-words]");
  const query = new URLSearchParams(location.search);
  const reduce = window.matchMedia("(prefers-reduced-motion: reduce)");
  const MIN_PX = 28; // readable from two metres
  let items = [], at = 0, pausedAt = 0, run = 0, idleTimer = 0, cursorTimer = 0;
  let timing = { perWord: 0.28, hold: 6, idle: 60 };

  function number(name, fallback, min, max) {
    const v = Number(query.get(name));
    return query.has(name) && Number.isFinite(v) && v >= min && v <= max ? v : fallback;
  }

  /* resolves true after `seconds`, false if the loop was paused or moved on meanwhile */
  const wait = (seconds, token) => new Promise((done) => setTimeout(() => done(token === run), Math.max(0, seconds * 1000)));

  function setCount(n) { counter.textContent = String(n); }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function withSentences(p, passage) {
    p.append(passage.text);
    for (const a of passage.added) p.append(" ", el("ins", "", a.text));
    return p;
  }

  function added(passage) { return passage.added.reduce((n, a) => n + a.words, 0); }

  /* the largest size, down to 28 px, at which `box` fits the screen */
  function fit(box) {
    const base = parseFloat(getComputedStyle(body).fontSize);
    let size = 1;
    box.style.setProperty("--fit", "1em");
    while (box.scrollHeight > view.clientHeight && size * base > MIN_PX) {
      size = Math.max(MIN_PX / base, size - 0.04);
      box.style.setProperty("--fit", size + "em");
    }
  }

  function where(item) {
    $("essay-title").textContent = item.essay.title;
    $("where").textContent = `passage ${item.index + 1} of ${item.of}`;
  }

  async function titleCard(token) {
    card.hidden = false;
    screen.hidden = true;
    const going = await wait(timing.hold, token);
    if (going) { card.hidden = true; screen.hidden = false; }
    return going;
  }

  async function crossfade(item, token) {
    const old = view.firstElementChild;
    if (old) { old.classList.add("entering"); if (!(await wait(0.45, token))) return false; }
    const p = withSentences(el("p", "passage entering"), item.passage);
    p.dataset.exhibitPassage = item.passage.key;
    view.replaceChildren(p);
    fit(p);
    setCount(item.passage.words + added(item.passage));
    requestAnimationFrame(() => requestAnimationFrame(() => p.classList.remove("entering")));
    return wait(timing.hold * 2, token);
  }

  async function typed(item, token) {
    const passage = item.passage;
    const p = withSentences(el("p", "passage"), passage);
    p.dataset.exhibitPassage = passage.key;
    view.replaceChildren(p);
    fit(p); // sized for the finished passage, so the text never jumps while it grows
    p.replaceChildren(passage.text);
    let count = passage.words;
    setCount(count);
    if (!(await wait(timing.hold / 2, token))) return false;
    for (const a of passage.added) {
      const ins = el("ins", "", "");
      p.append(" ", ins);
      const words = a.text.split(/\s+/).filter(Boolean);
      for (let i = 0; i < words.length; i++) {
        ins.textContent = words.slice(0, i + 1).join(" ");
        view.scrollTop = view.scrollHeight; // a passage too long for the screen: its newest words stay in sight
        setCount(count + Math.round(((i + 1) * a.words) / words.length));
        if (!(await wait(timing.perWord, token))) return false;
      }
      ins.textContent = a.text;
      count += a.words;
      setCount(count);
    }
    return wait(timing.hold, token);
  }

  async function play(token) {
    body.dataset.state = "playing";
    steps.hidden = true;
    while (token === run) {
      if (at === 0 && !(await titleCard(token))) return;
      const item = items[at];
      where(item);
      if (!(await (reduce.matches ? crossfade(item, token) : typed(item, token)))) return;
      at = (at + 1) % items.length;
    }
  }

  function side(label, passage, withAdded) {
    const p = el("p", "side");
    p.append(el("span", "side-label", label));
    if (withAdded) withSentences(p, passage); else p.append(passage.text);
    return p;
  }

  function showCompare() {
    const item = items[at], passage = item.passage, after = passage.words + added(passage);
    where(item);
    const box = el("div", "compare");
    box.dataset.exhibitPassage = passage.key;
    box.append(side(`Original · ${passage.words} words`, passage, false), side(`Verbosified · ${after} words`, passage, true));
    view.replaceChildren(box);
    fit(box);
    setCount(after);
    $("prev").disabled = items.length < 2;
    $("next").disabled = items.length < 2;
  }

  function idle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(resume, timing.idle * 1000);
  }

  function pause() {
    run++;
    pausedAt = at;
    body.dataset.state = "paused";
    card.hidden = true;
    screen.hidden = false;
    steps.hidden = false;
    showCompare();
    idle();
  }

  /* back to the loop, where it was when paused: nothing the visitor did stays */
  function resume() {
    clearTimeout(idleTimer);
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    at = pausedAt;
    play(++run);
  }

  function step(by) {
    at = (at + by + items.length) % items.length;
    showCompare();
    idle();
  }

  function input(event) {
    if (!items.length) return;
    if (body.dataset.state === "playing") {
      if (event.type === "keydown" && event.key === "Tab") return;
      event.preventDefault();
      pause();
      return;
    }
    if (event.type === "keydown") {
      if (["ArrowLeft", "ArrowUp", "PageUp"].includes(event.key)) { event.preventDefault(); step(-1); return; }
      if (["ArrowRight", "ArrowDown", "PageDown"].includes(event.key) || (event.key === " " && event.target === body)) { event.preventDefault(); step(1); return; }
      if (event.key === "Escape") { resume(); return; }
    }
    idle();
  }

  function showCursor() {
    body.classList.remove("cursor-hidden");
    clearTimeout(cursorTimer);
    cursorTimer = setTimeout(() => body.classList.add("cursor-hidden"), 3000);
  }

  function orient(wanted) {
    const landscape = innerWidth >= innerHeight;
    const turn = (wanted === "portrait" && landscape) || (wanted === "landscape" && !landscape);
    body.classList.toggle("turned", turn);
    body.classList.toggle("turned-landscape", turn && wanted === "landscape");
  }

  function start(data) {
    const s = data.settings;
    const speed = number("speed", 1, 0.01, 1000);
    timing = {
      perWord: number("seconds_per_word", s.seconds_per_word, 0.001, 10) / speed,
      hold: number("hold", s.hold_seconds, 0, 600) / speed,
      idle: number("idle", s.idle_seconds, 0.1, 86400),
    };
    const wanted = ["auto", "landscape", "portrait"].includes(query.get("orientation")) ? query.get("orientation") : s.orientation;
    orient(wanted);
    addEventListener("resize", () => { orient(wanted); const box = view.firstElementChild; if (box) fit(box); });
    const only = (query.get("essays") || "").split(",").filter(Boolean);
    const essays = only.length ? only.map((slug) => data.essays.find((e) => e.slug === slug)).filter(Boolean) : data.essays;
    for (const essay of essays) {
      essay.passages.forEach((passage, index) => items.push({ essay, passage, index, of: essay.passages.length }));
    }
    if (!items.length) return; // the title card stays: nothing to play
    for (const type of ["pointerdown", "keydown", "wheel"]) document.addEventListener(type, input, { passive: false });
    $("prev").addEventListener("click", () => step(-1));
    $("next").addEventListener("click", () => step(1));
    play(++run);
  }

  for (const type of ["contextmenu", "dragstart", "selectstart"]) document.addEventListener(type, (e) => e.preventDefault());
  document.addEventListener("mousemove", () => { showCursor(); if (body.dataset.state === "paused") idle(); });
  showCursor();
  fetch("passages.json")
    .then((r) => { if (!r.ok) throw new Error(`passages.json: HTTP ${r.status}`); return r.json(); })
    .then(start)
    .catch((err) => { card.append(el("p", "card-note", "The passages could not be loaded: " + err.message)); });
})();
