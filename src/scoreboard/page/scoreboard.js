// The scoreboard page: draws each snapshot the server sends, whole. Everything from the network
// (names, questions, announcements) is set as text, never as markup: a player called
// "<script>x</script>" is shown as exactly that.
"use strict";

const $ = (id) => document.getElementById(id);

// The countdowns tick here between snapshots: [element, deadline in this page's clock].
let clocks = [];
// The last snapshot drawn, for the clocks' "hurry" and for tests.
let shown = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function fill(list, items) {
  list.replaceChildren(...items);
}

function seconds(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : `${s}`;
}

function tick() {
  const now = performance.now();
  for (const [node, deadline] of clocks) {
    const left = deadline - now;
    node.textContent = seconds(left);
    node.classList.toggle("hurry", left < 5000);
  }
}

function move(moved) {
  if (moved === null || moved === undefined || moved === 0) return el("span", "", "move");
  return moved > 0 ? el("span", `▲${moved}`, "move up") : el("span", `▼${-moved}`, "move down");
}

function row(entry, withMove) {
  const li = el("li");
  li.append(el("span", entry.rank, "rank"), el("span", entry.name, "name"),
            el("span", entry.score, "score"));
  li.append(withMove ? move(entry.moved) : el("span", ""));
  return li;
}

function draw(s) {
  shown = s;
  const received = performance.now();
  clocks = [];
  $("title").textContent = s.title || "gamecast";
  $("phase").textContent = s.phase;
  document.title = s.title ? `${s.title}: scoreboard` : "gamecast scoreboard";

  const q = s.question;
  const open = q && !q.tally && s.countdown;
  $("question-panel").hidden = !q || s.phase !== "playing";
  if (q) {
    $("question-number").textContent = `Question ${q.number} of ${q.total}`;
    $("question-text").textContent = q.text;
    const total = q.tally ? q.tally.counts.reduce((a, b) => a + b, 0) : 0;
    fill($("choices"), q.choices.map((choice, i) => {
      const li = el("li");
      li.append(el("span", String.fromCharCode(97 + i) + ")", "letter"), el("span", choice));
      if (q.tally) {
        const count = q.tally.counts[i] || 0;
        li.append(el("span", count, "count"));
        const bar = el("div", null, "bar");
        bar.style.width = total > 0 ? `${(100 * count) / total}%` : "0";
        li.append(bar);
        if (q.tally.correct === i + 1) li.classList.add("right");
      }
      return li;
    }));
    $("answered").textContent = q.tally
      ? `${total} answered`
      : q.answered ? `${q.answered.count} of ${q.answered.of} answered` : "0 answered";
    const clock = $("question-clock");
    clock.textContent = "";
    if (open) clocks.push([clock, received + s.countdown.left_ms]);
  }
  // A countdown that is not a question's (a turn, the lobby, a pause).
  const other = s.countdown && !open && s.countdown.left_ms > 0;
  $("countdown-panel").hidden = !other;
  if (other) {
    $("countdown-text").textContent = s.countdown.text;
    clocks.push([$("countdown-clock"), received + s.countdown.left_ms]);
  }
  $("announcement").hidden = !s.announcement;
  $("announcement").textContent = s.announcement || "";

  $("podium-panel").hidden = s.podium.length === 0 || s.phase === "playing";
  fill($("podium"), s.podium.map((e) => row(e, false)));
  fill($("top"), s.top.map((e) => row(e, true)));
  $("ranked").textContent = s.ranked > s.top.length ? `of ${s.ranked}` : "";

  const here = s.players.filter((p) => p.state === "here" || p.state === "back");
  $("here").textContent = `(${here.length})`;
  fill($("players"), s.players.map((p) => {
    const li = el("li", p.name);
    if (p.state !== "here" && p.state !== "back") li.classList.add("gone");
    li.title = p.state;
    return li;
  }));
  $("left").textContent = s.left.length ? `Left: ${s.left.join(", ")}` : "";
  tick();
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("snapshot", (e) => {
    $("link").hidden = true;
    draw(JSON.parse(e.data));
  });
  // The browser reconnects by itself; the first snapshot after it brings the page up to date.
  source.onerror = () => { $("link").hidden = false; };
}

window.scoreboard = { shown: () => shown };
setInterval(tick, 200);
connect();
