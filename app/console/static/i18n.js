// cunxiang console: the API's English messages in Chinese, by the table of app/console/i18n.py
// (window.CX_I18N, served with this file at /console/i18n.js). Same rule as translate_error().
"use strict";

const cxI18n = (function () {
  const table = window.CX_I18N || {messages: [], values: {}, fields: {}, codes: {}, statuses: {}};
  const compiled = table.messages.map(([pattern, chinese]) => [new RegExp("^(?:" + pattern + ")$", "s"), chinese]);

  function part(value, depth) {
    if (Object.prototype.hasOwnProperty.call(table.values, value)) { return table.values[value]; }
    return message(value, depth + 1) || value;
  }

  function message(text, depth) {
    depth = depth || 0;
    if (depth > 3 || typeof text !== "string") { return null; }
    for (const [pattern, chinese] of compiled) {
      const found = pattern.exec(text);
      if (found) { return chinese.replace(/\{(\d)\}/g, (_, n) => part(found[Number(n)] || "", depth)); }
    }
    return null;
  }

  function fieldLabel(field) { return table.fields[String(field || "").split(".")[0]] || ""; }

  function error(body, status) {
    body = body || {};
    const fields = body.fields || [];
    if (fields.length) {
      const parts = [];
      for (const f of fields.slice(0, 5)) {
        const label = fieldLabel(f.field);
        const said = message(String(f.detail || "")) || table.codes[body.error] || "有误";
        const text = label ? label + "：" + said : said;
        if (!parts.includes(text)) { parts.push(text); }
      }
      return parts.join("；");
    }
    return message(String(body.detail || "")) || table.codes[body.error] || table.statuses[status] || "操作失败";
  }

  return {message, error, fieldLabel};
})();
