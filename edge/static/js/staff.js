/* The staff tablet: PIN login, table requests, tables, the orders board and sold-out switches.

   Each list has a load function (API -> `state`) and a render function (`state` -> elements,
   patched onto the page by R.keyed / R.patch, so whatever keeps its place keeps keyboard
   focus). Buttons carry `data-action` and each list answers them in one handler. Realtime
   events only say which lists are stale (EVENT_REFRESHES); `refresh` reloads those. */
(function () {
  "use strict";

  var R = window.RestAI;
  var $ = R.$;
  var el = R.el;

  var AUTH_KEY = "restai:staff";
  var SESSION_ROLES = ["manager", "waiter"];
  var MENU_ROLES = ["manager", "waiter", "kitchen"];
  var BOARD_STATUSES = "pending,confirmed,preparing,ready";
  // Polling stands in for realtime only while the socket is down.
  var POLL_MS = 5000;
  var SYNC_MS = 15000;
  var PRINTERS_MS = 5000;
  var TIMES_MS = 20000;
  var ROLE_LABELS = { manager: "Gerente", waiter: "Mozo", kitchen: "Cocina", cashier: "Caja" };
  var TABLE_LABELS = { free: "Libre", pending: "Por aprobar", active: "Ocupada" };
  var STATUS_LABELS = {
    pending: "Nuevo",
    confirmed: "Confirmado",
    preparing: "En cocina",
    ready: "Listo",
    served: "Servido",
    completed: "Completado",
    cancelled: "Cancelado"
  };
  // The contract's transitions, as the buttons a cook or waiter presses; cancelling is separate.
  var NEXT_STEPS = {
    pending: [
      ["preparing", "Preparar"],
      ["confirmed", "Confirmar"]
    ],
    confirmed: [["preparing", "Preparar"]],
    preparing: [["ready", "Listo"]],
    ready: [["served", "Servido"]]
  };
  var CANCELLABLE = ["pending", "confirmed", "preparing"];
  var COLUMNS = [
    { title: "Nuevos", statuses: ["pending", "confirmed"] },
    { title: "En cocina", statuses: ["preparing"] },
    { title: "Listos para servir", statuses: ["ready"] }
  ];
  var TABS = ["tables", "orders", "menu"];
  // Which lists an event makes stale, by the start of its name: the one place that maps realtime
  // events to refreshes.
  var EVENT_REFRESHES = [
    ["session:", ["requests", "tables"]],
    ["order:", ["orders", "tables"]],
    ["table:", ["service"]],
    ["menu:", ["menu"]]
  ];
  // What a (re)connection or a polling tick reloads: everything an event could have changed.
  var LIVE_LISTS = ["requests", "tables", "orders", "service"];

  var JOIN_NOTICE_MS = 15000;

  var state = {
    joinTimer: null,
    auth: R.saved.get(AUTH_KEY),
    tables: [],
    requests: [],
    orders: [],
    menu: null,
    currency: "",
    knownRequests: null,
    knownOrders: null,
    // Requests that arrived while the page was open: their cards glow.
    arrived: {},
    filter: "all",
    tab: "tables",
    live: null,
    syncEnabled: true,
    // The kitchen printers (GET /api/printers): a down one shows a banner; any lets staff reprint.
    printers: [],
    dialog: null,
    audio: null,
    timers: [],
    // "request:<id>", "order:<id>", "item:<id>": a change in flight (its buttons say so)...
    busy: {},
    // ...and the API's message when the last change failed.
    errors: {},
    // Orders whose "Cancelar" was pressed once: the second press cancels.
    armed: {}
  };

  /* ---- helpers ---- */

  function can(roles) {
    return !!state.auth && roles.indexOf(state.auth.staff.role) >= 0;
  }

  function money(cents) {
    return R.money(cents || 0, state.currency);
  }

  function call(method, path, body) {
    return R.api(method, path, { token: state.auth && state.auth.token, body: body }).then(function (answer) {
      if (answer.status === 401 && state.auth) {
        logout("Tu sesión expiró. Ingresa tu PIN otra vez.");
      }
      return answer;
    });
  }

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
  }

  function find(list, id) {
    for (var i = 0; i < list.length; i++) if (String(list[i].id) === String(id)) return list[i];
    return null;
  }

  /* A button of a list item; the list's action handler does the work. */
  function actionButton(action, label, className, busy, extra) {
    var props = {
      type: "button",
      className: className,
      "data-action": action,
      "aria-disabled": busy ? "true" : null,
      text: label
    };
    Object.keys(extra || {}).forEach(function (name) {
      props[name] = extra[name];
    });
    return el("button", props);
  }

  /* Where a failed change of an item says why (always there, so screen readers hear it). */
  function errorLine(key) {
    return el("p", { className: "error", role: "alert", hidden: !state.errors[key], text: state.errors[key] || "" });
  }

  /* Marks a change of `key` in flight, runs it, records its error; `render` shows each step. */
  function change(key, request, render) {
    if (state.busy[key]) return Promise.resolve(null);
    state.busy[key] = true;
    delete state.errors[key];
    render();
    return request().then(function (answer) {
      delete state.busy[key];
      if (!answer.ok && answer.status !== 401) state.errors[key] = answer.error.message;
      render();
      return answer;
    });
  }

  /* ---- sound: Web Audio beeps, no file to download ---- */

  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!state.audio) state.audio = new Context();
    if (state.audio.state === "suspended") state.audio.resume();
    $("sound-on").hidden = true;
  }

  function beep(tones) {
    var context = state.audio;
    if (!context || context.state !== "running") return;
    tones.forEach(function (frequency, index) {
      var oscillator = context.createOscillator();
      var gain = context.createGain();
      var start = context.currentTime + index * 0.2;
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.5, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
      oscillator.connect(gain);
      gain.connect(context.destination);
      oscillator.start(start);
      oscillator.stop(start + 0.2);
    });
  }

  /* ---- login ---- */

  function loginError(text) {
    $("login-error").textContent = text;
    $("login-error").hidden = !text;
    $("pin").setAttribute("aria-invalid", text ? "true" : "false");
  }

  function login(event) {
    event.preventDefault();
    unlockAudio();
    var pin = $("pin").value.trim();
    if (!/^[0-9]{4,8}$/.test(pin)) {
      loginError("El PIN tiene de 4 a 8 dígitos.");
      $("pin").focus();
      return;
    }
    loginError("");
    $("login-submit").disabled = true;
    R.api("POST", "/api/auth/staff/login", { body: { pin: pin } }).then(function (answer) {
      $("login-submit").disabled = false;
      $("pin").value = "";
      if (!answer.ok) {
        loginError(answer.status === 401 ? "PIN incorrecto. Inténtalo de nuevo." : answer.error.message);
        $("pin").focus();
        return;
      }
      state.auth = answer.data;
      R.saved.set(AUTH_KEY, state.auth);
      enterApp();
    });
  }

  function logout(message) {
    if (state.live) state.live.close();
    state.live = null;
    state.timers.forEach(window.clearInterval);
    state.timers = [];
    state.auth = null;
    state.knownRequests = null;
    state.knownOrders = null;
    desk.stop();
    R.saved.remove(AUTH_KEY);
    if ($("table-dialog").open) $("table-dialog").close();
    R.show(["screen-login", "screen-app"], "screen-login");
    loginError(message || "");
    document.title = document.title.replace(/^\(\d+\) /, "");
    $("pin").focus();
  }

  /* ---- the app ---- */

  function enterApp() {
    var staff = state.auth.staff;
    $("staff-who").textContent = staff.name + " · " + (ROLE_LABELS[staff.role] || staff.role);
    $("sound-on").hidden = !!state.audio && state.audio.state === "running";
    $("tab-menu").hidden = !can(MENU_ROLES);
    R.show(["screen-login", "screen-app"], "screen-app");
    selectTab(staff.role === "kitchen" ? "orders" : "tables", false);
    R.focusHeading($("screen-app"));
    startLive();
    desk.start();
    refresh(LIVE_LISTS);
    loadMenu();
    checkSync();
    checkPrinters();
    state.timers.push(window.setInterval(poll, POLL_MS));
    state.timers.push(window.setInterval(checkSync, SYNC_MS));
    state.timers.push(window.setInterval(checkPrinters, PRINTERS_MS));
    state.timers.push(
      window.setInterval(function () {
        R.refreshTimes($("screen-app"));
      }, TIMES_MS)
    );
  }

  function startLive() {
    state.live = R.live({
      token: function () {
        return state.auth ? state.auth.token : "";
      },
      onEvent: onEvent,
      onState: function (connected) {
        var badge = $("live-state");
        R.setText(badge, connected ? "En vivo" : "Reconectando…");
        badge.classList.toggle("is-live", connected);
        if (connected) refresh(LIVE_LISTS);
      },
      onRefused: function () {
        // The token no longer opens the door: the API will say why, and log us out if so.
        call("GET", "/api/tables");
      },
      onClosed: function () {
        call("GET", "/api/tables");
      }
    });
  }

  function onEvent(name, data) {
    if (name === "session:joined") joined(data);
    EVENT_REFRESHES.forEach(function (rule) {
      if (name.indexOf(rule[0]) === 0) refresh(rule[1]);
    });
  }

  /* Someone joined an open table (with its QR code): staff see who, and where, for a while. */
  function joined(data) {
    var text = (data.customerName || "Alguien") + " se unió a la mesa " + data.tableNumber + ".";
    var banner = $("join-alert");
    R.setText(banner, text);
    banner.hidden = false;
    window.clearTimeout(state.joinTimer);
    state.joinTimer = window.setTimeout(function () {
      banner.hidden = true;
    }, JOIN_NOTICE_MS);
  }

  function poll() {
    if (!state.live || !state.live.connected()) refresh(LIVE_LISTS);
  }

  var refresh = R.refresher({
    requests: loadRequests,
    tables: loadTables,
    orders: loadOrders,
    menu: loadMenu,
    service: function () {
      if (state.auth) return desk.load();
    }
  });

  /* ---- tabs ---- */

  function selectTab(name, focus) {
    state.tab = name;
    TABS.forEach(function (tab) {
      var button = $("tab-" + tab);
      var selected = tab === name;
      button.setAttribute("aria-selected", selected ? "true" : "false");
      button.tabIndex = selected ? 0 : -1;
      $("panel-" + tab).hidden = !selected;
    });
    if (focus) $("tab-" + name).focus();
    if (name === "menu") loadMenu();
  }

  function tabKeys(event) {
    var visible = TABS.filter(function (tab) {
      return !$("tab-" + tab).hidden;
    });
    var index = visible.indexOf(state.tab);
    if (event.key === "ArrowRight") index = (index + 1) % visible.length;
    else if (event.key === "ArrowLeft") index = (index - 1 + visible.length) % visible.length;
    else if (event.key === "Home") index = 0;
    else if (event.key === "End") index = visible.length - 1;
    else return;
    event.preventDefault();
    selectTab(visible[index], true);
  }

  /* ---- table requests ---- */

  function loadRequests() {
    if (!state.auth) return;
    return call("GET", "/api/tables/sessions/pending").then(function (answer) {
      if (!answer.ok) return;
      var fresh = answer.data.filter(function (request) {
        return !!state.knownRequests && !state.knownRequests[request.id];
      });
      state.knownRequests = {};
      answer.data.forEach(function (request) {
        state.knownRequests[request.id] = true;
      });
      fresh.forEach(function (request) {
        state.arrived[request.id] = true;
      });
      state.requests = answer.data;
      renderRequests();
      if (fresh.length) {
        flashAlert();
        beep([880, 1175, 880]);
      }
    });
  }

  function renderRequests() {
    var count = state.requests.length;
    $("requests-empty").hidden = count > 0;
    $("requests-count").hidden = count === 0;
    R.setText($("requests-count"), String(count));
    var alert = $("request-alert");
    if (count) {
      var newest = state.requests[count - 1];
      var latest = "Mesa " + newest.table_number + " pide aprobación: " + newest.customer_name;
      R.setText(alert, count === 1 ? latest : count + " mesas esperan aprobación. Última: " + latest);
      alert.hidden = false;
    } else {
      alert.hidden = true;
    }
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (count) document.title = "(" + count + ") " + document.title;
    R.keyed($("requests-list"), state.requests, {
      key: function (request) {
        return request.id;
      },
      render: requestCard,
      fallback: $("requests-empty")
    });
  }

  function flashAlert() {
    var alert = $("request-alert");
    alert.classList.remove("flash");
    void alert.offsetWidth;
    alert.classList.add("flash");
  }

  function requestCard(request) {
    var key = "request:" + request.id;
    return el(
      "li",
      { className: "request-card" + (state.arrived[request.id] ? " is-new" : "") },
      el(
        "div",
        { className: "request-head" },
        el("strong", { className: "request-table", text: "Mesa " + request.table_number }),
        el("span", { className: "muted small", "data-since": request.started_at, text: R.ago(request.started_at) })
      ),
      el("p", { className: "request-name", text: request.customer_name }),
      request.customer_phone ? el("p", { className: "muted small", text: request.customer_phone }) : null,
      errorLine(key),
      can(SESSION_ROLES)
        ? el(
            "div",
            { className: "actions" },
            actionButton("approve", "Aprobar", "primary", state.busy[key]),
            actionButton("reject", "Rechazar", "secondary", state.busy[key])
          )
        : el("p", { className: "muted small", text: "Un mozo o gerente debe aprobarla." })
    );
  }

  function decide(session, action) {
    return change(
      "request:" + session.id,
      function () {
        return call("PATCH", "/api/tables/sessions/" + encodeURIComponent(session.id) + "/" + action);
      },
      function () {
        renderRequests();
        if (state.dialog) renderDialog();
      }
    ).then(function (answer) {
      if (!answer) return answer;
      if (answer.ok) {
        R.announce("Mesa " + session.table_number + (action === "approve" ? " aprobada" : " rechazada"));
      }
      refresh(["requests", "tables"]);
      return answer;
    });
  }

  /* ---- tables ---- */

  function loadTables() {
    if (!state.auth) return;
    return call("GET", "/api/tables").then(function (answer) {
      if (!answer.ok) return;
      state.tables = answer.data;
      renderTables();
      if (state.dialog) loadDialog();
    });
  }

  function renderTables() {
    var counts = { free: 0, pending: 0, active: 0 };
    state.tables.forEach(function (table) {
      counts[table.status] = (counts[table.status] || 0) + 1;
    });
    R.setText(
      $("tables-summary"),
      plural(counts.active, "ocupada", "ocupadas") +
        " · " +
        plural(counts.pending, "por aprobar", "por aprobar") +
        " · " +
        plural(counts.free, "libre", "libres")
    );
    var shown = state.tables.filter(function (table) {
      return state.filter !== "busy" || table.status !== "free";
    });
    R.keyed($("tables-grid"), shown, {
      key: function (table) {
        return table.id;
      },
      render: tableCard,
      fallback: $("filter-" + state.filter)
    });
    $("tables-empty").hidden = shown.length > 0;
  }

  function tableCard(table) {
    var session = table.session;
    return el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          className: "table-card status-" + table.status,
          "data-action": "open",
          "data-table-number": table.number,
          "aria-haspopup": "dialog"
        },
        el("span", { className: "table-number" }, el("span", { className: "visually-hidden", text: "Mesa " }), String(table.number)),
        el("span", { className: "table-status", text: TABLE_LABELS[table.status] || table.status }),
        session ? el("span", { className: "table-name", text: session.customer_name }) : null,
        session && dinerCount(session) > 1 ? el("span", { className: "table-name", text: dinerCount(session) + " personas" }) : null,
        session && session.status === "active" ? el("span", { className: "table-total", text: money(session.total) }) : null
      )
    );
  }

  /* Who sits at the table: the diner who opened it and everyone who joined with its QR code. */
  function dinerCount(session) {
    return (session.diners || []).length;
  }

  function setFilter(filter) {
    state.filter = filter;
    $("filter-all").setAttribute("aria-pressed", filter === "all" ? "true" : "false");
    $("filter-busy").setAttribute("aria-pressed", filter === "busy" ? "true" : "false");
    renderTables();
  }

  /* ---- orders board ---- */

  function loadOrders() {
    if (!state.auth) return;
    return call("GET", "/api/orders?status=" + BOARD_STATUSES).then(function (answer) {
      if (!answer.ok) return;
      var fresh = answer.data.filter(function (order) {
        return state.knownOrders && !state.knownOrders[order.id];
      });
      state.knownOrders = {};
      answer.data.forEach(function (order) {
        state.knownOrders[order.id] = true;
      });
      state.orders = answer.data;
      renderBoard();
      if (fresh.length) {
        beep([660, 990]);
        R.announce("Nuevo pedido #" + fresh[0].order_number + ", mesa " + fresh[0].table_number);
      }
    });
  }

  function renderBoard() {
    var open = state.orders.length;
    $("orders-count").hidden = open === 0;
    R.setText($("orders-count"), String(open));
    R.patch(
      $("orders-board"),
      COLUMNS.map(function (column, index) {
        var orders = state.orders.filter(function (order) {
          return column.statuses.indexOf(order.status) >= 0;
        });
        var titleId = "column-" + index;
        return el(
          "section",
          { className: "board-column", "aria-labelledby": titleId },
          el("h2", { id: titleId }, column.title + " ", el("span", { className: "count", text: String(orders.length) })),
          orders.length
            ? el("ul", { className: "order-stack" }, ...orders.map(orderCard))
            : el("p", { className: "muted small", text: "Nada por ahora." })
        );
      }),
      $("tab-orders")
    );
  }

  /* Everywhere an order is shown: the board and a table's detail. */
  function renderOrders() {
    renderBoard();
    if (state.dialog) renderDialog();
  }

  function orderCard(order) {
    var key = "order:" + order.id;
    var steps = (NEXT_STEPS[order.status] || []).map(function (step, index) {
      return actionButton("status:" + step[0], step[1], index === 0 ? "primary" : "secondary", state.busy[key]);
    });
    if (CANCELLABLE.indexOf(order.status) >= 0) {
      // Two presses: a cancelled order cannot come back.
      var armed = state.armed[order.id];
      steps.push(actionButton("cancel", armed ? "Confirmar cancelación" : "Cancelar", "ghost danger-text", state.busy[key]));
    }
    if (state.printers.length && order.status !== "cancelled") {
      steps.push(actionButton("print", "Reimprimir", "ghost", state.busy[key]));
    }
    return el(
      "li",
      { className: "order-card status-" + order.status, "data-key": order.id },
      el(
        "div",
        { className: "order-head" },
        el("h3", { text: "#" + order.order_number + " · Mesa " + order.table_number }),
        el("span", { className: "status-badge status-" + order.status, text: STATUS_LABELS[order.status] || order.status })
      ),
      el(
        "p",
        { className: "muted small" },
        R.clock(order.created_at) + " · ",
        el("span", { "data-since": order.created_at, text: R.ago(order.created_at) })
      ),
      el(
        "ul",
        { className: "order-lines" },
        ...order.items.map(function (line) {
          return el(
            "li",
            {},
            el("span", {}, el("strong", { text: line.quantity + " × " }), line.name),
            R.modifiers.lineNode(line.modifiers, state.currency),
            line.notes ? el("span", { className: "line-note", text: line.notes }) : null
          );
        })
      ),
      order.notes ? el("p", { className: "order-note", text: "Nota: " + order.notes }) : null,
      errorLine(key),
      steps.length ? el("div", { className: "actions" }, ...steps) : null
    );
  }

  function orderAction(action, id) {
    var order = find(state.orders, id) || (state.dialog && find(state.dialog.orders, id));
    if (!order) return;
    if (action === "print") return reprint(order);
    if (action === "cancel" && !state.armed[order.id]) {
      state.armed[order.id] = true;
      return renderOrders();
    }
    moveOrder(order, action === "cancel" ? "cancelled" : action.slice("status:".length));
  }

  function moveOrder(order, status) {
    change(
      "order:" + order.id,
      function () {
        return call("PATCH", "/api/orders/" + encodeURIComponent(order.id) + "/status", { status: status });
      },
      renderOrders
    ).then(function (answer) {
      if (!answer) return;
      if (answer.ok) {
        delete state.armed[order.id];
        R.announce("Pedido #" + order.order_number + ": " + STATUS_LABELS[status]);
      }
      refresh(["orders", "tables"]);
    });
  }

  function reprint(order) {
    change(
      "order:" + order.id,
      function () {
        return call("POST", "/api/orders/" + encodeURIComponent(order.id) + "/print");
      },
      renderOrders
    ).then(function (answer) {
      if (answer && answer.ok) {
        var names = answer.data.printers.map(function (printer) {
          return printer.name;
        });
        R.announce("Pedido #" + order.order_number + " enviado a imprimir: " + names.join(", "));
      }
    });
  }

  /* ---- kitchen printers: a station that is down, and whether reprinting is offered ---- */

  function checkPrinters() {
    if (!state.auth) return;
    call("GET", "/api/printers").then(function (answer) {
      if (!answer.ok) return;
      var had = state.printers.length;
      state.printers = answer.data;
      var down = answer.data.filter(function (printer) {
        return printer.status === "down";
      });
      var banner = $("printer-banner");
      if (down.length) {
        R.setText(
          banner,
          "Impresora sin conexión: " +
            down
              .map(function (printer) {
                return printer.name + " (" + plural(printer.queue_depth, "ticket", "tickets") + " en espera)";
              })
              .join(", ") +
            ". Revisa que esté encendida, conectada y con papel; los tickets se imprimirán solos al volver."
        );
      }
      banner.hidden = !down.length;
      if (!had !== !state.printers.length) renderOrders();
    });
  }

  /* ---- menu: sold-out switches ---- */

  function loadMenu() {
    if (!state.auth) return;
    return call("GET", "/api/menu").then(function (answer) {
      if (answer.status === 404) {
        $("tab-menu").hidden = true;
        return;
      }
      if (!answer.ok) {
        $("menu-error").textContent = answer.error.message;
        $("menu-error").hidden = false;
        return;
      }
      $("menu-error").hidden = true;
      state.menu = answer.data;
      if (answer.data.branch && answer.data.branch.currency) {
        var changed = state.currency !== answer.data.branch.currency;
        state.currency = answer.data.branch.currency;
        if (changed) renderTables();
      }
      renderMenu();
    });
  }

  function renderMenu() {
    if (!state.menu) return;
    var editable = can(MENU_ROLES);
    var sections = [];
    state.menu.categories.forEach(function (category) {
      var items = state.menu.items.filter(function (item) {
        return item.category_id === category.id;
      });
      if (!items.length) return;
      sections.push(
        el(
          "section",
          { className: "menu-admin-category", "data-key": "category:" + category.id },
          el("h2", { text: category.name }),
          el("ul", { className: "menu-admin-items" }, ...items.map(function (item) {
            return menuRow(item, editable);
          }))
        )
      );
    });
    if (!sections.length) sections.push(el("p", { className: "muted", text: "La carta está vacía." }));
    R.patch($("menu-admin"), sections, $("tab-menu"));
  }

  function menuRow(item, editable) {
    var nameId = "admin-item-" + item.id;
    return el(
      "li",
      { className: item.is_available ? "" : "is-soldout", "data-key": item.id },
      el("span", { className: "item-name", id: nameId, text: item.name }),
      el("span", { className: "muted", text: money(item.price) }),
      el("span", {
        className: "badge " + (item.is_available ? "available" : "soldout"),
        text: item.is_available ? "Disponible" : "Agotado"
      }),
      editable
        ? actionButton(
            "toggle",
            item.is_available ? "Marcar agotado" : "Marcar disponible",
            "secondary small-button",
            state.busy["item:" + item.id],
            { "aria-describedby": nameId }
          )
        : null
    );
  }

  function toggleItem(id) {
    var item = state.menu && find(state.menu.items, id);
    if (!item) return;
    change(
      "item:" + item.id,
      function () {
        return call("PATCH", "/api/menu/items/" + encodeURIComponent(item.id), { is_available: !item.is_available });
      },
      renderMenu
    ).then(function (answer) {
      if (!answer) return;
      if (!answer.ok) {
        $("menu-error").textContent = answer.error.message;
        $("menu-error").hidden = false;
        return;
      }
      item.is_available = answer.data.is_available;
      R.announce(item.name + (item.is_available ? ": disponible" : ": agotado"));
      renderMenu();
    });
  }

  /* ---- a table's detail: its bill, approve/reject, end ---- */

  function openTable(tableId) {
    state.dialog = { tableId: tableId, orders: [], result: null, message: "", canForce: false, busy: false };
    renderDialog();
    $("table-dialog").showModal();
    loadDialog();
  }

  function dialogTable() {
    return state.dialog ? find(state.tables, state.dialog.tableId) : null;
  }

  function loadDialog() {
    var dialog = state.dialog;
    var table = dialogTable();
    if (!table || !table.session || dialog.result) return renderDialog();
    call("GET", "/api/orders?sessionId=" + encodeURIComponent(table.session.id)).then(function (answer) {
      if (state.dialog !== dialog) return;
      dialog.orders = answer.ok ? answer.data : [];
      renderDialog();
    });
  }

  function renderDialog() {
    var dialog = state.dialog;
    var table = dialogTable();
    if (!dialog || !table) return;
    var session = dialog.result || table.session;
    R.setText($("table-dialog-title"), "Mesa " + table.number + " · " + (dialog.result ? "Terminada" : TABLE_LABELS[table.status]));
    var joiners = session && session.diners ? session.diners.slice(1) : [];
    R.setText(
      $("td-who"),
      session
        ? session.customer_name +
            (session.customer_phone ? " · " + session.customer_phone : "") +
            " · desde " +
            R.clock(session.started_at) +
            (joiners.length
              ? ". Se unieron: " +
                joiners
                  .map(function (diner) {
                    return diner.name + " (" + R.clock(diner.joined_at) + ")";
                  })
                  .join(", ")
              : "")
        : "Mesa libre. Código para escribir: " + table.short_code
    );
    var orders = [];
    if (session && !dialog.result) {
      orders.push(
        dialog.orders.length
          ? el("ul", { className: "order-stack compact" }, ...dialog.orders.map(orderCard))
          : el("p", { className: "muted", text: "Sin pedidos todavía." })
      );
    }
    R.patch($("td-orders"), orders, $("table-dialog-title"));
    $("td-totals").hidden = !session || session.status === "pending";
    if (session) {
      R.setText($("td-subtotal"), money(session.subtotal));
      R.setText($("td-tax"), money(session.tax));
      R.setText($("td-total"), money(session.total));
    }
    var message = dialog.message || (session && state.errors["request:" + session.id]) || "";
    R.setText($("td-message"), message);
    $("td-message").hidden = !message;
    R.patch($("td-actions"), dialogActions(dialog, table, session), $("table-dialog-title"));
  }

  function dialogActions(dialog, table, session) {
    var actions = [];
    if (dialog.result) {
      actions.push(el("p", { className: "success", role: "status", text: "Mesa " + table.number + " terminada. Total de la mesa: " + money(session.total) + "." }));
    } else if (session && session.status === "pending" && can(SESSION_ROLES)) {
      var key = "request:" + session.id;
      actions.push(
        actionButton("approve", "Aprobar", "primary", state.busy[key]),
        actionButton("reject", "Rechazar", "secondary", state.busy[key])
      );
    } else if (session && session.status === "active" && can(SESSION_ROLES)) {
      actions.push(actionButton("end", "Terminar", "danger", dialog.busy));
      if (dialog.canForce) {
        actions.push(actionButton("force", "Forzar cierre", "danger-outline", dialog.busy, { "aria-describedby": "td-message" }));
      }
    }
    actions.push(actionButton("close", "Cerrar", "ghost", false));
    return actions;
  }

  function dialogAction(action) {
    var dialog = state.dialog;
    var table = dialogTable();
    if (action === "close" || !dialog || !table) return $("table-dialog").close();
    if (action === "end" || action === "force") return endSession(action === "force");
    if (!table.session) return;
    decide({ id: table.session.id, table_number: table.number }, action).then(function (answer) {
      if (answer && answer.ok && state.dialog === dialog) $("table-dialog").close();
    });
  }

  function endSession(force) {
    var dialog = state.dialog;
    var table = dialogTable();
    if (!table || !table.session || dialog.busy) return;
    dialog.busy = true;
    renderDialog();
    var path = "/api/tables/sessions/" + encodeURIComponent(table.session.id) + "/end" + (force ? "?force=true" : "");
    call("PATCH", path).then(function (answer) {
      dialog.busy = false;
      if (state.dialog !== dialog) return;
      if (answer.ok) {
        dialog.result = answer.data;
        dialog.message = "";
        R.announce("Mesa " + table.number + " terminada. Total " + money(answer.data.total));
      } else if (answer.error && answer.error.code === "SESSION_HAS_OPEN_ORDERS") {
        var open = answer.error.details && answer.error.details.openOrders;
        dialog.message =
          answer.error.message +
          (open ? " (" + plural(open, "pedido", "pedidos") + ")" : "") +
          ". Marca los pedidos como servidos" +
          (state.auth.staff.role === "manager" ? ", o fuerza el cierre para cancelarlos." : " o pide a un gerente que fuerce el cierre.");
        dialog.canForce = state.auth.staff.role === "manager";
      } else if (answer.status !== 401) {
        dialog.message = answer.error.message;
      }
      renderDialog();
      refresh(["tables", "orders", "requests"]);
    });
  }

  /* ---- upstream sync banner ---- */

  function checkSync() {
    if (!state.syncEnabled || !state.auth) return;
    call("GET", "/api/sync/status").then(function (answer) {
      var banner = $("sync-banner");
      if (answer.status === 404) {
        state.syncEnabled = false;
        banner.hidden = true;
        return;
      }
      if (!answer.ok) return;
      var status = answer.data;
      showClock(status.clock);
      if (status.last_error && status.queue_depth > 0) {
        R.setText(
          banner,
          "Sin conexión — " +
            plural(status.queue_depth, "mesa", "mesas") +
            " por sincronizar. Los datos están a salvo en este equipo y se enviarán solos."
        );
        banner.hidden = false;
      } else {
        banner.hidden = true;
      }
    });
  }

  /* Tokens and pending requests expire by this device's clock: staff must know when it is off. */
  function showClock(clock) {
    var banner = $("clock-banner");
    if (!clock || !clock.off) {
      banner.hidden = true;
      return;
    }
    var minutes = Math.max(1, Math.round(Math.abs(clock.skew_s) / 60));
    R.setText(
      banner,
      "El reloj de este equipo está " +
        plural(minutes, "minuto", "minutos") +
        (clock.skew_s > 0 ? " adelantado" : " atrasado") +
        " respecto a la central. Las sesiones pueden vencer antes o después de tiempo: pide que lo corrijan."
    );
    banner.hidden = false;
  }

  /* ---- wiring ---- */

  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", function () {
    // End the token on the device too, not only on this tablet: a copy of it stops working.
    if (state.auth) R.api("POST", "/api/auth/staff/logout", { token: state.auth.token });
    logout("");
  });
  $("sound-on").addEventListener("click", unlockAudio);
  document.addEventListener("pointerdown", function () {
    if (state.auth && (!state.audio || state.audio.state !== "running")) unlockAudio();
  });
  TABS.forEach(function (tab) {
    $("tab-" + tab).addEventListener("click", function () {
      selectTab(tab, false);
    });
    $("tab-" + tab).addEventListener("keydown", tabKeys);
  });
  $("filter-all").addEventListener("click", function () {
    setFilter("all");
  });
  $("filter-busy").addEventListener("click", function () {
    setFilter("busy");
  });
  $("table-dialog-close").addEventListener("click", function () {
    $("table-dialog").close();
  });
  $("table-dialog").addEventListener("close", function () {
    state.dialog = null;
  });
  R.onAction($("requests-list"), function (action, id) {
    var request = find(state.requests, id);
    if (request) decide(request, action);
  });
  R.onAction($("tables-grid"), function (action, id) {
    if (action === "open") openTable(id);
  });
  R.onAction($("orders-board"), orderAction);
  R.onAction($("td-orders"), orderAction);
  R.onAction($("td-actions"), dialogAction);
  R.onAction($("menu-admin"), function (action, id) {
    if (action === "toggle") toggleItem(id);
  });

  var desk = R.serviceDesk({ call: call, can: can, beep: beep });
  if (state.auth) enterApp();
  else logout("");
})();
