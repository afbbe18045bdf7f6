// cunxiang console: a thin client of the JSON API. Errors show the API's `detail`, next to the
// field that caused them when the API names it.
"use strict";

async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({"X-Cunxiang-Console": "1"}, extraHeaders || {});
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, {method, headers, body: payload, credentials: "same-origin"});
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) { data = await response.json(); }
  if (!response.ok) {
    // People read Chinese (static/i18n.js); the API's own words stay on hover.
    const said = (typeof cxI18n !== "undefined") ? cxI18n.error(data, response.status)
      : ((data && data.detail) || ("HTTP " + response.status));
    const err = new Error(said);
    err.status = response.status; err.data = data || {}; err.detail = (data && data.detail) || "";
    throw err;
  }
  return data;
}

function clearErrors(form) {
  form.querySelectorAll(".error[data-for]").forEach((el) => { el.textContent = ""; });
  form.querySelectorAll(".flash.error").forEach((el) => el.remove());
}

function showError(form, err) {
  const data = err.data || {};
  let placed = false;
  const fields = data.fields || [];
  if (data.field) { fields.push({field: data.field, detail: data.detail}); }
  for (const f of fields) {
    const name = String(f.field || "").split(".")[0];
    const slot = form.querySelector(`.error[data-for="${name}"]`);
    const said = (typeof cxI18n !== "undefined" && cxI18n.message(String(f.detail || ""))) || f.detail;
    if (slot) { slot.textContent = said; slot.title = f.detail || ""; placed = true; }
  }
  if (!placed) {
    const box = document.createElement("div");
    box.className = "flash error";
    box.setAttribute("role", "alert");
    box.textContent = err.message;
    box.title = err.detail || "";
    form.prepend(box);
  }
}

// <form data-api="POST /api/v1/..." data-next="/console/..."> submits its fields as JSON.
function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) { continue; }
    if (el.type === "checkbox") {
      if (el.dataset.list !== undefined) {  // ticked boxes make a list (none ticked: empty)
        body[el.name] = body[el.name] || [];
        if (el.checked) { body[el.name].push(el.value); }
      } else { body[el.name] = el.checked; }
    } else if (el.dataset.list !== undefined) {
      body[el.name] = el.value.split(/[\s,，]+/).filter(Boolean);
    } else if (el.type === "number") {
      if (el.value !== "") { body[el.name] = Number(el.value); }
    } else if (el.tagName === "SELECT" && el.multiple) {
      body[el.name] = Array.from(el.selectedOptions).map((o) => o.value);
    } else if (el.value === "" && el.dataset.nullEmpty !== undefined) {
      body[el.name] = null;  // "none" chosen: e.g. a user without an area
    } else if (el.value !== "" || el.dataset.keepEmpty !== undefined) {
      body[el.name] = el.value;
    }
  }
  return body;
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.dataset.api) { return; }
  event.preventDefault();
  clearErrors(form);
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { return; }
  const [method, path] = form.dataset.api.split(" ");
  const hasFile = form.querySelector("input[type=file]");
  const body = hasFile ? new FormData(form) : formBody(form);
  const button = form.querySelector("button[type=submit], button:not([type])");
  if (button) { button.disabled = true; }
  try {
    const result = await api(method, path, body);
    const next = form.dataset.next;
    if (next) {
      window.location = next.replace(/\{(\w+)\}/g, (_, k) => (result && result[k]) || "");
    } else { window.location.reload(); }
  } catch (err) {
    showError(form, err);
  } finally {
    if (button) { button.disabled = false; }
  }
});

// Buttons with data-action="POST /api/v1/..." perform one action and reload.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) { return; }
  event.preventDefault();
  // A reason to give or a step to confirm: asked in the page (static/forms.js), never by prompt().
  if ((button.dataset.prompt || button.dataset.ask) && typeof cxInline !== "undefined") {
    cxInline(button); return;
  }
  const [method, path] = button.dataset.action.split(" ");
  const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
  const slot = document.getElementById(button.dataset.errors || "action-errors");
  try {
    await api(method, path, body);
    window.location.reload();
  } catch (err) {
    if (slot) { slot.textContent = err.message; slot.title = err.detail || ""; slot.className = "flash error"; }
  }
});
