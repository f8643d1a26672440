// The transcript page: click a word to play from it, the current word highlighted while
// playing, space and arrow keys, the word correction form, and a note when a queued job ends.
"use strict";
(() => {
  const player = document.getElementById("player");
  const words = [...document.querySelectorAll(".w")];
  const starts = words.map((w) => parseFloat(w.dataset.start));
  const form = document.getElementById("word-edit");
  const SEEK = 5;
  let current = null;

  function seek(t) {
    const go = () => { player.currentTime = t; highlight(); };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  }

  function at(time) {  // the last word starting at or before time
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= time + 1e-3) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  }

  function highlight() {
    const i = at(player.currentTime);
    const word = i >= 0 ? words[i] : null;
    if (word === current) return;
    if (current) { current.classList.remove("current"); current.removeAttribute("aria-current"); }
    current = word;
    if (word) {
      word.classList.add("current");
      word.setAttribute("aria-current", "true");
      if (!player.paused) word.scrollIntoView({ block: "nearest" });
    }
  }

  function select(word) {
    document.querySelectorAll(".w.selected").forEach((w) => w.classList.remove("selected"));
    word.classList.add("selected");
    form.hidden = false;
    form.elements.segment.value = word.dataset.s;
    form.elements.word.value = word.dataset.i;
    form.elements.t.value = word.dataset.start;
    form.elements.text.value = word.textContent.trim();
  }

  document.getElementById("text").addEventListener("click", (e) => {
    const word = e.target.closest(".w");
    if (word) { seek(parseFloat(word.dataset.start)); select(word); return; }
  });
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button.seek");
    if (button) seek(parseFloat(button.dataset.t));
  });
  player.addEventListener("timeupdate", highlight);
  player.addEventListener("seeked", highlight);

  document.addEventListener("keydown", (e) => {
    const typing = e.target.closest("input, textarea, select, [contenteditable], button, summary, a, audio, video");
    if (typing || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === " ") {
      e.preventDefault();
      // play() is refused (a rejected promise) when a pause comes first or autoplay is blocked.
      if (player.paused) player.play().catch(() => {}); else player.pause();
    }
    else if (e.key === "ArrowLeft") { e.preventDefault(); seek(Math.max(0, player.currentTime - SEEK)); }
    else if (e.key === "ArrowRight") { e.preventDefault(); seek(player.currentTime + SEEK); }
  });

  const t = parseFloat(new URLSearchParams(location.search).get("t"));
  if (!Number.isNaN(t)) seek(t);

  const note = document.getElementById("job-note");
  if (note.dataset.job) {  // a queued stage or render: say when it is done
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + location.host + "/api/v1/ws?token=" + encodeURIComponent(note.dataset.wsToken);
    const ws = new WebSocket(url);
    const report = (job) => {
      if (job.id !== note.dataset.job) return;
      if (job.status === "succeeded") {
        note.textContent = "Done: ";
        const link = document.createElement("a");
        link.href = "/transcripts/" + note.dataset.transcript;
        link.textContent = "show the result";
        note.append(link);
        ws.close();
      } else if (job.status === "failed" || job.status === "cancelled") {
        note.textContent = "The job " + job.status + (job.error_message ? ": " + job.error_message : "");
      } else {
        note.textContent = "Job " + job.status + " " + Math.round(job.progress * 100) + "%";
      }
    };
    ws.onmessage = (event) => report(JSON.parse(event.data).job);
    // The job may have ended before the socket opened: ask once.
    ws.onopen = () => fetch("/jobs/" + note.dataset.job).then((r) => r.ok ? r.json() : null)
      .then((job) => job && report(job));
  }
})();
