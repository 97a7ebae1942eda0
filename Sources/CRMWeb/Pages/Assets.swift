/// The console's one script and one style sheet, served from /static/:
/// plain JavaScript, no build step, and no inline script for the CSP to allow.
enum Assets {
    static let script = #"""
        "use strict";
        // Search as you type: each keystroke (after a short pause) asks
        // /people/search; an answer to an older query is dropped.
        document.addEventListener("DOMContentLoaded", function () {
          var input = document.getElementById("search");
          var results = document.getElementById("results");
          if (!input || !results) return;
          var timer = null, asked = 0;
          function show(people, error) {
            results.textContent = "";
            if (error) {
              var li = document.createElement("li");
              li.className = "error";
              li.textContent = error;
              results.appendChild(li);
              return;
            }
            if (people.length === 0 && input.value.trim() !== "") {
              var none = document.createElement("li");
              none.className = "none";
              none.textContent = "No one found.";
              results.appendChild(none);
            }
            people.forEach(function (p) {
              var li = document.createElement("li");
              var a = document.createElement("a");
              a.href = "/people/" + encodeURIComponent(p.id);
              a.textContent = p.name;
              li.appendChild(a);
              if (p.detail) {
                var span = document.createElement("span");
                span.className = "detail";
                span.textContent = " " + p.detail;
                li.appendChild(span);
              }
              results.appendChild(li);
            });
            results.setAttribute("data-query", input.value.trim());
          }
          function ask() {
            var query = input.value.trim();
            var mine = ++asked;
            if (query === "") { show([]); return; }
            fetch(input.getAttribute("data-search-url") + "?q=" + encodeURIComponent(query),
                  { credentials: "same-origin", headers: { "Accept": "application/json" } })
              .then(function (r) { return r.json(); })
              .then(function (body) {
                if (mine !== asked) return;
                if (body.error) show([], body.error); else show(body.people);
              })
              .catch(function () { if (mine === asked) show([], "Search failed; try again."); });
          }
          input.addEventListener("input", function () {
            clearTimeout(timer);
            timer = setTimeout(ask, 150);
          });
        });
        """#

    static let style = #"""
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
        header { display: flex; gap: 1em; align-items: center; padding: .6em 1.2em; background: #1d2330; color: #fff; }
        header a.brand { color: #fff; font-weight: 700; text-decoration: none; }
        header .who { margin-left: auto; }
        header form.signout { margin: 0; }
        main { max-width: 60em; margin: 1.5em auto; padding: 0 1.2em; }
        label { display: block; font-weight: 600; margin-top: .8em; }
        input, textarea, select { font: inherit; padding: .35em .5em; width: 100%; box-sizing: border-box; max-width: 32em; }
        button, a.button { font: inherit; padding: .35em 1em; margin-top: 1em; cursor: pointer; }
        fieldset.scale { display: flex; flex-wrap: wrap; gap: 1.2em; border: 1px solid #c9ced8; margin: 1em 0 0; padding: .6em 1em; }
        fieldset.scale label { display: inline-flex; align-items: center; gap: .3em; font-weight: 400; margin: 0; }
        #survey textarea { display: block; width: 100%; max-width: 36em; }
        #survey button { display: block; }
        .error, .field-error { color: #a4161a; }
        .field-error { margin: .2em 0 0; font-size: .92em; }
        .invalid { border: 2px solid #a4161a; }
        .notice { background: #fff3cd; padding: .5em; }
        .hint { font-weight: 400; color: #667; font-size: .9em; }
        ul.results { list-style: none; padding: 0; }
        ul.results li { padding: .4em 0; border-bottom: 1px solid #dde; }
        .detail { color: #556; }
        dl.fields { display: grid; grid-template-columns: 12em 1fr; gap: .3em 1em; }
        dl.fields dt { font-weight: 600; }
        dl.fields dd { margin: 0; white-space: pre-wrap; }
        ul.tags { list-style: none; padding: 0; display: flex; gap: .4em; flex-wrap: wrap; }
        ul.tags li { background: #dfe7f5; border-radius: 1em; padding: .1em .7em; }
        ul.counts { list-style: none; padding: 0; display: flex; gap: 1em; flex-wrap: wrap; }
        .count { font-weight: 700; }
        table.timeline { border-collapse: collapse; width: 100%; }
        table.timeline td, table.timeline th { text-align: left; padding: .3em .5em; border-bottom: 1px solid #dde; vertical-align: top; }
        td.when { white-space: nowrap; color: #556; }
        .none { color: #667; }
        """#
}
