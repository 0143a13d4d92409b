// The console's only script: live updates and a confirmation before deleting.
// Live parts of a page carry data-live="URL": when the server's event stream says something changed, each
// is fetched again and replaced by the server's own rendering (escaped there, like every page). A form
// with data-confirm asks first. Nothing here builds HTML from data.
(function () {
  "use strict";

  function refresh(part) {
    return fetch(part.getAttribute("data-live"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        part.innerHTML = html;
        scrollTranscript();
      })
      .catch(function () { /* the stream reconnects; the next change brings the page up to date */ });
  }

  function scrollTranscript() {
    var lines = document.getElementById("transcript");
    if (lines && lines.lastElementChild) { lines.lastElementChild.scrollIntoView({ block: "nearest" }); }
  }

  function listen() {
    var parts = document.querySelectorAll("[data-live]");
    if (!parts.length || !window.EventSource) { return; }
    var source = new EventSource("/events");
    source.addEventListener("change", function () {
      parts.forEach(refresh);
    });
    source.addEventListener("open", function () { document.body.classList.add("is-live"); });
    source.addEventListener("error", function () { document.body.classList.remove("is-live"); });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    scrollTranscript();
    listen();
  });
})();
