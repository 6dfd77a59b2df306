// Destination control: pick a country -> its prefixes as checkboxes (no reload); confirm deletions.
"use strict";
(function () {
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function choice(name, value, strongText, rest, extra) {
    var label = el("label", { "class": "check" });
    var box = el("input", { type: "checkbox", name: name });
    if (value) { box.value = value; }
    var span = el("span");
    if (strongText) { span.appendChild(el(value ? "code" : "strong", {}, strongText)); }
    span.appendChild(document.createTextNode(rest));
    if (extra) { span.appendChild(document.createTextNode(" ")); span.appendChild(extra); }
    label.appendChild(box);
    label.appendChild(document.createTextNode(" "));
    label.appendChild(span);
    return label;
  }

  function render(box, data) {
    var legend = box.querySelector("legend");
    box.textContent = "";
    if (legend) { box.appendChild(legend); }
    box.appendChild(choice("whole_country", "", "Whole country", " — every number placed in " + data.name + " (" + data.country + ")"));
    data.country_prefixes.forEach(function (prefix) {
      var shared = data.shared_with.length && data.country_prefixes.length === 1 ?
        el("span", { "class": "warn" }, "(shared with " + data.shared_with.join(", ") + ")") : null;
      box.appendChild(choice("prefixes", prefix, "+" + prefix, " — every number on this code", shared));
    });
    data.choices.forEach(function (c) {
      var example = c.example ? el("span", { "class": "muted" }, "e.g. " + c.example) : null;
      box.appendChild(choice("prefixes", c.prefix, "+" + c.prefix, " — " + c.kinds.join(", "), example));
    });
    if (!data.choices.length) {
      box.appendChild(el("p", { "class": "muted" }, "libphonenumber lists no mobile or premium-rate ranges apart from the whole plan for " + data.name + "."));
    }
  }

  var select = document.getElementById("pick-country");
  var box = document.getElementById("prefix-choices");
  var hidden = document.querySelector("[data-picked-country]");
  if (select && box && hidden && window.fetch) {
    document.querySelectorAll("[data-without-script]").forEach(function (b) { b.hidden = true; });
    select.addEventListener("change", function () {
      var country = select.value;
      hidden.value = country;
      if (!country) { return; }
      box.setAttribute("aria-busy", "true");
      fetch(select.dataset.prefixesUrl + "?country=" + encodeURIComponent(country),
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
        .then(function (data) { if (select.value === country) { render(box, data); } })
        .catch(function (e) { box.appendChild(el("p", { "class": "error" }, "Could not load the prefixes: " + e.message)); })
        .then(function () { box.removeAttribute("aria-busy"); });
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
})();
