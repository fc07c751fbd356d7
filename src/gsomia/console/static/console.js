/* gsomia console: small progressive enhancements. Every page works without this script; with it, the
   policy's answer opens in a dialog, and the audit verification shows its progress. No eval, no inline
   handlers: the Content Security Policy allows scripts from this node only. */
(function () {
  "use strict";

  function dialog() { return document.getElementById("dialog"); }

  function openDialog(html) {
    var d = dialog();
    d.innerHTML = html;
    if (!d.open) { d.showModal(); }
  }

  async function post(form, headers) {
    var response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin", headers: headers
    });
    if (response.status === 401) { window.location.reload(); }
    return response;
  }

  async function askPolicy(form) {
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    try {
      var response = await post(form, { "X-Console-Fragment": "1" });
      openDialog(await response.text());
    } catch (error) {
      openDialog("<p class='notice'>The node did not answer: " + String(error).replace(/[<>&]/g, "") + "</p>");
    } finally {
      if (button) { button.disabled = false; }
    }
  }

  async function verify(form) {
    var box = form.parentElement;
    var progress = box.querySelector("[data-progress]");
    var bar = progress.querySelector("progress");
    var text = progress.querySelector("[data-progress-text]");
    var result = box.querySelector("[data-verify-result]");
    var button = form.querySelector("button[type=submit]");
    progress.hidden = false;
    result.textContent = "";
    button.disabled = true;
    try {
      var response = await post(form, { "Accept": "application/x-ndjson", "X-Console-Fragment": "1" });
      if (!response.ok || !response.body) { result.innerHTML = await response.text(); return; }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var pending = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) { break; }
        pending += decoder.decode(chunk.value, { stream: true });
        var lines = pending.split("\n");
        pending = lines.pop();
        lines.filter(Boolean).forEach(function (line) {
          var step = JSON.parse(line);
          if (step.total !== undefined) {
            bar.max = Math.max(step.total, 1);
            bar.value = step.checked;
            text.textContent = step.checked + " of " + step.total + " entries checked";
          }
          if (step.done) {
            bar.value = bar.max;
            result.innerHTML = step.html;
          }
        });
      }
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("form[data-dialog]")) { event.preventDefault(); askPolicy(form); }
    else if (form.matches("form[data-verify]")) { event.preventDefault(); verify(form); }
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close]");
    if (!close) { return; }
    event.preventDefault();
    var d = close.closest("dialog");
    if (d) { d.close(); } else { window.history.back(); }
  });
}());
