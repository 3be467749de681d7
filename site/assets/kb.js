// Local-time toggle for the timeline tables: every time is written in UTC as
// <time class="kb-time" datetime="...Z">; the button switches them to the reader's time zone
// and back. The choice is remembered. No network, no dependencies.
(function () {
  "use strict";
  var KEY = "kb-local-time";

  function format(date) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    offset = Math.abs(offset);
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      " " + pad(date.getHours()) + ":" + pad(date.getMinutes()) +
      " UTC" + sign + pad(Math.floor(offset / 60)) + ":" + pad(offset % 60);
  }

  function apply(local) {
    document.querySelectorAll("time.kb-time").forEach(function (el) {
      if (!el.dataset.utc) { el.dataset.utc = el.textContent; }
      var date = new Date(el.getAttribute("datetime"));
      el.textContent = local && !isNaN(date) ? format(date) : el.dataset.utc;
    });
    document.querySelectorAll(".kb-tz-toggle").forEach(function (button) {
      button.textContent = local ? "Show UTC" : "Show local time";
      button.setAttribute("aria-pressed", local ? "true" : "false");
    });
  }

  function stored() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }

  function init() {
    var local = stored();
    document.querySelectorAll(".kb-tz-toggle").forEach(function (button) {
      button.addEventListener("click", function () {
        local = !local;
        try { window.localStorage.setItem(KEY, local ? "1" : "0"); } catch (e) { /* private mode */ }
        apply(local);
      });
    });
    if (local) { apply(true); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

// The year pages' filter (progressive enhancement: without JavaScript the form stays hidden
// and every incident is listed). Each row carries its components, severity and stated causes
// as data-kb-* attributes; "unknown" severity is a value of its own, "-" means no stated cause.
(function () {
  "use strict";

  function values(row, name) {
    try { return JSON.parse(row.getAttribute("data-kb-" + name) || "[]"); } catch (e) { return []; }
  }

  function init() {
    document.querySelectorAll("form.kb-filter").forEach(function (form) {
      var table = form.parentNode.querySelector("table.kb-filterable");
      if (!table) { return; }
      var rows = Array.prototype.slice.call(table.querySelectorAll("tr.kb-facet-row"));
      var count = form.querySelector(".kb-filter-count");
      function apply() {
        var component = form.elements.component.value;
        var severity = form.elements.severity.value;
        var cause = form.elements.cause.value;
        var shown = 0;
        rows.forEach(function (row) {
          var causes = values(row, "causes");
          var ok = (!component || values(row, "components").indexOf(component) >= 0) &&
            (!severity || row.getAttribute("data-kb-severity") === severity) &&
            (!cause || (cause === "-" ? causes.length === 0 : causes.indexOf(cause) >= 0));
          row.hidden = !ok;
          if (ok) { shown += 1; }
        });
        count.textContent = shown + " of " + rows.length + " shown";
      }
      form.addEventListener("change", apply);
      form.addEventListener("submit", function (event) { event.preventDefault(); });
      form.hidden = false;
      apply();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
