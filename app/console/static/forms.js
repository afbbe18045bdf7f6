// cunxiang console: questions asked in the page (never window.prompt/confirm), copy buttons and
// lists reordered by dragging or by the ↑ ↓ buttons.
"use strict";

// <button data-action="POST /api/…" data-prompt="驳回理由" data-field="reason"> opens a small form
// under the button asking for the text; data-ask="确定删除吗？" asks to confirm. The answer goes
// to the API as the action's body, then the page reloads (or goes to data-next).
function cxInline(button) {
  // Asked under the row of buttons (or under the button itself), not squeezed beside it.
  const anchor = button.closest(".row, .actions") || button;
  const next = anchor.nextElementSibling;
  if (next && next.classList.contains("inline-ask") && next.dataset.for === button.dataset.action) {
    next.querySelector("textarea, button[type=submit]").focus(); return;
  }
  const form = document.createElement("form");
  form.className = "inline-ask"; form.dataset.for = button.dataset.action;
  const question = document.createElement("label");
  question.textContent = button.dataset.prompt || button.dataset.ask;
  form.append(question);
  let text = null;
  if (button.dataset.prompt) {
    text = document.createElement("textarea");
    text.name = button.dataset.field || "reason";
    text.required = true; text.maxLength = 2000; text.className = "inline-answer";
    text.setAttribute("aria-label", button.dataset.prompt);
    question.htmlFor = text.id = "ask-" + Math.random().toString(36).slice(2);
    form.append(text);
  }
  const error = document.createElement("div");
  error.className = "error"; error.setAttribute("role", "alert");
  const send = document.createElement("button");
  send.type = "submit"; send.textContent = button.dataset.confirmLabel || "确定";
  send.className = button.classList.contains("danger") ? "danger confirm" : "confirm";
  const cancel = document.createElement("button");
  cancel.type = "button"; cancel.className = "secondary"; cancel.textContent = "取消";
  cancel.addEventListener("click", () => form.remove());
  form.append(error, send, cancel);
  anchor.after(form);
  (text || send).focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const [method, path] = button.dataset.action.split(" ");
    const body = text ? {[text.name]: text.value}
      : (button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
    if (text && !text.value.trim()) { error.textContent = "请填写" + (button.dataset.prompt || ""); return; }
    send.disabled = true;
    try {
      const result = await api(method, path, body);
      const next = button.dataset.next;
      if (next) { window.location = next.replace(/\{(\w+)\}/g, (_, k) => (result && result[k]) || ""); }
      else { window.location.reload(); }
    } catch (err) { error.textContent = err.message; error.title = err.detail || ""; send.disabled = false; }
  });
}

// <button type="button" data-copy="#setup-line">复制</button> copies the target's text.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) { return; }
  const source = document.querySelector(button.dataset.copy);
  if (!source) { return; }
  const text = (source.value !== undefined ? source.value : source.textContent).trim();
  let copied = false;
  try {
    if (navigator.clipboard) { await navigator.clipboard.writeText(text); copied = true; }
  } catch (err) { copied = false; }
  if (!copied) {  // no clipboard API (plain http on another host): select it for Ctrl+C
    const range = document.createRange(); range.selectNodeContents(source);
    const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
    copied = document.execCommand && document.execCommand("copy");
  }
  button.textContent = copied ? "已复制" : "已选中，请按 Ctrl+C 复制";
});

// A list whose <li draggable="true"> rows move by dragging or by their ↑ ↓ buttons
// (<button data-move="-1">); the list fires "reordered" after each move.
function cxSortable(list) {
  let dragged = null;
  list.addEventListener("dragstart", (event) => {
    dragged = event.target.closest("li");
    if (dragged) { dragged.classList.add("dragging"); event.dataTransfer.effectAllowed = "move"; }
  });
  list.addEventListener("dragend", () => {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    list.dispatchEvent(new Event("reordered"));
  });
  list.addEventListener("dragover", (event) => {
    if (!dragged) { return; }
    event.preventDefault();
    const over = event.target.closest("li");
    if (!over || over === dragged || over.parentElement !== list) { return; }
    const box = over.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
  list.addEventListener("click", (event) => {
    const move = event.target.closest("button[data-move]");
    if (!move) { return; }
    event.preventDefault();
    const row = move.closest("li");
    if (move.dataset.move === "-1" && row.previousElementSibling) {
      list.insertBefore(row, row.previousElementSibling);
    } else if (move.dataset.move === "1" && row.nextElementSibling) {
      list.insertBefore(row.nextElementSibling, row);
    } else if (move.dataset.move === "remove") {
      row.remove();
    }
    list.dispatchEvent(new Event("reordered"));
  });
}
