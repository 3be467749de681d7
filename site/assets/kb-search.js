// Load the search index on the first search, not on every page load.
//
// mkdocs-material fetches search/search_index.json (several MB on a large knowledge base:
// 3.8 of the 4.1-4.6 MB of a first visit) as soon as any page opens. This script runs in
// <head>, before the theme's bundle, and holds that one request back until the reader
// reaches for the search: the search field gets focus (click, tab, or the theme's
// "f" / "s" / "/" keys, which focus it), the search toggle is switched on, or the page was
// opened from a search result (?h=..., for the theme's highlighting). The theme's own code
// does the rest unchanged; it shows "Initializing search" while the index arrives.
// No network but the site's own, no dependencies.
(function () {
  "use strict";
  var INDEX = /\/search\/search_index\.json(?:[?#]|$)/;
  var wanted = /[?&]h=/.test(window.location.search);
  var waiting = [];
  var open = XMLHttpRequest.prototype.open;
  var send = XMLHttpRequest.prototype.send;

  function release() {
    if (wanted) { return; }
    wanted = true;
    document.documentElement.setAttribute("data-kb-search-index", "requested");
    waiting.splice(0).forEach(function (go) { go(); });
  }

  XMLHttpRequest.prototype.open = function (method, url) {
    this.kbSearchIndex = INDEX.test(String(url));
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    var xhr = this, args = arguments;
    if (xhr.kbSearchIndex && !wanted) {
      waiting.push(function () { send.apply(xhr, args); });
      return undefined;
    }
    return send.apply(xhr, args);
  };

  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el && el.classList && el.classList.contains("md-search__input")) { release(); }
  }, true);
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.id === "__search" && el.checked) { release(); }
  }, true);
  // A pointer on the search field or its toggle: start loading a moment before the focus.
  document.addEventListener("pointerdown", function (event) {
    var el = event.target;
    if (el && el.closest && el.closest(".md-search, label[for='__search']")) { release(); }
  }, true);
})();
