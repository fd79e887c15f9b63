/* Progressive enhancement only: every feature works without this file.
   Loaded as an external script (no inline script), so a strict Content-Security-Policy holds. */
(function () {
  "use strict";

  function announce(region, text) {
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  /* "Copy citation": a button beside each citation; the text stays selectable without it. */
  document.querySelectorAll("details.cite").forEach(function (details) {
    var text = details.querySelector(".citation-text");
    if (!text) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy secondary";
    button.textContent = "Copy citation";
    var status = document.createElement("span");
    status.className = "copy-status";
    status.setAttribute("role", "status");
    details.insertBefore(button, details.querySelector("summary").nextSibling === text ? text.nextSibling : null);
    details.appendChild(status);
    button.addEventListener("click", function () {
      copyText(text.textContent.trim()).then(function () {
        announce(status, "Citation copied.");
      }, function () {
        var range = document.createRange();
        range.selectNodeContents(text);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        announce(status, "Press Ctrl+C to copy the selected citation.");
      });
    });
  });

  /* Briefing note: a "select all on this page" control and a live count of ticked passages. */
  var form = document.getElementById("briefing");
  if (form) {
    var boxes = form.querySelectorAll("input[name=passage]");
    var fieldset = form.querySelector("fieldset.export");
    if (boxes.length && fieldset) {
      var all = document.createElement("button");
      all.type = "button";
      all.className = "secondary select-all";
      var count = document.createElement("p");
      count.className = "selected-count";
      count.setAttribute("role", "status");
      var update = function () {
        var ticked = form.querySelectorAll("input[name=passage]:checked").length;
        all.textContent = ticked === boxes.length ? "Clear selection" : "Select all on this page";
        count.textContent = ticked ? ticked + " passage" + (ticked === 1 ? "" : "s") + " selected for the note."
                                   : "No passages ticked: the whole page will be exported.";
      };
      all.addEventListener("click", function () {
        var tick = form.querySelectorAll("input[name=passage]:checked").length !== boxes.length;
        boxes.forEach(function (box) { box.checked = tick; });
        update();
      });
      boxes.forEach(function (box) { box.addEventListener("change", update); });
      fieldset.querySelector(".buttons").insertBefore(all, fieldset.querySelector(".buttons").firstChild);
      fieldset.appendChild(count);
      update();
    }
  }

  /* Document page: bring the cited passage into view and give it focus for keyboard users. */
  var current = document.querySelector(".document .passage.current");
  if (current) {
    current.setAttribute("tabindex", "-1");
    current.focus({ preventScroll: false });
  }
})();
