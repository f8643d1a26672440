// The upload page: drag and drop or pick several files; each is sent with an XHR (upload
// progress), then its job is followed on the WebSocket /api/v1/ws.
"use strict";
(() => {
  const drop = document.getElementById("drop");
  const input = document.getElementById("files");
  const list = document.getElementById("uploads");
  const rows = new Map();   // job id -> row
  const seen = new Map();   // job id -> its last message (it may come before the upload answer)

  function row(name) {
    const li = document.createElement("li");
    const title = document.createElement("div");
    title.className = "name";
    title.textContent = name;  // text, never HTML
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Progress of " + name);
    const state = document.createElement("div");
    state.className = "state";
    state.textContent = "uploading";
    li.append(title, bar, state);
    list.append(li);
    return li;
  }

  function show(li, job) {
    const bar = li.querySelector("progress");
    const state = li.querySelector(".state");
    li.dataset.status = job.status;
    if (job.status === "succeeded" && job.transcript_id) {
      bar.value = 100;
      state.textContent = "";
      const link = document.createElement("a");
      link.href = "/transcripts/" + job.transcript_id;
      link.textContent = "Done: open the transcript";
      state.append(link);
    } else if (job.status === "failed" || job.status === "cancelled") {
      state.textContent = job.status + (job.error_message ? ": " + job.error_message : "");
    } else {
      bar.value = Math.round(job.progress * 100);
      state.textContent = job.status + (job.stage ? " (" + job.stage + ")" : "");
    }
  }

  function send(file) {
    const li = row(file.name);
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/upload");
    xhr.setRequestHeader("X-CSRF-Token", drop.dataset.csrf);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) li.querySelector("progress").value = Math.round(100 * e.loaded / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status !== 201 || !body) {
        const message = body && body.error ? body.error.message : "HTTP " + xhr.status;
        li.querySelector(".state").textContent = "refused: " + message;
        li.dataset.status = "refused";
        return;
      }
      const job = seen.get(body.job.id) || body.job;
      rows.set(body.job.id, li);
      li.querySelector("progress").value = 0;
      show(li, job);
    };
    xhr.onerror = () => { li.querySelector(".state").textContent = "the upload failed"; };
    xhr.send(form);
  }

  function follow() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + location.host + "/api/v1/ws?token=" + encodeURIComponent(drop.dataset.wsToken);
    const ws = new WebSocket(url);
    ws.onmessage = (event) => {
      const { job } = JSON.parse(event.data);
      seen.set(job.id, job);
      const li = rows.get(job.id);
      if (li) show(li, job);
    };
    ws.onclose = () => setTimeout(follow, 2000);  // the server restarted: follow again
  }

  input.addEventListener("change", () => { [...input.files].forEach(send); input.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    [...e.dataTransfer.files].forEach(send);
  });
  follow();
})();
