/* The staff tablet: PIN login, table requests, tables, the orders board and sold-out switches. */
(function () {
  "use strict";

  var R = window.RestAI;
  var $ = R.$;
  var el = R.el;

  var AUTH_KEY = "restai:staff";
  var SESSION_ROLES = ["manager", "waiter"];
  var MENU_ROLES = ["manager", "waiter", "kitchen"];
  var BOARD_STATUSES = "pending,confirmed,preparing,ready";
  var POLL_MS = 5000;
  var SYNC_MS = 15000;
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

  var state = {
    auth: R.saved.get(AUTH_KEY),
    tables: [],
    requests: [],
    orders: [],
    menu: null,
    currency: "",
    knownRequests: null,
    knownOrders: null,
    filter: "all",
    tab: "tables",
    live: null,
    syncEnabled: true,
    dialog: null,
    audio: null,
    due: {},
    dueTimer: null,
    timers: []
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
        logout("Tu sesion expiro. Ingresa tu PIN otra vez.");
      }
      return answer;
    });
  }

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
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
      loginError("El PIN tiene de 4 a 8 digitos.");
      $("pin").focus();
      return;
    }
    loginError("");
    $("login-submit").disabled = true;
    R.api("POST", "/api/auth/staff/login", { body: { pin: pin } }).then(function (answer) {
      $("login-submit").disabled = false;
      $("pin").value = "";
      if (!answer.ok) {
        loginError(answer.status === 401 ? "PIN incorrecto. Intentalo de nuevo." : answer.error.message);
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
    refresh(["requests", "tables", "orders"]);
    loadMenu();
    checkSync();
    state.timers.push(window.setInterval(poll, POLL_MS));
    state.timers.push(window.setInterval(checkSync, SYNC_MS));
  }

  function startLive() {
    state.live = R.live({
      token: function () {
        return state.auth ? state.auth.token : "";
      },
      onEvent: onEvent,
      onState: function (connected) {
        var badge = $("live-state");
        R.setText(badge, connected ? "En vivo" : "Reconectando...");
        badge.classList.toggle("is-live", connected);
        if (connected) refresh(["requests", "tables", "orders"]);
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

  function onEvent(name) {
    if (name.indexOf("session:") === 0) refresh(["requests", "tables"]);
    if (name.indexOf("order:") === 0) refresh(["orders", "tables"]);
  }

  function poll() {
    if (!state.live || !state.live.connected()) refresh(["requests", "tables", "orders"]);
    else renderRequests();
  }

  /* Coalesces bursts of events into one fetch per list. */
  function refresh(kinds) {
    kinds.forEach(function (kind) {
      state.due[kind] = true;
    });
    if (state.dueTimer) return;
    state.dueTimer = window.setTimeout(function () {
      var due = state.due;
      state.due = {};
      state.dueTimer = null;
      if (!state.auth) return;
      if (due.requests) loadRequests();
      if (due.tables) loadTables();
      if (due.orders) loadOrders();
      if (state.dialog && (due.tables || due.orders)) loadDialog();
    }, 120);
  }

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
    return call("GET", "/api/tables/sessions/pending").then(function (answer) {
      if (!answer.ok) return;
      var fresh = answer.data.filter(function (request) {
        return !state.knownRequests || !state.knownRequests[request.id];
      });
      state.knownRequests = {};
      answer.data.forEach(function (request) {
        state.knownRequests[request.id] = true;
      });
      state.requests = answer.data;
      renderRequests(fresh);
      if (fresh.length) beep([880, 1175, 880]);
    });
  }

  function renderRequests(fresh) {
    var isNew = {};
    (fresh || []).forEach(function (request) {
      isNew[request.id] = true;
    });
    var list = R.clear($("requests-list"));
    var count = state.requests.length;
    $("requests-empty").hidden = count > 0;
    $("requests-count").hidden = count === 0;
    $("requests-count").textContent = String(count);
    var alert = $("request-alert");
    if (count) {
      var newest = state.requests[count - 1];
      var latest = "Mesa " + newest.table_number + " pide aprobacion: " + newest.customer_name;
      R.setText(alert, count === 1 ? latest : count + " mesas esperan aprobacion. Ultima: " + latest);
      alert.hidden = false;
      if (fresh && fresh.length) {
        alert.classList.remove("flash");
        void alert.offsetWidth;
        alert.classList.add("flash");
      }
    } else {
      alert.hidden = true;
    }
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (count) document.title = "(" + count + ") " + document.title;
    state.requests.forEach(function (request) {
      list.appendChild(requestCard(request, isNew[request.id]));
    });
  }

  function requestCard(request, isNew) {
    var message = el("p", { className: "error", role: "alert", hidden: true });
    var actions = can(SESSION_ROLES)
      ? el(
          "div",
          { className: "actions" },
          el("button", {
            type: "button",
            className: "primary",
            text: "Aprobar",
            on: {
              click: function (event) {
                decide(request, "approve", event.currentTarget, message);
              }
            }
          }),
          el("button", {
            type: "button",
            className: "secondary",
            text: "Rechazar",
            on: {
              click: function (event) {
                decide(request, "reject", event.currentTarget, message);
              }
            }
          })
        )
      : el("p", { className: "muted small", text: "Un mozo o gerente debe aprobarla." });
    return el(
      "li",
      {
        className: "request-card" + (isNew ? " is-new" : ""),
        "data-session-id": request.id
      },
      el(
        "div",
        { className: "request-head" },
        el("strong", { className: "request-table", text: "Mesa " + request.table_number }),
        el("span", { className: "muted small", text: R.ago(request.started_at) })
      ),
      el("p", { className: "request-name", text: request.customer_name }),
      request.customer_phone ? el("p", { className: "muted small", text: request.customer_phone }) : null,
      message,
      actions
    );
  }

  function decide(request, action, button, message) {
    button.disabled = true;
    return call("PATCH", "/api/tables/sessions/" + encodeURIComponent(request.id) + "/" + action).then(
      function (answer) {
        button.disabled = false;
        if (answer.ok) {
          R.announce(
            "Mesa " + request.table_number + (action === "approve" ? " aprobada" : " rechazada")
          );
        } else if (answer.status !== 401) {
          message.textContent = answer.error.message;
          message.hidden = false;
        }
        refresh(["requests", "tables"]);
        return answer;
      }
    );
  }

  /* ---- tables ---- */

  function loadTables() {
    return call("GET", "/api/tables").then(function (answer) {
      if (!answer.ok) return;
      state.tables = answer.data;
      renderTables();
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
    var grid = R.clear($("tables-grid"));
    state.tables.forEach(function (table) {
      if (state.filter === "busy" && table.status === "free") return;
      var session = table.session;
      grid.appendChild(
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              className: "table-card status-" + table.status,
              "data-table-number": table.number,
              "aria-haspopup": "dialog",
              on: {
                click: function () {
                  openTable(table.id);
                }
              }
            },
            el("span", { className: "table-number" }, el("span", { className: "visually-hidden", text: "Mesa " }), String(table.number)),
            el("span", { className: "table-status", text: TABLE_LABELS[table.status] || table.status }),
            session ? el("span", { className: "table-name", text: session.customer_name }) : null,
            session && session.status === "active" ? el("span", { className: "table-total", text: money(session.total) }) : null
          )
        )
      );
    });
    if (!grid.firstChild) grid.appendChild(el("li", { className: "muted", text: "No hay mesas con clientes." }));
  }

  function setFilter(filter) {
    state.filter = filter;
    $("filter-all").setAttribute("aria-pressed", filter === "all" ? "true" : "false");
    $("filter-busy").setAttribute("aria-pressed", filter === "busy" ? "true" : "false");
    renderTables();
  }

  /* ---- orders board ---- */

  function loadOrders() {
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
    var board = R.clear($("orders-board"));
    var open = state.orders.length;
    $("orders-count").hidden = open === 0;
    $("orders-count").textContent = String(open);
    COLUMNS.forEach(function (column, index) {
      var orders = state.orders.filter(function (order) {
        return column.statuses.indexOf(order.status) >= 0;
      });
      var titleId = "column-" + index;
      board.appendChild(
        el(
          "section",
          { className: "board-column", "aria-labelledby": titleId },
          el("h2", { id: titleId }, column.title + " ", el("span", { className: "count", text: String(orders.length) })),
          orders.length
            ? el("ul", { className: "order-stack" }, ...orders.map(orderCard))
            : el("p", { className: "muted small", text: "Nada por ahora." })
        )
      );
    });
  }

  function orderCard(order) {
    var message = el("p", { className: "error", role: "alert", hidden: true });
    var steps = (NEXT_STEPS[order.status] || []).map(function (step, index) {
      return el("button", {
        type: "button",
        className: index === 0 ? "primary" : "secondary",
        text: step[1],
        on: {
          click: function (event) {
            moveOrder(order, step[0], event.currentTarget, message);
          }
        }
      });
    });
    if (CANCELLABLE.indexOf(order.status) >= 0) {
      var cancel = el("button", {
        type: "button",
        className: "ghost danger-text",
        text: "Cancelar",
        on: {
          click: function (event) {
            // Two presses: a cancelled order cannot come back.
            if (cancel.dataset.armed) return moveOrder(order, "cancelled", event.currentTarget, message);
            cancel.dataset.armed = "1";
            cancel.textContent = "Confirmar cancelacion";
          }
        }
      });
      steps.push(cancel);
    }
    return el(
      "li",
      { className: "order-card status-" + order.status, "data-order-id": order.id },
      el(
        "div",
        { className: "order-head" },
        el("h3", { text: "#" + order.order_number + " · Mesa " + order.table_number }),
        el("span", { className: "status-badge status-" + order.status, text: STATUS_LABELS[order.status] || order.status })
      ),
      el("p", { className: "muted small", text: R.clock(order.created_at) + " · " + R.ago(order.created_at) }),
      el(
        "ul",
        { className: "order-lines" },
        ...order.items.map(function (line) {
          return el(
            "li",
            {},
            el("span", {}, el("strong", { text: line.quantity + " × " }), line.name),
            line.notes ? el("span", { className: "line-note", text: line.notes }) : null
          );
        })
      ),
      order.notes ? el("p", { className: "order-note", text: "Nota: " + order.notes }) : null,
      message,
      steps.length ? el("div", { className: "actions" }, ...steps) : null
    );
  }

  function moveOrder(order, status, button, message) {
    button.disabled = true;
    return call("PATCH", "/api/orders/" + encodeURIComponent(order.id) + "/status", { status: status }).then(
      function (answer) {
        button.disabled = false;
        if (answer.ok) {
          R.announce("Pedido #" + order.order_number + ": " + STATUS_LABELS[status]);
        } else if (answer.status !== 401) {
          message.textContent = answer.error.message;
          message.hidden = false;
        }
        refresh(["orders", "tables"]);
      }
    );
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
    var box = R.clear($("menu-admin"));
    var editable = can(MENU_ROLES);
    state.menu.categories.forEach(function (category) {
      var items = state.menu.items.filter(function (item) {
        return item.category_id === category.id;
      });
      if (!items.length) return;
      box.appendChild(
        el(
          "section",
          { className: "menu-admin-category" },
          el("h2", { text: category.name }),
          el(
            "ul",
            { className: "menu-admin-items" },
            ...items.map(function (item) {
              var nameId = "admin-item-" + item.id;
              return el(
                "li",
                { className: item.is_available ? "" : "is-soldout", "data-item-id": item.id },
                el("span", { className: "item-name", id: nameId, text: item.name }),
                el("span", { className: "muted", text: money(item.price) }),
                el("span", {
                  className: "badge " + (item.is_available ? "available" : "soldout"),
                  text: item.is_available ? "Disponible" : "Agotado"
                }),
                editable
                  ? el("button", {
                      type: "button",
                      className: "secondary small-button",
                      "aria-describedby": nameId,
                      text: item.is_available ? "Marcar agotado" : "Marcar disponible",
                      on: {
                        click: function (event) {
                          toggleItem(item, event.currentTarget);
                        }
                      }
                    })
                  : null
              );
            })
          )
        )
      );
    });
    if (!box.firstChild) box.appendChild(el("p", { className: "muted", text: "La carta esta vacia." }));
  }

  function toggleItem(item, button) {
    button.disabled = true;
    call("PATCH", "/api/menu/items/" + encodeURIComponent(item.id), { is_available: !item.is_available }).then(
      function (answer) {
        button.disabled = false;
        if (!answer.ok) {
          $("menu-error").textContent = answer.error.message;
          $("menu-error").hidden = false;
          return;
        }
        item.is_available = answer.data.is_available;
        R.announce(item.name + (item.is_available ? ": disponible" : ": agotado"));
        renderMenu();
      }
    );
  }

  /* ---- a table's detail: its bill, approve/reject, end ---- */

  function openTable(tableId) {
    state.dialog = { tableId: tableId, orders: [], result: null, message: "", canForce: false };
    renderDialog();
    $("table-dialog").showModal();
    loadDialog();
  }

  function dialogTable() {
    for (var i = 0; i < state.tables.length; i++) {
      if (state.tables[i].id === state.dialog.tableId) return state.tables[i];
    }
    return null;
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
    $("table-dialog-title").textContent = "Mesa " + table.number + " · " + (dialog.result ? "Terminada" : TABLE_LABELS[table.status]);
    $("td-who").textContent = session
      ? session.customer_name + (session.customer_phone ? " · " + session.customer_phone : "") + " · desde " + R.clock(session.started_at)
      : "Mesa libre. Codigo para escribir: " + table.short_code;
    var orders = R.clear($("td-orders"));
    if (session && !dialog.result) {
      orders.appendChild(
        dialog.orders.length
          ? el("ul", { className: "order-stack compact" }, ...dialog.orders.map(orderCard))
          : el("p", { className: "muted", text: "Sin pedidos todavia." })
      );
    }
    $("td-totals").hidden = !session || session.status === "pending";
    if (session) {
      $("td-subtotal").textContent = money(session.subtotal);
      $("td-tax").textContent = money(session.tax);
      $("td-total").textContent = money(session.total);
    }
    $("td-message").textContent = dialog.message;
    $("td-message").hidden = !dialog.message;
    var actions = R.clear($("td-actions"));
    if (dialog.result) {
      actions.appendChild(el("p", { className: "success", role: "status", text: "Mesa " + table.number + " terminada. Total de la mesa: " + money(session.total) + "." }));
    } else if (session && session.status === "pending" && can(SESSION_ROLES)) {
      var request = { id: session.id, table_number: table.number };
      ["approve", "reject"].forEach(function (action) {
        actions.appendChild(
          el("button", {
            type: "button",
            className: action === "approve" ? "primary" : "secondary",
            text: action === "approve" ? "Aprobar" : "Rechazar",
            on: {
              click: function (event) {
                decide(request, action, event.currentTarget, $("td-message")).then(function (answer) {
                  if (answer.ok) $("table-dialog").close();
                });
              }
            }
          })
        );
      });
    } else if (session && session.status === "active" && can(SESSION_ROLES)) {
      actions.appendChild(el("button", { type: "button", className: "danger", text: "Terminar", on: { click: function (event) { endSession(false, event.currentTarget); } } }));
      if (dialog.canForce) {
        actions.appendChild(
          el("button", { type: "button", className: "danger-outline", text: "Forzar cierre", "aria-describedby": "td-message", on: { click: function (event) { endSession(true, event.currentTarget); } } })
        );
      }
    }
    actions.appendChild(el("button", { type: "button", className: "ghost", text: "Cerrar", on: { click: function () { $("table-dialog").close(); } } }));
  }

  function endSession(force, button) {
    var dialog = state.dialog;
    var table = dialogTable();
    if (!table || !table.session) return;
    button.disabled = true;
    var path = "/api/tables/sessions/" + encodeURIComponent(table.session.id) + "/end" + (force ? "?force=true" : "");
    call("PATCH", path).then(function (answer) {
      button.disabled = false;
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
      if (status.last_error && status.queue_depth > 0) {
        R.setText(
          banner,
          "Sin conexion — " +
            plural(status.queue_depth, "mesa", "mesas") +
            " por sincronizar. Los datos estan a salvo en este equipo y se enviaran solos."
        );
        banner.hidden = false;
      } else {
        banner.hidden = true;
      }
    });
  }

  /* ---- wiring ---- */

  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", function () {
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

  if (state.auth) enterApp();
  else logout("");
})();
