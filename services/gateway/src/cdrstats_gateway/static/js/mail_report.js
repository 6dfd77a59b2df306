// Notification pages: the mail report's live preview (iframe + subject line) follows the form;
// the admin's owner picker switches on change.
"use strict";
(function () {
  document.querySelectorAll("select[data-auto-submit]").forEach(function (select) {
    var form = select.form;
    form.querySelectorAll("[data-without-script]").forEach(function (b) { b.hidden = true; });
    select.addEventListener("change", function () { form.submit(); });
  });

  var form = document.getElementById("mail-report-form");
  var frame = document.querySelector("iframe.mail-preview");
  if (!form || !frame) { return; }
  var meta = {
    subject: document.querySelector("[data-preview-subject]"),
    period: document.querySelector("[data-preview-period]"),
    recipients: document.querySelector("[data-preview-recipients]"),
    error: document.querySelector("[data-preview-error]")
  };

  // the same parameters, in the same order, as the page's first iframe URL (so it is not loaded twice)
  function query() {
    var params = new URLSearchParams();
    var recipients = form.elements.namedItem("recipients").value.split(/[\n,;]/)
      .map(function (s) { return s.trim(); }).filter(Boolean);
    var values = {
      owner: form.elements.namedItem("owner").value,
      switch_id: form.elements.namedItem("switch_id").value,
      recipients: recipients.join(","),
      kind: form.elements.namedItem("kind").value,
      period: form.elements.namedItem("period").value.trim()
    };
    Object.keys(values).forEach(function (name) { if (values[name]) { params.set(name, values[name]); } });
    return params.toString();
  }

  var last = null;
  var timer = null;
  function update() {
    var q = query();
    if (q === last) { return; }
    last = q;
    if (frame.getAttribute("src").split("?")[1] !== q) { frame.src = form.dataset.previewUrl + "?" + q; }
    fetch(form.dataset.previewJsonUrl + "?" + q, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (q !== last) { return; }
        meta.error.hidden = !data.error;
        meta.error.textContent = data.error || "";
        meta.subject.textContent = data.subject || "—";
        meta.period.textContent = data.period ? data.period + " (" + data.from + " to " + data.to + ", " + data.time_zone + ")" : "—";
        meta.recipients.textContent = data.recipients && data.recipients.length ? data.recipients.join(", ") : "nobody yet";
      })
      .catch(function () { meta.error.hidden = false; meta.error.textContent = "The preview could not be loaded."; });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(update, 350);
  }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  update();
})();
