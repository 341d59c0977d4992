/* Haven's service worker: an offline page, and alert notifications sent by Web Push.
   Nothing about a person is ever cached: pages always come from the network, and only the
   offline page (which holds no record data) and the style sheet are kept. */
"use strict";

var CACHE = "haven-offline-v1";
var OFFLINE = "/offline";
var KEPT = [OFFLINE, "/static/haven.css"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(KEPT); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match(OFFLINE); }));
    return;
  }
  var url = new URL(request.url);
  if (url.origin === self.location.origin && KEPT.indexOf(url.pathname) >= 0) {
    event.respondWith(fetch(request).catch(function () { return caches.match(url.pathname); }));
  }
});

// A message holds {alert_id, severity, rule, url} and nothing else: no name, place or number.
function sameSite(path) {
  return typeof path === "string" && path.charAt(0) === "/" && path.charAt(1) !== "/" &&
    path.indexOf("\\") < 0 ? path : "/";
}

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  var critical = data.severity === "critical";
  // The words come in the reader's language when Haven wrote them so; English otherwise.
  var title = typeof data.title === "string" && data.title ? data.title :
    (critical ? "Critical alert in your caseload" : "Alert in your caseload");
  var body = typeof data.body === "string" && data.body ? data.body :
    "Open Haven to see it (you may need to sign in).";
  event.waitUntil(self.registration.showNotification(title, {
    body: body,
    tag: typeof data.alert_id === "string" ? data.alert_id : "haven-alert",
    renotify: critical,
    requireInteraction: critical,
    icon: "/static/icon-192.png",
    data: { url: sameSite(data.url) }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL(sameSite(event.notification.data && event.notification.data.url),
    self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (wins) {
      for (var i = 0; i < wins.length; i++) {
        if (wins[i].url === target && "focus" in wins[i]) return wins[i].focus();
      }
      return self.clients.openWindow(target);
    })
  );
});
