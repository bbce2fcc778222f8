-- The branch's menu and the orders diners place from their table.
-- Orders copy each item's name and price when placed, so a later menu change never rewrites a
-- bill; and a menu item that an order names is never deleted, only retired from the menu.

CREATE TABLE menu_categories (
    id         TEXT PRIMARY KEY,
    branch_id  TEXT NOT NULL REFERENCES branch(id),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    sort_order INTEGER NOT NULL CHECK (sort_order >= 0),
    UNIQUE (branch_id, name)
);

CREATE TABLE menu_items (
    id           TEXT PRIMARY KEY,
    branch_id    TEXT NOT NULL REFERENCES branch(id),
    -- NULL once the item is retired (left out of a re-imported menu but named by past orders).
    category_id  TEXT REFERENCES menu_categories(id),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description  TEXT CHECK (description IS NULL OR length(description) <= 500),
    price        INTEGER NOT NULL CHECK (typeof(price) = 'integer' AND price BETWEEN 0 AND 10000000),
    is_available INTEGER NOT NULL DEFAULT 1 CHECK (is_available IN (0, 1)),
    sort_order   INTEGER NOT NULL DEFAULT 0 CHECK (sort_order >= 0),
    retired      INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    updated_at   TEXT NOT NULL,
    CHECK ((retired = 1) = (category_id IS NULL))
);
CREATE UNIQUE INDEX menu_items_live_name ON menu_items (category_id, name) WHERE retired = 0;

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    branch_id       TEXT NOT NULL REFERENCES branch(id),
    session_id      TEXT NOT NULL REFERENCES sessions(id),
    table_id        TEXT NOT NULL REFERENCES tables(id),
    diner_id        TEXT REFERENCES diners(id),
    -- What the kitchen ticket and the waiter say: 1, 2, 3... for the life of the branch.
    order_number    INTEGER NOT NULL CHECK (order_number >= 1),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'preparing', 'ready',
                                                    'served', 'completed', 'cancelled')),
    notes           TEXT CHECK (notes IS NULL OR length(notes) <= 500),
    subtotal        INTEGER NOT NULL CHECK (typeof(subtotal) = 'integer' AND subtotal >= 0),
    tax             INTEGER NOT NULL CHECK (typeof(tax) = 'integer' AND tax >= 0),
    total           INTEGER NOT NULL CHECK (total = subtotal + tax),
    -- A phone that retries a POST sends the same key; the store keeps one order per key.
    idempotency_key TEXT CHECK (idempotency_key IS NULL
                                OR length(idempotency_key) BETWEEN 1 AND 255),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (branch_id, order_number)
);
CREATE UNIQUE INDEX orders_idempotency
    ON orders (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_session ON orders (session_id, order_number);
CREATE INDEX orders_status ON orders (status, order_number);

CREATE TABLE order_items (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders(id),
    menu_item_id TEXT NOT NULL REFERENCES menu_items(id),
    position     INTEGER NOT NULL CHECK (position >= 0),
    name         TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (typeof(quantity) = 'integer' AND quantity BETWEEN 1 AND 99),
    unit_price   INTEGER NOT NULL CHECK (typeof(unit_price) = 'integer' AND unit_price >= 0),
    subtotal     INTEGER NOT NULL CHECK (subtotal = quantity * unit_price),
    notes        TEXT CHECK (notes IS NULL OR length(notes) <= 500),
    UNIQUE (order_id, position)
);
CREATE INDEX order_items_menu_item ON order_items (menu_item_id);
