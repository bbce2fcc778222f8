/* Table calls on the staff tablet: a diner calls the waiter or asks for the bill; the tablet shows
   it and sounds until a waiter marks it done, then reminds with a shorter sound while anything
   waits (a tablet in a noisy room is easy to miss once).

   The device keeps one open request per table and action, so a diner tapping again while one is
   open makes no new request and no new alert here. */
(function () {
  "use strict";

  var R = window.RestAI;
  var $ = R.$;
  var el = R.el;

  // Those who walk to the table (the API's rule); the kitchen sees the calls but does not close them.
  var HANDLER_ROLES = ["manager", "waiter", "cashier"];
  var REMIND_MS = 20000;
  var ALERT_TONES = [988, 1319, 988, 1319];
  var REMINDER_TONES = [988, 1319];
  var LABELS = { call_waiter: "Llama al mozo", request_bill: "Pide la cuenta" };
  var ALERTS = { call_waiter: "llama al mozo", request_bill: "pide la cuenta" };

  /* options: call(method, path, body) -> answer, can(roles), beep(tones). */
  function serviceDesk(options) {
    var state = { requests: [], known: null, arrived: {}, busy: {}, errors: {}, timer: null };

    function load() {
      return options.call("GET", "/api/tables/requests").then(function (answer) {
        if (!answer.ok) return;
        var fresh = answer.data.filter(function (request) {
          return state.known && !state.known[request.id];
        });
        state.known = {};
        answer.data.forEach(function (request) {
          state.known[request.id] = true;
        });
        fresh.forEach(function (request) {
          state.arrived[request.id] = true;
        });
        state.requests = answer.data;
        render();
        if (fresh.length) {
          flash();
          options.beep(ALERT_TONES);
          var newest = fresh[fresh.length - 1];
          R.announce("Mesa " + newest.table_number + " " + ALERTS[newest.action]);
        }
      });
    }

    function render() {
      var count = state.requests.length;
      $("service-empty").hidden = count > 0;
      $("service-count").hidden = count === 0;
      R.setText($("service-count"), String(count));
      var alert = $("service-alert");
      if (count) {
        var newest = state.requests[count - 1];
        var latest = "Mesa " + newest.table_number + " " + ALERTS[newest.action];
        R.setText(alert, count === 1 ? latest + "." : count + " llamadas de mesas. Última: " + latest + ".");
        alert.hidden = false;
      } else {
        alert.hidden = true;
      }
      R.keyed($("service-list"), state.requests, {
        key: function (request) {
          return request.id;
        },
        render: card,
        fallback: $("service-empty")
      });
    }

    function flash() {
      var alert = $("service-alert");
      alert.classList.remove("flash");
      void alert.offsetWidth;
      alert.classList.add("flash");
    }

    function card(request) {
      var key = request.id;
      return el(
        "li",
        {
          className: "request-card service-card action-" + request.action + (state.arrived[key] ? " is-new" : "")
        },
        el(
          "div",
          { className: "request-head" },
          el("strong", { className: "request-table", text: "Mesa " + request.table_number }),
          el("span", { className: "muted small", "data-since": request.created_at, text: R.ago(request.created_at) })
        ),
        el("p", { className: "request-name", text: LABELS[request.action] }),
        el("p", { className: "muted small", text: request.customer_name }),
        el("p", { className: "error", role: "alert", hidden: !state.errors[key], text: state.errors[key] || "" }),
        options.can(HANDLER_ROLES)
          ? el(
              "div",
              { className: "actions" },
              el("button", {
                type: "button",
                className: "primary",
                "data-action": "done",
                "aria-disabled": state.busy[key] ? "true" : null,
                text: "Atendido"
              })
            )
          : el("p", { className: "muted small", text: "Un mozo debe atenderla." })
      );
    }

    function done(id) {
      var request = null;
      state.requests.forEach(function (candidate) {
        if (candidate.id === id) request = candidate;
      });
      if (!request || state.busy[id]) return;
      state.busy[id] = true;
      delete state.errors[id];
      render();
      options.call("PATCH", "/api/tables/requests/" + encodeURIComponent(id) + "/done").then(function (answer) {
        delete state.busy[id];
        if (answer.ok) {
          R.announce("Mesa " + request.table_number + ": atendida");
        } else if (answer.status !== 401) {
          state.errors[id] = answer.error.message;
        }
        render();
        load();
      });
    }

    function start() {
      stop();
      state.timer = window.setInterval(function () {
        if (state.requests.length) options.beep(REMINDER_TONES);
      }, REMIND_MS);
    }

    function stop() {
      window.clearInterval(state.timer);
      state.timer = null;
      state.known = null;
      state.requests = [];
    }

    R.onAction($("service-list"), function (action, id) {
      if (action === "done") done(id);
    });

    return { load: load, start: start, stop: stop };
  }

  R.serviceDesk = serviceDesk;
})();
