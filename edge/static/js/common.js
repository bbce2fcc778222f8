/* Shared by the diner and staff pages: API calls, safe DOM building, lists that update in place,
   money, realtime. */
(function () {
  "use strict";

  var NETWORK_ERROR = {
    code: "NETWORK",
    message: "Sin conexión con el servidor del local. Reintentando…"
  };

  // A request the network swallowed (a tablet roaming between access points, the device
  // restarting) fails after this long instead of hanging for minutes: a list waits for its load
  // in flight before loading again, and a diner would be left without an answer.
  var API_TIMEOUT_MS = 20000;

  function offline() {
    return { ok: false, status: 0, data: null, error: NETWORK_ERROR };
  }

  /* Calls the device's JSON API; never throws: answers {ok, status, data, error}. */
  function api(method, path, options) {
    options = options || {};
    var controller = new AbortController();
    var timeout = window.setTimeout(function () {
      controller.abort();
    }, API_TIMEOUT_MS);
    var headers = { Accept: "application/json" };
    if (options.token) headers.Authorization = "Bearer " + options.token;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    Object.keys(options.headers || {}).forEach(function (name) {
      headers[name] = options.headers[name];
    });
    return fetch(path, {
      method: method,
      headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
      signal: controller.signal
    })
      .then(function (response) {
        return response.json().then(
          function (payload) {
            return {
              ok: response.ok && payload.success === true,
              status: response.status,
              data: payload.data,
              error: payload.error || null
            };
          },
          function () {
            if (controller.signal.aborted) return offline();
            return {
              ok: false,
              status: response.status,
              data: null,
              error: { code: "BAD_RESPONSE", message: "Respuesta inesperada del servidor" }
            };
          }
        );
      }, offline)
      .then(function (answer) {
        window.clearTimeout(timeout);
        return answer;
      });
  }

  /* Builds an element. Text always goes through textContent: nothing becomes markup. */
  function el(tag, props) {
    var node = document.createElement(tag);
    props = props || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else if (key === "on") {
        Object.keys(value).forEach(function (name) {
          node.addEventListener(name, value[name]);
        });
      } else if (key === "hidden") node.hidden = true;
      else if (key === "disabled") node.disabled = true;
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  /* Live regions speak on every write, even of the same words: write only changes. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  /* ---- lists that update in place ----
     Render functions build fresh elements; `patch` writes only the differences onto the nodes
     already on screen, so a button that is still there stays the same element: it keeps
     keyboard focus, and screen readers are not told about text that did not change. Elements
     keep their identity through `data-key` (a list item: the id of what it shows),
     `data-action` (a control: what it does) or `id`. Rendered nodes carry no listeners: lists
     handle clicks for all their items with `onAction`. */

  function identity(node) {
    if (node.nodeType !== 1) return null;
    return node.getAttribute("data-key") || node.getAttribute("data-action") || node.id || null;
  }

  function sameNode(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName && identity(a) === identity(b);
  }

  function patchAttributes(old, fresh) {
    for (var i = old.attributes.length - 1; i >= 0; i--) {
      var name = old.attributes[i].name;
      if (!fresh.hasAttribute(name)) old.removeAttribute(name);
    }
    for (var j = 0; j < fresh.attributes.length; j++) {
      var attribute = fresh.attributes[j];
      if (old.getAttribute(attribute.name) !== attribute.value) {
        old.setAttribute(attribute.name, attribute.value);
      }
    }
  }

  function patchNode(old, fresh) {
    if (old.nodeType === 1) {
      patchAttributes(old, fresh);
      patchChildren(old, fresh.childNodes);
    } else if (old.nodeValue !== fresh.nodeValue) {
      old.nodeValue = fresh.nodeValue;
    }
  }

  /* Makes `parent`'s children match `nodes` (fresh, not yet on the page), reusing each child
     that has the same tag and identity. */
  function patchChildren(parent, nodes) {
    var wanted = Array.prototype.slice.call(nodes);
    var current = parent.firstChild;
    wanted.forEach(function (fresh) {
      var match = null;
      if (current && sameNode(current, fresh)) match = current;
      else if (identity(fresh)) {
        for (var node = current; node; node = node.nextSibling) {
          if (sameNode(node, fresh)) {
            match = node;
            break;
          }
        }
      }
      if (match) {
        if (match !== current) parent.insertBefore(match, current);
        patchNode(match, fresh);
        current = match.nextSibling;
      } else {
        parent.insertBefore(fresh, current);
      }
    });
    while (current) {
      var gone = current;
      current = current.nextSibling;
      parent.removeChild(gone);
    }
  }

  var FOCUSABLE = "button, a[href], input, select, textarea, [tabindex]";

  function focusable(root) {
    if (!root) return null;
    if (root.matches && root.matches(FOCUSABLE) && !root.hidden) return root;
    var all = root.querySelectorAll(FOCUSABLE);
    for (var i = 0; i < all.length; i++) {
      if (!all[i].disabled && all[i].getClientRects().length) return all[i];
    }
    return null;
  }

  function byKey(root, key) {
    var all = root.querySelectorAll("[data-key]");
    for (var i = 0; i < all.length; i++) if (all[i].getAttribute("data-key") === key) return all[i];
    return null;
  }

  /* The control to focus in `item` in place of one that did `action`. */
  function controlIn(item, action) {
    if (!item) return null;
    var same = action ? item.querySelector('[data-action="' + action + '"]') : null;
    return focusable(same) || focusable(item);
  }

  /* Notes where focus is inside `root`, before an update; `restore(fallback)` after it puts focus
     back on the same element if it survived, else on the same control of the same item (moved
     or re-made), else on the same control of the item that took its place or the one before
     it, else on `fallback` (an element, made focusable if needed). */
  function keepFocus(root) {
    var before = document.activeElement;
    if (!before || before === document.body || !root.contains(before)) {
      return { restore: function () {} };
    }
    var item = before.closest("[data-key]");
    if (item && !root.contains(item)) item = null;
    var action = before.getAttribute("data-action");
    var list = item ? item.parentNode : null;
    var index = list ? Array.prototype.indexOf.call(list.children, item) : -1;
    var key = item ? item.getAttribute("data-key") : null;
    return {
      restore: function (fallback) {
        if (before.isConnected && root.contains(before)) {
          if (document.activeElement !== before) before.focus({ preventScroll: true });
          return;
        }
        var now = document.activeElement;
        if (now && now !== document.body && !root.contains(now)) return;
        var target = key ? controlIn(byKey(root, key), action) : null;
        if (!target && list && list.isConnected) {
          var siblings = list.children;
          target =
            controlIn(siblings[Math.min(index, siblings.length - 1)], action) ||
            controlIn(siblings[index - 1], action);
        }
        if (!target && fallback) {
          if (!fallback.matches(FOCUSABLE)) fallback.setAttribute("tabindex", "-1");
          target = fallback;
        }
        if (target) target.focus({ preventScroll: true });
      }
    };
  }

  /* Makes `container`'s children match `nodes` (as patchChildren), keeping keyboard focus. */
  function patch(container, nodes, fallback) {
    var focus = keepFocus(container);
    patchChildren(container, nodes);
    focus.restore(fallback);
  }

  /* `list` shows `items`, one child per item, made by `render(item)` and keyed by `key(item)`. */
  function keyed(list, items, options) {
    patch(
      list,
      items.map(function (item) {
        var node = options.render(item);
        node.setAttribute("data-key", String(options.key(item)));
        return node;
      }),
      options.fallback
    );
  }

  /* One click handler for every `[data-action]` control in `container`, now and later:
     `handler(action, key, control)`, key being the `data-key` of the item the control is in.
     A control marked aria-disabled (its request in flight) does nothing. */
  function onAction(container, handler) {
    container.addEventListener("click", function (event) {
      var control = event.target.closest("[data-action]");
      if (!control || !container.contains(control)) return;
      if (control.getAttribute("aria-disabled") === "true") return;
      var item = control.closest("[data-key]");
      handler(control.getAttribute("data-action"), item ? item.getAttribute("data-key") : null, control);
    });
  }

  /* Texts such as "hace 3 min" ([data-since]) kept current without re-rendering anything. */
  function refreshTimes(root) {
    var all = (root || document).querySelectorAll("[data-since]");
    for (var i = 0; i < all.length; i++) setText(all[i], ago(all[i].getAttribute("data-since")));
  }

  function $(id) {
    return document.getElementById(id);
  }

  var SYMBOLS = { PEN: "S/", USD: "US$", EUR: "€", MXN: "MX$", COP: "COL$", CLP: "CLP$" };

  /* Integer cents to "S/ 38.00"; done by hand so every phone shows the same thing. */
  function money(cents, currency) {
    var negative = cents < 0;
    var value = Math.abs(Math.round(cents));
    var units = String(Math.floor(value / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var text = units + "." + String(value % 100).padStart(2, "0");
    var symbol = SYMBOLS[currency] || currency || "";
    return (negative ? "-" : "") + (symbol ? symbol + " " : "") + text;
  }

  /* The contract's tax: subtotal * rate / 10000, rounded half up to the cent. */
  function taxFor(subtotal, rate) {
    return Math.floor((subtotal * rate + 5000) / 10000);
  }

  function minutesSince(iso) {
    var then = Date.parse(iso);
    if (isNaN(then)) return null;
    return Math.max(0, Math.floor((Date.now() - then) / 60000));
  }

  function ago(iso) {
    var minutes = minutesSince(iso);
    if (minutes === null) return "";
    if (minutes < 1) return "hace un momento";
    if (minutes < 60) return "hace " + minutes + " min";
    var hours = Math.floor(minutes / 60);
    return "hace " + hours + " h " + (minutes % 60) + " min";
  }

  function clock(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    return String(date.getHours()).padStart(2, "0") + ":" + String(date.getMinutes()).padStart(2, "0");
  }

  /* localStorage may be unavailable (private mode, full disk): the page then just forgets. */
  var saved = {
    get: function (key) {
      try {
        var raw = window.localStorage.getItem(key);
        return raw ? JSON.parse(raw) : null;
      } catch (error) {
        return null;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(key, JSON.stringify(value));
      } catch (error) {
        /* Nothing to do: the session lives as long as the page. */
      }
    },
    remove: function (key) {
      try {
        window.localStorage.removeItem(key);
      } catch (error) {
        /* Same as above. */
      }
    }
  };

  /* crypto.randomUUID needs a secure context, and the device is plain http on the LAN. */
  function randomKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return b.toString(16).padStart(2, "0");
      })
      .join("");
  }

  /* Says something to screen readers through a polite live region. */
  function announce(text) {
    var region = $("announcer");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  /* The Socket.IO client (47 KiB) loads when a page first goes live, not with every page: the
     join and login screens never need it. Its versioned URL is in a <meta> the page carries. */
  var realtimeClient = null;

  function loadRealtime() {
    if (window.io) return Promise.resolve(window.io);
    if (realtimeClient) return realtimeClient;
    var meta = document.querySelector('meta[name="restai-realtime-client"]');
    realtimeClient = new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = meta ? meta.content : "";
      script.onload = function () {
        resolve(window.io);
      };
      script.onerror = function () {
        script.remove();
        realtimeClient = null;
        reject(new Error("the realtime client did not load"));
      };
      document.head.appendChild(script);
    });
    return realtimeClient;
  }

  var REALTIME_RETRY_MS = 5000;

  /* Realtime with the device. Reconnects send `since` so missed events arrive in order. The
     handle works at once; until the client has loaded it reports "not connected", which is what
     makes the pages poll meanwhile. */
  function live(options) {
    var lastEventId = null;
    var socket = null;
    var closed = false;
    var retry = null;

    function connect(io) {
      if (closed) return;
      socket = io({
        path: "/socket.io",
        auth: function (send) {
          var auth = { token: options.token() };
          if (lastEventId !== null) auth.since = lastEventId;
          send(auth);
        }
      });
      socket.onAny(function (name, data) {
        if (data && typeof data.eventId === "number") {
          if (lastEventId !== null && data.eventId <= lastEventId) return;
          lastEventId = data.eventId;
        }
        options.onEvent(name, data || {});
      });
      socket.on("connect", function () {
        options.onState(true);
      });
      socket.on("disconnect", function (reason) {
        options.onState(false);
        if (reason === "io server disconnect" && options.onClosed) options.onClosed();
      });
      socket.on("connect_error", function (error) {
        options.onState(false);
        // A refusal (bad or dead token) is final; a network error is retried by the client.
        if (error && error.data && error.data.code && options.onRefused) {
          options.onRefused(error.data);
        }
      });
    }

    function load() {
      retry = null;
      loadRealtime().then(connect, function () {
        if (closed) return;
        options.onState(false);
        retry = window.setTimeout(load, REALTIME_RETRY_MS);
      });
    }

    load();
    return {
      connected: function () {
        return !!socket && socket.connected;
      },
      close: function () {
        closed = true;
        window.clearTimeout(retry);
        if (!socket) return;
        socket.off();
        socket.offAny();
        socket.disconnect();
      }
    };
  }

  /* Coalesces bursts of "this list is stale" into one load per list: `refresh(["tables"])`
     runs loaders.tables() once, shortly after the last call of a burst. A list has one load in
     flight at a time, and staleness reported meanwhile loads it again once that one is answered:
     two loads in flight can be answered out of order, and the older answer would put back what
     the newer one had removed (an approved request, a served order). */
  function refresher(loaders, delay) {
    var due = {};
    var loading = {};
    var timer = null;

    function load(kind) {
      loading[kind] = true;
      new Promise(function (resolve) {
        resolve(loaders[kind]());
      }).then(done, done);
      function done() {
        loading[kind] = false;
        if (due[kind]) schedule();
      }
    }

    function schedule() {
      if (timer) return;
      timer = window.setTimeout(function () {
        timer = null;
        Object.keys(due).forEach(function (kind) {
          if (loading[kind]) return;
          delete due[kind];
          if (loaders[kind]) load(kind);
        });
      }, delay === undefined ? 120 : delay);
    }

    return function refresh(kinds) {
      kinds.forEach(function (kind) {
        due[kind] = true;
      });
      schedule();
    };
  }

  function show(screens, name) {
    screens.forEach(function (id) {
      $(id).hidden = id !== name;
    });
  }

  /* Moves focus to a new screen's heading so screen readers hear where they are. */
  function focusHeading(container) {
    var heading = container.querySelector("h1, h2");
    if (!heading) return;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }

  window.RestAI = {
    api: api,
    el: el,
    clear: clear,
    setText: setText,
    patch: patch,
    keyed: keyed,
    keepFocus: keepFocus,
    onAction: onAction,
    refreshTimes: refreshTimes,
    $: $,
    money: money,
    taxFor: taxFor,
    ago: ago,
    clock: clock,
    minutesSince: minutesSince,
    saved: saved,
    randomKey: randomKey,
    announce: announce,
    live: live,
    refresher: refresher,
    show: show,
    focusHeading: focusHeading
  };
})();
