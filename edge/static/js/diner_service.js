/* Table service on the diner's page: `Llamar al mozo` and `Pedir la cuenta`, each showing its
   request's state ("en camino", then handled), and the table's bill.

   A tap while the same request is open is answered by the device with the open one, so staff
   are alerted once however often a diner taps; the page just says it is already on its way. */
(function () {
  "use strict";

  var R = window.RestAI;
  var $ = R.$;
  var el = R.el;

  var ACTIONS = ["call_waiter", "request_bill"];
  var TEXTS = {
    call_waiter: {
      sent: "Avisamos al mozo: está en camino.",
      again: "Ya avisamos al mozo: está en camino.",
      open: "El mozo está en camino.",
      done: "El mozo ya atendió tu llamado."
    },
    request_bill: {
      sent: "Pediste la cuenta: el mozo está en camino.",
      again: "Ya pediste la cuenta: el mozo está en camino.",
      open: "Tu cuenta está en camino.",
      done: "El mozo ya atendió tu pedido de cuenta."
    }
  };

  /* options: token() and sessionId() of the visit, currency(), toast(text), gone() when the
     visit is over (the page then finds out why). */
  function tableService(options) {
    var state = { call_waiter: null, request_bill: null, busy: {}, bill: null };
    var dialog = null;
    // Loads asked for and changes heard since the page started: a load's answer applies only if
    // nothing came after it was asked, or it could say "on its way" after the waiter came.
    var changes = 0;

    function box(action) {
      return $("table-service").querySelector('[data-key="' + action + '"]');
    }

    function render() {
      ACTIONS.forEach(function (action) {
        var node = box(action);
        var now = state[action];
        var line = node.querySelector(".service-state");
        R.setText(line, now ? TEXTS[action][now] : "");
        line.hidden = !now;
        node.classList.toggle("is-open", now === "open");
        node.classList.toggle("is-done", now === "done");
        var button = node.querySelector("button");
        if (state.busy[action]) button.setAttribute("aria-disabled", "true");
        else button.removeAttribute("aria-disabled");
      });
      if (dialog && dialog.open && state.bill) renderBill();
    }

    function ask(action) {
      if (state.busy[action]) return;
      state.busy[action] = true;
      render();
      R.api("POST", "/api/customer/table-action", {
        token: options.token(),
        body: { action: action, tableSessionId: options.sessionId() }
      }).then(function (answer) {
        state.busy[action] = false;
        if (answer.ok) {
          changes += 1;
          state[action] = "open";
          options.toast(TEXTS[action][answer.data.alreadyPending ? "again" : "sent"]);
          render();
          if (answer.data.bill) showBill(answer.data.bill);
          return;
        }
        render();
        if (answer.error.code === "SESSION_ENDED" || answer.status === 401) return options.gone();
        options.toast(
          answer.status === 0 ? "Sin conexión: no pudimos avisar al mozo. Inténtalo de nuevo." : answer.error.message
        );
      });
    }

    /* What is still open, from the device: after a reload or while realtime was down. */
    function load() {
      var asked = ++changes;
      return R.api("GET", "/api/customer/table-requests", { token: options.token() }).then(function (answer) {
        if (!answer.ok || asked !== changes) return;
        var open = {};
        answer.data.forEach(function (request) {
          open[request.action] = true;
        });
        ACTIONS.forEach(function (action) {
          if (open[action]) state[action] = "open";
          else if (state[action] === "open") state[action] = "done";
        });
        render();
      });
    }

    function onEvent(name, data) {
      if (name === "table:request_done") {
        changes += 1;
        if (data.requestStatus === "done" && state[data.action]) {
          state[data.action] = "done";
          render();
          options.toast(TEXTS[data.action].done);
        }
      }
      if ((name === "order:new" || name === "order:updated") && dialog && dialog.open) loadBill();
    }

    function reset() {
      changes += 1;
      state.call_waiter = state.request_bill = null;
      state.busy = {};
      if (dialog && dialog.open) dialog.close();
      render();
    }

    /* ---- the bill ---- */

    function build() {
      var node = el(
        "dialog",
        { id: "bill", className: "sheet", "aria-labelledby": "bill-title" },
        el(
          "div",
          { className: "sheet-head" },
          el("h2", { id: "bill-title", text: "La cuenta de la mesa" }),
          el("button", { type: "button", className: "icon-button", "data-action": "close", "aria-label": "Cerrar", text: "×" })
        ),
        el("p", { id: "bill-state", className: "info", role: "status" }),
        el("ul", { id: "bill-orders", className: "bill-orders" }),
        el(
          "dl",
          { className: "totals" },
          el("div", {}, el("dt", { text: "Subtotal" }), el("dd", { id: "bill-subtotal" })),
          el("div", {}, el("dt", { id: "bill-tax-label", text: "Impuestos" }), el("dd", { id: "bill-tax" })),
          el("div", { className: "grand" }, el("dt", { text: "Total" }), el("dd", { id: "bill-total" }))
        ),
        el("button", { type: "button", className: "secondary block", "data-action": "close", text: "Cerrar" })
      );
      document.body.appendChild(node);
      node.addEventListener("click", function (event) {
        var control = event.target.closest("[data-action]");
        if (event.target === node || (control && control.getAttribute("data-action") === "close")) node.close();
      });
      return node;
    }

    function billLine(order, line, currency) {
      return el(
        "li",
        { className: "bill-line", "data-key": line.id },
        el(
          "span",
          { className: "bill-line-text" },
          el("span", { text: line.quantity + " × " + line.name }),
          R.modifiers.lineNode(line.modifiers, currency)
        ),
        el("span", { className: "amount", text: R.money(line.subtotal, currency) })
      );
    }

    function renderBill() {
      var bill = state.bill;
      var currency = bill.currency || options.currency();
      var lines = [];
      bill.orders.forEach(function (order) {
        order.items.forEach(function (line) {
          lines.push(billLine(order, line, currency));
        });
      });
      if (!lines.length) lines.push(el("li", { className: "muted", text: "La mesa aún no tiene pedidos." }));
      R.patch($("bill-orders"), lines, $("bill-title"));
      R.setText($("bill-subtotal"), R.money(bill.subtotal, currency));
      R.setText($("bill-tax-label"), "Impuestos (" + bill.tax_rate / 100 + "%)");
      R.setText($("bill-tax"), R.money(bill.tax, currency));
      R.setText($("bill-total"), R.money(bill.total, currency));
      var asked = state.request_bill ? TEXTS.request_bill[state.request_bill] : "";
      R.setText($("bill-state"), asked);
      $("bill-state").hidden = !asked;
    }

    function showBill(bill) {
      if (!dialog) dialog = build();
      state.bill = bill;
      renderBill();
      if (!dialog.open) {
        dialog.showModal();
        R.focusHeading(dialog);
      }
    }

    function loadBill() {
      R.api("GET", "/api/customer/bill", { token: options.token() }).then(function (answer) {
        if (answer.ok && dialog && dialog.open) showBill(answer.data);
      });
    }

    R.onAction($("table-service"), function (action) {
      if (ACTIONS.indexOf(action) >= 0) ask(action);
    });

    return { load: load, onEvent: onEvent, reset: reset };
  }

  R.tableService = tableService;
})();
