/* The diner's page: ask for the table, wait for approval, order from the menu, follow orders.

   Lists (menu, cart, orders) are rendered from `state` and patched onto the page by R.patch /
   R.keyed, so a focused button stays focused; buttons carry `data-action` and each list answers
   them in one handler. ON_EVENT is the one place that says what a realtime event does here. */
(function () {
  "use strict";

  var R = window.RestAI;
  var $ = R.$;
  var el = R.el;

  var page = document.body.dataset;
  var BASE = "/api/customer/" + encodeURIComponent(page.branchSlug) + "/" + encodeURIComponent(page.tableCode);
  // One visit per table: a phone that moves to another table starts afresh there.
  var VISIT_KEY = "restai:visit:" + page.tableCode;
  // The table's key, from the QR code stuck on it (`?k=`): joining a table that is already open
  // needs it, so only someone at the table can join.
  var TABLE_KEY = new URLSearchParams(window.location.search).get("k") || "";
  var SCREENS = [
    "screen-loading",
    "screen-join",
    "screen-blocked",
    "screen-waiting",
    "screen-menu",
    "screen-ended",
    "screen-notice"
  ];
  var TICK_MS = 4000;
  var MENU_REFRESH_MS = 60000;
  var TOKEN_REFRESH_MS = 30 * 60000;

  var STATUS_LABELS = {
    pending: "Recibido",
    confirmed: "Confirmado",
    preparing: "En preparación",
    ready: "Listo para servir",
    served: "Servido",
    completed: "Completado",
    cancelled: "Cancelado"
  };
  var STEPS = [
    { label: "Recibido", statuses: ["pending", "confirmed"] },
    { label: "En cocina", statuses: ["preparing"] },
    { label: "Listo", statuses: ["ready"] },
    { label: "Servido", statuses: ["served", "completed"] }
  ];

  // What each realtime event does on this page (events of other sessions never get here).
  var ON_EVENT = {
    "session:approved": function () {
      if (state.phase === "waiting") enterMenu();
    },
    "session:rejected": function (data) {
      refused(data.reason);
    },
    "session:ended": function () {
      (state.ordersRequest || Promise.resolve()).then(ended);
    },
    "order:new": refreshOrders,
    "order:updated": refreshOrders,
    // The central changed the catalog (prices, dishes, pictures, sold out): redraw in place.
    "menu:updated": function () {
      if (state.phase === "menu") loadMenu();
    }
  };

  var state = {
    phase: "loading",
    visit: R.saved.get(VISIT_KEY),
    menu: null,
    menuLoadedAt: 0,
    cart: [],
    // Idempotency-Key of the cart being sent: a retry after a lost answer cannot order twice.
    orderKey: null,
    sending: false,
    orders: null,
    // The orders fetch in flight: "session ended" waits for it, so the bill shows the last dish.
    ordersRequest: null,
    live: null,
    liveRefused: false,
    // Why a diner's cancel was refused, by order id (shown on the order's card).
    cancelErrors: {}
  };

  /* ---- screens ---- */

  function go(phase) {
    var changed = state.phase !== phase;
    state.phase = phase;
    R.show(SCREENS, "screen-" + phase);
    if (changed && phase !== "loading") R.focusHeading($("screen-" + phase));
  }

  function forget() {
    state.visit = null;
    state.cart = [];
    state.orders = null;
    state.orderKey = null;
    state.cancelErrors = {};
    R.saved.remove(VISIT_KEY);
    stopLive();
    service.reset();
  }

  function remember(data, name) {
    state.visit = { token: data.token, sessionId: data.sessionId, name: name, issuedAt: Date.now() };
    state.liveRefused = false;
    R.saved.set(VISIT_KEY, state.visit);
  }

  /* ---- what is the table doing ---- */

  function resume() {
    var visit = state.visit;
    if (!visit) return checkTable();
    return R.api("GET", BASE + "/session-status/" + encodeURIComponent(visit.sessionId)).then(
      function (answer) {
        // The visit ended (or another began) while we asked: the answer is about the past.
        if (state.visit !== visit) return;
        if (answer.ok) return follow(answer.data.status, answer.data.reason);
        if (answer.status === 0) return offline();
        forget();
        return checkTable();
      }
    );
  }

  function follow(status, reason) {
    // A session never goes back to pending. An answer that says so was sent before the approval
    // that an event has since brought (the socket connects and asks just as staff approve), and
    // following it would leave the diner waiting for an event that has come and gone.
    if (status === "pending") return state.phase === "menu" ? null : waiting();
    if (status === "active") return enterMenu();
    if (status === "rejected") return refused(reason);
    return ended();
  }

  function checkTable() {
    return R.api("GET", BASE + "/check-session").then(function (answer) {
      if (!answer.ok) {
        if (answer.status === 0) return offline();
        return notice("No pudimos abrir la mesa", answer.error.message, "Reintentar");
      }
      if (answer.data.hasSession && answer.data.status === "pending") return go("blocked");
      showJoin(answer.data.hasSession ? answer.data.customerName : null);
    });
  }

  function offline() {
    if (state.phase === "loading") {
      $("screen-loading").querySelector("p").textContent =
        "Sin conexión con el servidor del local. Reintentando…";
    }
  }

  /* ---- join ---- */

  function showJoin(openedBy) {
    var existing = $("join-existing");
    if (openedBy) {
      existing.textContent =
        "La mesa ya está abierta a nombre de " + openedBy + ". Al unirte, tus pedidos van a la misma cuenta.";
      existing.hidden = false;
      $("join-intro").hidden = true;
    } else {
      existing.hidden = true;
      $("join-intro").hidden = false;
    }
    go("join");
  }

  function joinError(text) {
    var error = $("join-error");
    error.textContent = text;
    error.hidden = !text;
    $("customerName").setAttribute("aria-invalid", text ? "true" : "false");
  }

  function join(event) {
    event.preventDefault();
    var name = $("customerName").value.trim();
    var phone = $("customerPhone").value.trim();
    if (!name) {
      joinError("Escribe tu nombre para pedir la mesa.");
      $("customerName").focus();
      return;
    }
    joinError("");
    var button = $("join-submit");
    button.disabled = true;
    var body = { customerName: name };
    if (phone) body.customerPhone = phone;
    if (TABLE_KEY) body.tableKey = TABLE_KEY;
    R.api("POST", BASE + "/session", { body: body }).then(function (answer) {
      button.disabled = false;
      if (answer.ok && answer.data.token) {
        remember(answer.data, name);
        return follow(answer.data.session.status);
      }
      if (answer.ok) {
        return notice(
          "La mesa ya está ocupada",
          "Esta mesa ya está abierta y no acepta más personas desde el teléfono. Pide ayuda al personal.",
          "Reintentar"
        );
      }
      if (answer.error.code === "SESSION_PENDING") return go("blocked");
      if (answer.error.code === "TABLE_KEY_REQUIRED") {
        return joinError("Para unirte a una mesa abierta, escanea el código QR de tu mesa o pide ayuda al personal.");
      }
      if (answer.error.code === "VALIDATION_ERROR") {
        var field = answer.error.details && answer.error.details.field;
        return joinError(
          field === "customerPhone"
            ? "Revisa el teléfono: solo números, espacios y + ( ) -."
            : "Revisa tu nombre: no puede estar vacío ni pasar de 255 caracteres."
        );
      }
      joinError(answer.error.message);
    });
  }

  /* ---- waiting for approval ---- */

  function waiting() {
    $("waiting-text").textContent =
      "Hola, " + (state.visit.name || "") + ". Tu solicitud para la mesa " + page.tableNumber + " fue enviada.";
    go("waiting");
    startLive();
  }

  function refused(reason) {
    forget();
    if (reason === "expired") {
      return notice(
        "Tu solicitud expiró",
        "Nadie aprobó la mesa a tiempo. Puedes volver a pedirla o llamar al personal.",
        "Volver a pedir la mesa"
      );
    }
    notice(
      "Solicitud rechazada",
      "El personal no aprobó tu solicitud. Si crees que es un error, llama al mozo.",
      "Volver a pedir la mesa"
    );
  }

  function notice(title, text, action) {
    $("notice-title").textContent = title;
    $("notice-text").textContent = text;
    $("notice-action").textContent = action;
    go("notice");
  }

  function ended() {
    if (state.phase === "ended") return;
    var total = null;
    (state.orders || []).forEach(function (order) {
      if (order.status === "served" || order.status === "completed") total = (total || 0) + order.total;
    });
    $("ended-totals").hidden = total === null;
    if (total !== null) $("ended-total").textContent = R.money(total, currency());
    forget();
    if (document.querySelector("#cart[open]")) $("cart").close();
    $("toast").hidden = true;
    go("ended");
  }

  /* ---- realtime, with polling whenever it is down ---- */

  function startLive() {
    if (state.live || state.liveRefused || !state.visit) return;
    state.live = R.live({
      token: function () {
        return state.visit ? state.visit.token : "";
      },
      onEvent: onEvent,
      onState: function (connected) {
        // Whatever happened before we were listening, the API tells us now.
        if (connected) catchUp();
      },
      onRefused: function () {
        state.liveRefused = true;
        stopLive();
        resume();
      },
      onClosed: function () {
        stopLive();
        resume();
      }
    });
  }

  function stopLive() {
    if (state.live) state.live.close();
    state.live = null;
  }

  function onEvent(name, data) {
    if (!state.visit || (data.sessionId && data.sessionId !== state.visit.sessionId)) return;
    if (ON_EVENT[name]) ON_EVENT[name](data);
    service.onEvent(name, data);
  }

  function catchUp() {
    if (state.phase === "waiting" || state.phase === "loading") resume();
    else if (state.phase === "menu") {
      refreshOrders();
      service.load();
    }
  }

  /* Runs every few seconds: polls what realtime would have said, if realtime is down. */
  function tick() {
    if (state.phase === "blocked") {
      R.api("GET", BASE + "/check-session").then(function (answer) {
        if (answer.ok && !(answer.data.hasSession && answer.data.status === "pending")) {
          showJoin(answer.data.hasSession ? answer.data.customerName : null);
        }
      });
      return;
    }
    if (!(state.live && state.live.connected())) catchUp();
    if (state.phase === "menu") {
      if (Date.now() - state.menuLoadedAt > MENU_REFRESH_MS) loadMenu();
      if (Date.now() - (state.visit.issuedAt || 0) > TOKEN_REFRESH_MS) refreshToken();
    }
  }

  /* Diner tokens expire (4 h by default); a long meal swaps its token for a fresh one. */
  function refreshToken() {
    var visit = state.visit;
    visit.issuedAt = Date.now();
    R.api("POST", "/api/customer/session/refresh", { token: visit.token }).then(function (answer) {
      if (!answer.ok || state.visit !== visit) return;
      visit.token = answer.data.token;
      R.saved.set(VISIT_KEY, visit);
    });
  }

  /* ---- menu and cart ---- */

  function currency() {
    return state.menu ? state.menu.branch.currency : "";
  }

  function enterMenu() {
    $("menu-greeting").textContent =
      "Hola, " + (state.visit.name || "") + ". Todo lo que pidas va a la cuenta de la mesa " + page.tableNumber + ".";
    go("menu");
    startLive();
    loadMenu();
    refreshOrders();
    service.load();
  }

  function loadMenu() {
    state.menuLoadedAt = Date.now();
    return R.api("GET", BASE + "/menu").then(function (answer) {
      var error = $("menu-error");
      if (!answer.ok) {
        error.textContent =
          answer.status === 0 ? "Sin conexión: no pudimos cargar la carta. Reintentando…" : answer.error.message;
        error.hidden = false;
        state.menuLoadedAt = 0;
        return;
      }
      error.hidden = true;
      state.menu = answer.data;
      dropUnavailable();
      renderMenu();
      renderCart();
    });
  }

  function itemById(id) {
    var items = state.menu ? state.menu.items : [];
    for (var i = 0; i < items.length; i++) if (String(items[i].id) === String(id)) return items[i];
    return null;
  }

  function dropUnavailable() {
    var gone = [];
    state.cart = state.cart.filter(function (line) {
      var item = itemById(line.id);
      var kept = item && item.is_available && R.modifiers.stillValid(item, line.modifiers);
      if (!kept) gone.push(item ? item.name : "un producto");
      return kept;
    });
    if (gone.length) {
      state.orderKey = null;
      toast("Se agotó: " + gone.join(", ") + ". Lo quitamos de tu pedido.");
    }
  }

  function renderMenu() {
    if (!state.menu) return;
    var chips = [];
    var sections = [];
    state.menu.categories.forEach(function (category) {
      var items = state.menu.items.filter(function (item) {
        return item.category_id === category.id;
      });
      if (!items.length) return;
      var anchor = "cat-" + category.id;
      chips.push(el("li", { "data-key": category.id }, el("a", { href: "#" + anchor, text: category.name })));
      sections.push(
        el(
          "section",
          { className: "category", id: anchor, "aria-labelledby": anchor + "-title" },
          el("h2", { id: anchor + "-title", text: category.name }),
          el("ul", { className: "items" }, ...items.map(menuItem))
        )
      );
    });
    if (!sections.length) {
      sections.push(el("p", { className: "muted", text: "La carta aún no está disponible. Pregunta al personal." }));
    }
    R.patch($("category-nav"), chips, $("menu-title"));
    R.patch($("menu-list"), sections, $("menu-title"));
  }

  /* How many of a dish the cart holds, whatever was chosen for each. */
  function quantityOf(id) {
    var count = 0;
    state.cart.forEach(function (line) {
      if (line.id === id) count += line.quantity;
    });
    return count;
  }

  function lineByKey(key) {
    for (var i = 0; i < state.cart.length; i++) if (state.cart[i].key === key) return state.cart[i];
    return null;
  }

  function menuItem(item) {
    var nameId = "item-" + item.id;
    var inCart = quantityOf(item.id);
    return el(
      "li",
      { className: "item" + (item.is_available ? "" : " is-soldout"), "data-key": item.id },
      // Pictures are served by the device itself (/_media/...), never from the internet.
      item.image_url ? el("img", { className: "item-photo", src: item.image_url, alt: "", loading: "lazy" }) : null,
      el(
        "div",
        { className: "item-text" },
        el("h3", { className: "item-name", id: nameId, text: item.name }),
        item.description ? el("p", { className: "item-desc", text: item.description }) : null
      ),
      el(
        "div",
        { className: "item-side" },
        el("span", { className: "price", text: R.money(item.price, currency()) }),
        item.is_available
          ? el("button", {
              type: "button",
              className: "add-button",
              "aria-describedby": nameId,
              "aria-haspopup": (item.modifier_groups || []).length ? "dialog" : null,
              "data-action": "add",
              text: "Agregar"
            })
          : el("span", { className: "badge soldout", text: "Agotado" }),
        el("span", { className: "in-cart", hidden: !inCart, text: inCartText(inCart) })
      )
    );
  }

  function inCartText(quantity) {
    return quantity ? quantity + " en tu pedido" : "";
  }

  /* A dish with modifier groups is added through its sheet, where its choices are made. */
  function addToCart(item) {
    if ((item.modifier_groups || []).length) {
      R.modifiers.choose(item, currency(), function (chosen) {
        addLine(item, chosen);
      });
      return;
    }
    addLine(item, []);
  }

  function addLine(item, chosen) {
    // The same dish with the same choices is one line; other choices make another.
    var key = [item.id].concat(chosen.slice().sort()).join("|");
    if (!lineByKey(key)) state.cart.push({ key: key, id: item.id, modifiers: chosen, quantity: 0 });
    changeQuantity(key, 1);
    R.announce("Agregado: " + item.name + ". " + quantityOf(item.id) + " en tu pedido.");
  }

  function changeQuantity(key, delta) {
    var line = lineByKey(key);
    if (!line) return;
    line.quantity = Math.min(99, line.quantity + delta);
    state.cart = state.cart.filter(function (candidate) {
      return candidate.quantity > 0;
    });
    state.orderKey = null;
    renderMenu();
    renderCart();
  }

  function cartTotals() {
    var subtotal = 0;
    var count = 0;
    state.cart.forEach(function (line) {
      var item = itemById(line.id);
      if (item) subtotal += R.modifiers.unitPrice(item, line.modifiers) * line.quantity;
      count += line.quantity;
    });
    var tax = R.taxFor(subtotal, state.menu ? state.menu.branch.tax_rate : 0);
    return { count: count, subtotal: subtotal, tax: tax, total: subtotal + tax };
  }

  function renderCart() {
    var totals = cartTotals();
    $("cart-bar").hidden = totals.count === 0;
    document.body.classList.toggle("has-cart", totals.count > 0);
    fitBars();
    $("cart-count").textContent = String(totals.count);
    $("cart-total").textContent = R.money(totals.total, currency());
    $("cart-subtotal").textContent = R.money(totals.subtotal, currency());
    $("cart-tax").textContent = R.money(totals.tax, currency());
    $("cart-grand").textContent = R.money(totals.total, currency());
    var rate = state.menu ? state.menu.branch.tax_rate : 0;
    $("cart-tax-label").textContent = "Impuestos (" + rate / 100 + "%)";
    var lines = state.cart.filter(function (line) {
      return itemById(line.id);
    });
    R.keyed($("cart-lines"), lines, {
      key: function (line) {
        return line.key;
      },
      render: cartLine,
      fallback: $("cart-send")
    });
    if (!state.cart.length && $("cart").open) {
      $("cart").close();
      R.focusHeading($("screen-menu"));
    }
  }

  function cartLine(line) {
    var item = itemById(line.id);
    var choices = R.modifiers.text(R.modifiers.describe(item, line.modifiers), currency());
    var label = item.name + (choices ? " (" + choices + ")" : "");
    return el(
      "li",
      { className: "cart-line" },
      el(
        "div",
        { className: "cart-line-text" },
        el("span", { className: "cart-line-name", text: item.name }),
        R.modifiers.lineNode(R.modifiers.describe(item, line.modifiers), currency()),
        el("span", {
          className: "muted small amount",
          text: R.money(R.modifiers.unitPrice(item, line.modifiers) * line.quantity, currency())
        })
      ),
      el(
        "div",
        { className: "stepper", role: "group", "aria-label": "Cantidad de " + label },
        el("button", {
          type: "button",
          className: "icon-button",
          "aria-label": "Quitar uno de " + label,
          "data-action": "less",
          text: "−"
        }),
        el("span", { className: "qty", text: String(line.quantity) }),
        el("button", {
          type: "button",
          className: "icon-button",
          "aria-label": "Agregar uno de " + label,
          "data-action": "more",
          text: "+"
        })
      )
    );
  }

  function cartError(text) {
    $("cart-error").textContent = text;
    $("cart-error").hidden = !text;
  }

  function sendOrder() {
    if (state.sending || !state.cart.length) return;
    state.sending = true;
    cartError("");
    $("cart-send").disabled = true;
    state.orderKey = state.orderKey || R.randomKey();
    var body = {
      items: state.cart.map(function (line) {
        return { menuItemId: line.id, quantity: line.quantity, modifiers: line.modifiers };
      })
    };
    var notes = $("order-notes").value.trim();
    if (notes) body.notes = notes;
    R.api("POST", "/api/customer/orders", {
      token: state.visit.token,
      body: body,
      headers: { "Idempotency-Key": state.orderKey }
    }).then(function (answer) {
      state.sending = false;
      $("cart-send").disabled = false;
      if (answer.ok) {
        state.cart = [];
        state.orderKey = null;
        $("order-notes").value = "";
        $("cart").close();
        renderMenu();
        renderCart();
        toast("Pedido #" + answer.data.order_number + " enviado. Te avisamos cuando cambie su estado.");
        refreshOrders();
        return;
      }
      var code = answer.error.code;
      if (code === "SESSION_ENDED" || code === "UNAUTHORIZED") {
        $("cart").close();
        return resume();
      }
      if (code === "ITEM_UNAVAILABLE" || code === "VALIDATION_ERROR") {
        var group = answer.error.details && answer.error.details.group;
        cartError(
          code === "ITEM_UNAVAILABLE"
            ? answer.error.message
            : "La carta cambió. Revisa tu pedido" + (group ? " («" + group.name + "»)." : ".")
        );
        return loadMenu();
      }
      cartError(answer.status === 0 ? "Sin conexión. Tu pedido no se perdió: intenta enviarlo de nuevo." : answer.error.message);
    });
  }

  /* ---- orders ---- */

  function refreshOrders() {
    if (!state.visit) return Promise.resolve();
    var request = R.api("GET", "/api/customer/orders", { token: state.visit.token }).then(function (answer) {
      // A later load was asked for (another event came): its answer is the newer one, and this
      // one, if it came last, would put an order's status back.
      if (state.ordersRequest !== request) return;
      state.ordersRequest = null;
      if (answer.ok) return showOrders(answer.data);
      if (answer.status === 0) return;
      if (answer.error.code === "SESSION_ENDED") return state.phase === "menu" ? resume() : null;
      if (answer.status === 401) {
        forget();
        checkTable();
      }
    });
    state.ordersRequest = request;
    return request;
  }

  function showOrders(orders) {
    var before = {};
    (state.orders || []).forEach(function (order) {
      before[order.id] = order.status;
    });
    var changes = [];
    orders.forEach(function (order) {
      if (state.orders && before[order.id] && before[order.id] !== order.status) {
        changes.push("Pedido #" + order.order_number + ": " + STATUS_LABELS[order.status]);
      }
    });
    state.orders = orders;
    renderOrders(before);
    if (changes.length) toast(changes.join(". "));
  }

  function renderOrders(before) {
    var orders = (state.orders || []).slice().reverse();
    $("orders-empty").hidden = orders.length > 0;
    R.keyed($("orders-list"), orders, {
      key: function (order) {
        return order.id;
      },
      render: function (order) {
        return orderCard(order, before[order.id] && before[order.id] !== order.status);
      }
    });
  }

  function orderCard(order, changed) {
    return el(
      "li",
      { className: "order-card status-" + order.status + (changed ? " just-changed" : "") },
      el(
        "div",
        { className: "order-head" },
        el("h3", { text: "Pedido #" + order.order_number }),
        el("span", { className: "status-badge status-" + order.status, text: STATUS_LABELS[order.status] || order.status })
      ),
      order.status === "cancelled" ? null : stepper(order.status),
      el(
        "ul",
        { className: "order-lines" },
        ...order.items.map(function (line) {
          return el(
            "li",
            {},
            el(
              "span",
              { className: "order-line-text" },
              el("span", { text: line.quantity + " × " + line.name }),
              R.modifiers.lineNode(line.modifiers, currency())
            ),
            el("span", { className: "muted amount", text: R.money(line.subtotal, currency()) })
          );
        })
      ),
      cancelControls(order),
      el(
        "p",
        { className: "order-total" },
        el("span", { className: "muted small", text: R.clock(order.created_at) }),
        el("strong", { className: "amount", text: "Total " + R.money(order.total, currency()) })
      )
    );
  }

  /* A pending order can be taken back; once the kitchen has it, the card says why not. */
  function cancelControls(order) {
    var refused = state.cancelErrors[order.id];
    if (order.status !== "pending" && !refused) return null;
    return el(
      "div",
      { className: "order-cancel" },
      order.status === "pending"
        ? el("button", { type: "button", className: "ghost danger-text", "data-action": "cancel", text: "Cancelar pedido" })
        : null,
      el("p", { className: "error", role: "alert", hidden: !refused, text: refused || "" })
    );
  }

  function cancelOrder(id) {
    var order = null;
    (state.orders || []).forEach(function (candidate) {
      if (candidate.id === id) order = candidate;
    });
    if (!order || order.status !== "pending") return;
    delete state.cancelErrors[id];
    R.api("POST", "/api/customer/orders/" + encodeURIComponent(id) + "/cancel", { token: state.visit.token }).then(
      function (answer) {
        if (answer.ok) {
          toast("Pedido #" + order.order_number + " cancelado.");
        } else if (answer.error.code === "ORDER_NOT_CANCELLABLE") {
          state.cancelErrors[id] = "Ya no se puede cancelar: la cocina ya está preparando tu pedido.";
        } else if (answer.status !== 401) {
          state.cancelErrors[id] = answer.status === 0 ? "Sin conexión. Inténtalo de nuevo." : answer.error.message;
        }
        renderOrders({});
        refreshOrders();
      }
    );
  }

  function stepper(status) {
    var reached = 0;
    STEPS.forEach(function (step, index) {
      if (step.statuses.indexOf(status) >= 0) reached = index;
    });
    return el(
      "ol",
      { className: "steps", "aria-hidden": "true" },
      ...STEPS.map(function (step, index) {
        return el("li", { className: index <= reached ? "done" : "", text: step.label });
      })
    );
  }

  /* Tells the stylesheet how much of the screen's edges is stuck (the top bar and the chips
     while they stick, the cart bar while it shows), so focus and anchor scrolling stop short of
     it: a focused "Agregar" never ends up under a bar, whatever the text size. */
  var barSizes = {};

  function fitBars() {
    var stuck = function (node) {
      return !!node && node.getClientRects().length > 0 && getComputedStyle(node).position === "sticky";
    };
    var topbar = document.querySelector(".diner .topbar");
    var nav = document.querySelector(".category-nav");
    var bar = $("cart-bar");
    var top = stuck(topbar) ? topbar.offsetHeight : 0;
    setBar("--topbar-stuck", top);
    setBar("--stuck-top", top + (stuck(nav) ? nav.offsetHeight : 0));
    setBar("--stuck-bottom", bar.hidden ? 0 : bar.offsetHeight);
  }

  /* A property of the root restyles the whole page: set it only when it changes. */
  function setBar(name, pixels) {
    if (barSizes[name] === pixels) return;
    barSizes[name] = pixels;
    document.documentElement.style.setProperty(name, pixels + "px");
  }

  var toastTimer = null;
  /* Shown for the eyes, spoken through the announcer (the toast itself is aria-hidden). */
  function toast(text) {
    R.announce(text);
    var box = $("toast");
    box.textContent = text;
    box.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () {
      box.hidden = true;
    }, 5000);
  }

  /* ---- wiring ---- */

  $("join-form").addEventListener("submit", join);
  $("notice-action").addEventListener("click", function () {
    forget();
    go("loading");
    checkTable();
  });
  $("ended-again").addEventListener("click", function () {
    go("loading");
    checkTable();
  });
  $("cart-open").addEventListener("click", function () {
    cartError("");
    renderCart();
    $("cart").showModal();
  });
  $("cart-close").addEventListener("click", function () {
    $("cart").close();
  });
  $("cart").addEventListener("click", function (event) {
    if (event.target === $("cart")) $("cart").close();
  });
  $("cart-send").addEventListener("click", sendOrder);
  R.onAction($("menu-list"), function (action, id) {
    var item = itemById(id);
    if (action === "add" && item && item.is_available) addToCart(item);
  });
  R.onAction($("cart-lines"), function (action, key) {
    var line = lineByKey(key);
    var item = line && itemById(line.id);
    if (!item) return;
    changeQuantity(key, action === "less" ? -1 : 1);
    R.announce(item.name + ": " + (lineByKey(key) ? lineByKey(key).quantity : 0));
  });
  R.onAction($("orders-list"), function (action, id) {
    if (action === "cancel") cancelOrder(id);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") tick();
  });
  var service = R.tableService({
    token: function () {
      return state.visit ? state.visit.token : "";
    },
    sessionId: function () {
      return state.visit ? state.visit.sessionId : "";
    },
    currency: currency,
    toast: toast,
    gone: resume
  });
  window.setInterval(tick, TICK_MS);
  window.addEventListener("resize", fitBars);
  // Browsers leave a half-visible chip as it is when it gets focus: show all of it.
  $("category-nav").addEventListener("focusin", function (event) {
    event.target.scrollIntoView({ block: "nearest", inline: "nearest" });
  });
  if (window.ResizeObserver) {
    var bars = new ResizeObserver(fitBars);
    [document.querySelector(".diner .topbar"), document.querySelector(".category-nav"), $("cart-bar")].forEach(
      function (node) {
        bars.observe(node);
      }
    );
  }
  resume();
})();
