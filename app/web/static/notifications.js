/* The installable client's service worker, and the control that turns this browser's alert
   notifications on or off (on the notifications page). */
"use strict";
(function () {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});

  var control = document.getElementById("push-control");
  if (!control) return;
  var state = document.getElementById("push-state");
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");
  var csrf = document.querySelector('meta[name="csrf-token"]');

  function say(text) { state.textContent = text; }
  function key(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function post(url, fields) {
    var body = new URLSearchParams();
    body.set("csrf_token", csrf ? csrf.content : "");
    Object.keys(fields).forEach(function (k) { body.set(k, fields[k]); });
    return window.fetch(url, { method: "POST", body: body, credentials: "same-origin" });
  }
  function show(subscribed) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
    say(subscribed ? "Notifications are on in this browser." : "Notifications are off in this browser.");
  }

  if (!("PushManager" in window) || !("Notification" in window)) {
    say("This browser cannot show notifications.");
    return;
  }
  navigator.serviceWorker.ready.then(function (reg) {
    return reg.pushManager.getSubscription().then(function (sub) {
      show(Boolean(sub));
      on.addEventListener("click", function () {
        window.Notification.requestPermission().then(function (answer) {
          if (answer !== "granted") { say("Notifications are blocked for this site in the browser's settings."); return null; }
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(control.dataset.key) });
        }).then(function (made) {
          if (!made) return null;
          var json = made.toJSON();
          return post(control.dataset.action, { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth })
            .then(function (response) {
              if (!response.ok) throw new Error("refused");
              window.location.reload();
            });
        }).catch(function () { say("Notifications could not be turned on; try again."); });
      });
      off.addEventListener("click", function () {
        reg.pushManager.getSubscription().then(function (current) {
          if (!current) { show(false); return null; }
          var endpoint = current.endpoint;
          return current.unsubscribe().then(function () {
            return post(control.dataset.action + "/forget", { endpoint: endpoint });
          }).then(function () { window.location.reload(); });
        }).catch(function () { say("Notifications could not be turned off; try again."); });
      });
    });
  });
})();
