// The courier app's service worker: the static shell is cached so the app loads with a
// weak signal; pages and API calls always go to the network (they hold the person's
// session and a stale route is worse than none).
const CACHE = "hubflow-courier-v1";
const SHELL = ["/static/hubflow.css", "/static/app.js", "/static/courier.js", "/static/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  // Network first, the cached shell when offline.
  event.respondWith(fetch(event.request).then((resp) => {
    const copy = resp.clone();
    if (resp.ok) caches.open(CACHE).then((c) => c.put(event.request, copy));
    return resp;
  }).catch(() => caches.match(event.request)));
});
