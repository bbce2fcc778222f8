/* Modifiers: the dish sheet where a diner makes a dish's choices (its "término", extras), and how
   an order line shows what it chose, on the diner's phone and on the kitchen board.

   The sheet follows the API's rules, so a dish that leaves it is one the device accepts: every
   group's count within min..max (a min of 1 or more is a required group), sold-out choices
   shown but not selectable. The price shown is the item's plus its choices', as the device
   will charge it. */
(function () {
  "use strict";

  var R = window.RestAI;
  var $ = R.$;
  var el = R.el;

  function groupsOf(item) {
    return (item && item.modifier_groups) || [];
  }

  function findModifier(item, id) {
    var found = null;
    groupsOf(item).forEach(function (group) {
      group.modifiers.forEach(function (modifier) {
        if (modifier.id === id) found = { group: group, modifier: modifier };
      });
    });
    return found;
  }

  /* What a group asks for, in words: "Obligatorio · elige 1", "Opcional · hasta 3". */
  function rule(group) {
    var min = group.min_selections;
    var max = group.max_selections;
    if (min === 0) return "Opcional · " + (max === 1 ? "elige 1 si quieres" : "hasta " + max);
    if (min === max) return "Obligatorio · elige " + min;
    return "Obligatorio · elige de " + min + " a " + max;
  }

  /* The groups a choice does not satisfy yet (or any more: a choice sold out since), in the
     order the dish asks them. */
  function missing(item, chosen) {
    return groupsOf(item).filter(function (group) {
      var count = 0;
      group.modifiers.forEach(function (modifier) {
        if (chosen.indexOf(modifier.id) >= 0 && modifier.is_available) count += 1;
      });
      return count < group.min_selections || count > group.max_selections;
    });
  }

  /* Whether a cart line's choice still stands against the menu as it is now. */
  function stillValid(item, chosen) {
    if (missing(item, chosen).length) return false;
    return chosen.every(function (id) {
      var found = findModifier(item, id);
      return found && found.modifier.is_available;
    });
  }

  function unitPrice(item, chosen) {
    var price = item.price;
    chosen.forEach(function (id) {
      var found = findModifier(item, id);
      if (found) price += found.modifier.price;
    });
    return price;
  }

  /* The chosen modifiers of `item` as an order line shows them: [{id, name, price}], in the
     order of the dish's groups. */
  function describe(item, chosen) {
    var shown = [];
    groupsOf(item).forEach(function (group) {
      group.modifiers.forEach(function (modifier) {
        if (chosen.indexOf(modifier.id) >= 0) shown.push(modifier);
      });
    });
    return shown;
  }

  /* A line's choices as one short text: "A punto · Huevo frito (+S/ 3.50)". */
  function text(modifiers, currency) {
    return (modifiers || [])
      .map(function (modifier) {
        return modifier.name + (modifier.price ? " (+" + R.money(modifier.price, currency) + ")" : "");
      })
      .join(" · ");
  }

  /* The element under an order line's name listing its choices; null when it chose none. */
  function lineNode(modifiers, currency) {
    if (!modifiers || !modifiers.length) return null;
    return el("span", { className: "line-modifiers", text: text(modifiers, currency) });
  }

  /* ---- the dish sheet ---- */

  var sheet = null;

  function build() {
    var dialog = el(
      "dialog",
      { id: "dish", className: "sheet", "aria-labelledby": "dish-title" },
      el(
        "div",
        { className: "sheet-head" },
        el("h2", { id: "dish-title" }),
        el("button", { type: "button", className: "icon-button", "data-action": "close", "aria-label": "Cerrar", text: "×" })
      ),
      el("p", { id: "dish-desc", className: "muted" }),
      el("div", { id: "dish-groups", className: "dish-groups" }),
      el("p", { id: "dish-missing", className: "error", role: "status", "aria-live": "polite" }),
      el("button", { type: "button", id: "dish-add", className: "primary block", "data-action": "add" })
    );
    document.body.appendChild(dialog);
    dialog.addEventListener("change", function (event) {
      var box = event.target;
      // A one-choice group of checkboxes: checking one clears the others (it stays optional).
      if (box.checked && box.classList.contains("single")) {
        Array.prototype.forEach.call(document.getElementsByName(box.name), function (other) {
          if (other !== box) other.checked = false;
        });
      }
      enforceMax();
      render();
    });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) return dialog.close();
      var control = event.target.closest("[data-action]");
      if (!control) return;
      if (control.getAttribute("data-action") === "close") dialog.close();
      else if (control.getAttribute("data-action") === "add") confirm();
    });
    return dialog;
  }

  function chosenIds() {
    var boxes = $("dish-groups").querySelectorAll("input:checked");
    return Array.prototype.map.call(boxes, function (box) {
      return box.value;
    });
  }

  /* A group of several choices stops offering more once it is full. */
  function enforceMax() {
    var fieldsets = $("dish-groups").querySelectorAll("fieldset");
    Array.prototype.forEach.call(fieldsets, function (fieldset) {
      var group = sheet.groups[fieldset.getAttribute("data-key")];
      var boxes = fieldset.querySelectorAll("input");
      var checked = fieldset.querySelectorAll("input:checked").length;
      Array.prototype.forEach.call(boxes, function (box) {
        var soldOut = box.getAttribute("data-soldout") === "true";
        box.disabled = soldOut || (group.max_selections > 1 && !box.checked && checked >= group.max_selections);
      });
    });
  }

  function option(group, modifier, currency) {
    var id = "dish-" + group.id + "-" + modifier.id;
    // Exactly one: radio buttons; otherwise checkboxes, which can always be cleared.
    var radio = group.min_selections === 1 && group.max_selections === 1;
    return el(
      "label",
      { className: "modifier-option" + (modifier.is_available ? "" : " is-soldout"), for: id, "data-key": modifier.id },
      el("input", {
        id: id,
        type: radio ? "radio" : "checkbox",
        name: "group-" + group.id,
        value: modifier.id,
        className: !radio && group.max_selections === 1 ? "single" : null,
        disabled: !modifier.is_available,
        "data-soldout": modifier.is_available ? "false" : "true"
      }),
      el("span", { className: "modifier-name", text: modifier.name }),
      modifier.is_available
        ? el("span", { className: "modifier-price muted", text: modifier.price ? "+ " + R.money(modifier.price, currency) : "" })
        : el("span", { className: "badge soldout", text: "Agotado" })
    );
  }

  function fieldset(group, currency) {
    var legendId = "dish-group-" + group.id;
    return el(
      "fieldset",
      { className: "modifier-group", "data-key": group.id, "aria-describedby": legendId + "-rule" },
      el(
        "legend",
        { id: legendId },
        el("span", { className: "group-name", text: group.name }),
        el("span", { id: legendId + "-rule", className: "group-rule" + (group.min_selections ? " required" : ""), text: rule(group) })
      ),
      ...group.modifiers.map(function (modifier) {
        return option(group, modifier, currency);
      })
    );
  }

  function render() {
    var chosen = chosenIds();
    var gaps = missing(sheet.item, chosen);
    var add = $("dish-add");
    add.textContent = "Agregar al pedido · " + R.money(unitPrice(sheet.item, chosen), sheet.currency);
    add.setAttribute("aria-disabled", gaps.length ? "true" : "false");
    var note = $("dish-missing");
    var names = gaps.map(function (group) {
      return group.name;
    });
    var words = gaps.length ? "Falta elegir: " + names.join(", ") : "";
    R.setText(note, words);
    note.hidden = !words;
    var fieldsets = $("dish-groups").querySelectorAll("fieldset");
    Array.prototype.forEach.call(fieldsets, function (node) {
      var incomplete = gaps.some(function (group) {
        return group.id === node.getAttribute("data-key");
      });
      node.classList.toggle("is-missing", incomplete && sheet.tried);
    });
  }

  function confirm() {
    var chosen = chosenIds();
    var gaps = missing(sheet.item, chosen);
    if (gaps.length) {
      sheet.tried = true;
      render();
      var first = $("dish-groups").querySelector('fieldset[data-key="' + gaps[0].id + '"] input:not(:disabled)');
      if (first) first.focus();
      return;
    }
    var done = sheet.onAdd;
    sheet.dialog.close();
    done(chosen);
  }

  /* Opens the sheet for `item`; `onAdd(chosenIds)` runs once the diner adds a valid choice. */
  function choose(item, currency, onAdd) {
    if (!sheet) sheet = { dialog: build() };
    sheet.item = item;
    sheet.currency = currency;
    sheet.onAdd = onAdd;
    sheet.tried = false;
    sheet.groups = {};
    groupsOf(item).forEach(function (group) {
      sheet.groups[group.id] = group;
    });
    R.setText($("dish-title"), item.name);
    R.setText($("dish-desc"), item.description || "");
    $("dish-desc").hidden = !item.description;
    R.clear($("dish-groups"));
    groupsOf(item).forEach(function (group) {
      $("dish-groups").appendChild(fieldset(group, currency));
    });
    enforceMax();
    render();
    sheet.dialog.showModal();
    R.focusHeading(sheet.dialog);
  }

  R.modifiers = {
    choose: choose,
    missing: missing,
    stillValid: stillValid,
    unitPrice: unitPrice,
    describe: describe,
    text: text,
    lineNode: lineNode
  };
})();
