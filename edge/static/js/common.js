/* Shared by the diner and staff pages: API calls, safe DOM building, money, realtime. */
(function () {
  "use strict";

  var NETWORK_ERROR = {
    code: "NETWORK",
    message: "Sin conexion con el servidor del local. Reintentando..."
  };

  /* Calls the device's JSON API; never throws: answers {ok, status, data, error}. */
  function api(method, path, options) {
    options = options || {};
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
      cache: "no-store"
    }).then(
      function (response) {
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
            return {
              ok: false,
              status: response.status,
              data: null,
              error: { code: "BAD_RESPONSE", message: "Respuesta inesperada del servidor" }
            };
          }
        );
      },
      function () {
        return { ok: false, status: 0, data: null, error: NETWORK_ERROR };
      }
    );
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

  /* Realtime with the device. Reconnects send `since` so missed events arrive in order. */
  function live(options) {
    var lastEventId = null;
    var socket = window.io({
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
    return {
      connected: function () {
        return socket.connected;
      },
      close: function () {
        socket.off();
        socket.offAny();
        socket.disconnect();
      }
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
    show: show,
    focusHeading: focusHeading
  };
})();
