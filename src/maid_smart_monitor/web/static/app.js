// maid-smart-monitor dashboard: live filter, sortable table, acknowledge button.
// Hand-written, no dependencies; the pages work without it (links and forms).
"use strict";

function applyFilter() {
  const q = document.getElementById("q");
  const sel = document.getElementById("state");
  if (!q || !sel) return;
  const needle = q.value.trim().toLowerCase();
  const state = sel.value;
  let shown = 0;
  const match = (el) =>
    (!state || el.dataset.state === state) &&
    (!needle || (el.dataset.search || "").includes(needle));
  document.querySelectorAll("#disks tbody tr").forEach((tr) => {
    const ok = match(tr);
    tr.classList.toggle("hidden", !ok);
    if (ok) shown += 1;
  });
  document.querySelectorAll("#grid .cell").forEach((cell) => {
    cell.classList.toggle("hidden", !match(cell));
  });
  const out = document.getElementById("shown");
  if (out) out.textContent = shown + " shown";
}

function sortTable(th) {
  const table = th.closest("table");
  const idx = Array.from(th.parentNode.children).indexOf(th);
  const numeric = th.dataset.sort === "num";
  const asc = !th.classList.contains("asc");
  table.querySelectorAll("th").forEach((x) => x.classList.remove("asc", "desc"));
  th.classList.add(asc ? "asc" : "desc");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const key = (tr) => {
    const v = tr.cells[idx].dataset.v || "";
    if (!numeric) return v.toLowerCase();
    return v === "" ? Infinity : parseFloat(v);
  };
  rows.sort((a, b) => {
    const ka = key(a), kb = key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : 0;
    return asc ? c : -c;
  });
  const frag = document.createDocumentFragment();
  rows.forEach((r) => frag.appendChild(r));
  body.appendChild(frag);
}

async function acknowledge(form) {
  const id = form.dataset.alertId;
  const note = form.elements.note.value.trim();
  const result = form.querySelector(".result");
  const tokenInput = document.getElementById("token");
  const token = tokenInput ? tokenInput.value.trim() : "";
  result.classList.remove("err");
  if (!note) { result.textContent = "a note is required"; result.classList.add("err"); return; }
  if (token) sessionStorage.setItem("maid-token", token);
  const headers = { "Content-Type": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  result.textContent = "…";
  try {
    const resp = await fetch("/api/alerts/" + encodeURIComponent(id) + "/ack", {
      method: "POST", headers, body: JSON.stringify({ note }),
    });
    const doc = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      result.textContent = doc.error || ("HTTP " + resp.status);
      result.classList.add("err");
      return;
    }
    const row = form.closest("tr");
    if (row) row.dataset.state = "acknowledged";
    const done = document.createElement("span");
    done.className = "acked";
    done.textContent = "acknowledged: " + doc.ack_note;
    form.replaceWith(done);
  } catch (err) {
    result.textContent = "request failed: " + err;
    result.classList.add("err");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const q = document.getElementById("q");
  const sel = document.getElementById("state");
  if (q) q.addEventListener("input", applyFilter);
  if (sel) sel.addEventListener("change", applyFilter);
  if (q && sel) applyFilter();
  document.querySelectorAll("table.sortable th[data-sort]").forEach((th) => {
    th.addEventListener("click", () => sortTable(th));
  });
  const tokenInput = document.getElementById("token");
  if (tokenInput) tokenInput.value = sessionStorage.getItem("maid-token") || "";
  document.querySelectorAll("form.ack").forEach((form) => {
    form.addEventListener("submit", (ev) => { ev.preventDefault(); acknowledge(form); });
  });
});
