// CSV import: create a job, upload the file, poll the job until ingest has read every line (100 %).
"use strict";
(function () {
  function show(box, job) {
    var bar = box.querySelector("[data-progress]");
    var text = box.querySelector("[data-progress-text]");
    if (bar) { bar.value = job.progress; }
    if (text) { text.textContent = job.progress + " %"; }
    var result = box.querySelector("[data-progress-result]");
    if (result && job.state === "done" && job.result) {
      result.textContent = job.result.lines + " lines: " + job.result.accepted + " accepted, " +
        job.result.duplicates + " duplicates, " + job.result.rejected + " rejected.";
      var link = document.createElement("a");
      link.href = job.page_url; link.textContent = " Details";
      result.appendChild(link);
    } else if (result && job.state === "failed") {
      result.textContent = "Failed: " + job.error;
    }
  }

  function poll(box, url, stopWhen) {
    var timer = setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (job) {
          if (!job) { return; }
          show(box, job);
          if (job.state === "done" || job.state === "failed" || stopWhen()) { clearInterval(timer); }
        });
    }, 300);
  }

  var form = document.getElementById("import-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      var file = form.querySelector("input[name=file]").files[0];
      if (!file || !window.fetch) { return; }
      event.preventDefault();
      var csrf = form.querySelector("input[name=csrf_token]").value;
      var box = document.getElementById("import-progress");
      box.hidden = false;
      form.querySelector("button[type=submit]").disabled = true;
      fetch(form.dataset.jobsUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          form.querySelector("input[name=job]").value = job.id;
          form.querySelector("input[name=size]").value = String(file.size);
          var finished = false;
          var xhr = new XMLHttpRequest();
          xhr.open("POST", form.action);
          xhr.setRequestHeader("X-CSRF-Token", csrf);
          xhr.setRequestHeader("Accept", "application/json");
          xhr.onloadend = function () {
            finished = true;
            form.querySelector("button[type=submit]").disabled = false;
            try { show(box, JSON.parse(xhr.responseText)); } catch (e) { box.querySelector("[data-progress-result]").textContent = "The upload failed."; }
          };
          xhr.send(new FormData(form));
          poll(box, job.status_url, function () { return finished; });
        });
    });
  }

  var jobBox = document.getElementById("import-job");
  if (jobBox && jobBox.dataset.state !== "done" && jobBox.dataset.state !== "failed") {
    poll(jobBox, jobBox.dataset.statusUrl, function () { return false; });
  }
})();
