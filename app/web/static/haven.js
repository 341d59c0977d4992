/* Haven: progressive enhancement only. Every page and form works without this file.
   - the alert inbox follows the alert stream (Server-Sent Events) and swaps in fresh lists;
   - the document form previews a pasted MRZ (for display only; the server checks it).
   No inline script, no external request: it runs under script-src 'self'. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }

  // The words this script writes, in the reader's language when the page gives them (by key,
  // app/web/render.py SCRIPT_WORDS); its own English otherwise.
  var WORDS = {};
  try { WORDS = JSON.parse(document.body.getAttribute("data-words") || "{}"); } catch (e) { WORDS = {}; }
  function t(key, text, values) {
    var shown = WORDS[key] || text;
    Object.keys(values || {}).forEach(function (name) {
      shown = shown.split("%(" + name + ")s").join(values[name]);
    });
    return shown;
  }

  // Focus the error summary of a form that came back with errors.
  var summary = $(".error-summary");
  if (summary) { summary.focus(); }

  // The live alert inbox --------------------------------------------------------------------
  var inboxUrl = document.body.getAttribute("data-live-inbox");
  var inbox = $("#inbox");
  if (inboxUrl && inbox && window.EventSource && window.fetch && window.DOMParser) {
    var status = $("#live-status");
    var state = $("#live-state");
    var pending = false;
    var timer = null;
    var fresh = {};

    var say = function (text) {
      if (status) { status.textContent = ""; window.setTimeout(function () { status.textContent = text; }, 50); }
    };
    var show = function (text, withButton) {
      if (!state) { return; }
      state.textContent = text;
      if (withButton) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = t("latest", "Show the latest alerts");
        button.addEventListener("click", function () { swap(true); });
        state.appendChild(document.createTextNode(" "));
        state.appendChild(button);
      }
      state.hidden = !text;
    };
    // Someone typing a resolution note must not lose it to a refresh.
    var busy = function () {
      var active = document.activeElement;
      return !!(inbox.querySelector("details[open]") ||
        (active && inbox.contains(active) && active.tagName === "TEXTAREA"));
    };
    var swap = function (force) {
      if (!force && busy()) { pending = true; show(t("changed", "New changes to the alerts."), true); return; }
      pending = false;
      window.fetch(inboxUrl + window.location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error("session"); }
          return response.text();
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var holder = document.activeElement && inbox.contains(document.activeElement)
            ? document.activeElement.closest("li.alert") : null;
          var keep = holder ? holder.id : null;
          inbox.replaceChildren.apply(inbox, Array.prototype.slice.call(doc.body.childNodes));
          Object.keys(fresh).forEach(function (id) {
            var item = document.getElementById("alert-" + id);
            if (item) { item.classList.add("fresh"); }
          });
          fresh = {};
          if (keep) {
            var again = document.getElementById(keep);
            if (again && again.querySelector("button")) { again.querySelector("button").focus(); }
          }
          show("", false);
        })
        .catch(function () { show(t("stopped", "Live updates stopped: reload the page."), false); });
    };
    var source = new window.EventSource("/api/v1/alerts/stream");
    source.addEventListener("alert", function (event) {
      var alert;
      try { alert = JSON.parse(event.data); } catch (e) { return; }
      if (alert.status === "open") {
        fresh[alert.id] = true;
        var level = String(alert.severity || "");
        say(t("new-alert", "New %(severity)s alert: %(summary)s", {
          severity: WORDS[level] || level,
          summary: alert.summary
        }));
      }
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { swap(false); }, 250);
    });
    source.addEventListener("end", function () {
      source.close();
      show(t("ended", "Live updates stopped: your session has ended. Reload the page to sign in again."), false);
    });
    source.addEventListener("open", function () {
      document.body.setAttribute("data-live", "on");
      if (!pending) { show("", false); }
    });
    source.addEventListener("error", function () {
      if (source.readyState === window.EventSource.CLOSED) {
        show(t("stopped", "Live updates stopped: reload the page."), false);
      } else {
        show(t("reconnecting", "Reconnecting to live updates…"), false);
      }
    });
    inbox.addEventListener("focusout", function () {
      if (pending) { window.setTimeout(function () { if (pending && !busy()) { swap(false); } }, 100); }
    });
  }

  // MRZ preview (ICAO 9303 TD3) -------------------------------------------------------------
  var weights = [7, 3, 1];
  var digit = function (text) {
    var total = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i), n;
      if (ch >= "0" && ch <= "9") { n = ch.charCodeAt(0) - 48; }
      else if (ch >= "A" && ch <= "Z") { n = ch.charCodeAt(0) - 55; }
      else if (ch === "<") { n = 0; }
      else { return -1; }
      total += n * weights[i % 3];
    }
    return total % 10;
  };
  var checks = function (value, check) { return String(digit(value)) === check; };
  var date = function (yymmdd) {
    return /^\d{6}$/.test(yymmdd) ? yymmdd.slice(0, 2) + "-" + yymmdd.slice(2, 4) + "-" + yymmdd.slice(4, 6) : yymmdd;
  };
  var preview = function (area, box) {
    var lines = area.value.toUpperCase().split(/\r?\n/).map(function (l) { return l.trim(); })
      .filter(function (l) { return l.length > 0; });
    box.replaceChildren();
    if (lines.length === 0) { box.hidden = true; return; }
    box.hidden = false;
    var title = document.createElement("p");
    box.appendChild(title);
    if (lines.length !== 2 || lines[0].length !== 44 || lines[1].length !== 44 ||
        !/^[A-Z0-9<]+$/.test(lines[0] + lines[1])) {
      title.textContent = t("mrz-shape", "Preview: expecting 2 lines of 44 characters (A–Z, 0–9, <); now %(lines)s line(s) of %(lengths)s.", {
        lines: lines.length, lengths: lines.map(function (l) { return l.length; }).join(" / ")
      });
      title.className = "mrz-bad";
      return;
    }
    var l1 = lines[0], l2 = lines[1];
    var names = l1.slice(5).split("<<");
    var rows = [
      [t("number", "Document number"), l2.slice(0, 9).replace(/</g, ""), checks(l2.slice(0, 9), l2.charAt(9))],
      [t("issuer", "Issuing state"), l1.slice(2, 5).replace(/</g, ""), null],
      [t("nationality", "Nationality"), l2.slice(10, 13).replace(/</g, ""), null],
      [t("surname", "Surname"), (names[0] || "").replace(/</g, " ").trim(), null],
      [t("given", "Given names"), (names[1] || "").replace(/</g, " ").trim(), null],
      [t("birth", "Date of birth"), date(l2.slice(13, 19)), checks(l2.slice(13, 19), l2.charAt(19))],
      [t("sex", "Sex"), l2.charAt(20), null],
      [t("expiry", "Date of expiry"), date(l2.slice(21, 27)), checks(l2.slice(21, 27), l2.charAt(27))],
      [t("composite", "Composite check"), "", checks(l2.slice(0, 10) + l2.slice(13, 20) + l2.slice(21, 43), l2.charAt(43))]
    ];
    var bad = rows.filter(function (r) { return r[2] === false; }).length;
    title.textContent = bad ? t("mrz-bad", "Preview: %(count)s check digit(s) do not match; check the typing.", { count: bad })
      : t("mrz-ok", "Preview: all check digits match.");
    title.className = bad ? "mrz-bad" : "mrz-ok";
    var list = document.createElement("dl");
    rows.forEach(function (r) {
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = r[0];
      dd.textContent = r[1] + (r[2] === null ? "" : (r[2] ? " ✓" : " ✗ " + t("digit-wrong", "check digit wrong")));
      if (r[2] === false) { dd.className = "mrz-bad"; }
      list.appendChild(dt);
      list.appendChild(dd);
    });
    box.appendChild(list);
  };
  // A file over the limit is caught before it is sent: the form and what was typed stay.
  Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-max-bytes]"), function (input) {
    var form = input.form, note = document.getElementById("e-" + input.id.slice(2) + "-size");
    if (!form || !note) { return; }
    form.addEventListener("submit", function (event) {
      var max = parseInt(input.getAttribute("data-max-bytes"), 10), file = input.files && input.files[0];
      if (!file || file.size <= max) { note.hidden = true; input.removeAttribute("aria-invalid"); return; }
      event.preventDefault();
      note.textContent = t("too-large", "Error: this file is %(size)s MB; Haven takes up to %(limit)s. Choose a smaller file (a " +
        "scan at a lower resolution, or the file in parts).", {
        size: (file.size / 1048576).toFixed(1), limit: input.getAttribute("data-max-text")
      });
      note.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "h-" + input.id.slice(2) + " " + note.id);
      input.focus();
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-mrz-preview]"), function (area) {
    var box = document.getElementById(area.getAttribute("data-mrz-preview"));
    if (!box) { return; }
    area.addEventListener("input", function () { preview(area, box); });
    preview(area, box);
  });
})();
