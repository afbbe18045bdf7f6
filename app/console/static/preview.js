// cunxiang console: listening previews. A [data-preview-endpoint] block renders the text as it
// will be spoken (POST to its endpoint), then plays the MP3 and shows the pinyin under it.
"use strict";

(function () {
  function formBody(formId) {
    const form = document.getElementById(formId);
    if (!form) { return undefined; }
    // Targets are ticked boxes (the area tree) or, in an older form, a multiple <select>.
    const ticked = Array.from(form.querySelectorAll("input[name=targets]:checked"));
    const chosen = form.elements.targets && form.elements.targets.selectedOptions
      ? Array.from(form.elements.targets.selectedOptions) : [];
    const targets = ticked.concat(chosen).map((o) => o.value);
    return {text: form.elements.text ? form.elements.text.value : "", targets: targets,
            mode: form.elements.mode ? form.elements.mode.value : "actual"};
  }

  async function play(block) {
    const status = block.querySelector("[data-preview-status]");
    const audio = block.querySelector("[data-preview-audio]");
    const pinyin = block.querySelector("[data-preview-pinyin]");
    const label = block.querySelector("[data-preview-label]");
    const button = block.querySelector("[data-preview-play]");
    const body = block.dataset.previewForm ? formBody(block.dataset.previewForm) : undefined;
    if (body && !body.text.trim()) {
      status.textContent = "选择已审核稿件时无需试听：播出的就是它已生成的音频。";
      return;
    }
    button.disabled = true;
    status.textContent = "正在生成试听音频……";
    try {
      const preview = await api("POST", block.dataset.previewEndpoint, body);
      const response = await fetch(preview.url, {headers: {"X-Cunxiang-Console": "1"},
                                                 credentials: "same-origin"});
      if (!response.ok) { throw new Error("试听音频已过期，请重新生成"); }
      audio.src = URL.createObjectURL(await response.blob());
      audio.hidden = false;
      pinyin.textContent = preview.pinyin || "（录音稿件：播放的是录音本身）";
      pinyin.hidden = false;
      label.hidden = false;
      status.textContent = "时长 " + (preview.duration_ms / 1000).toFixed(1) + " 秒";
      block.dataset.previewReady = "1";
    } catch (err) {
      status.textContent = "试听失败：" + err.message;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-preview-play]");
    if (button) { play(button.closest("[data-preview-endpoint]")); }
  });
  document.querySelectorAll("[data-preview-endpoint][data-preview-auto]").forEach(play);
})();
