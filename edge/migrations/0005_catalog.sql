-- The branch's catalog as the central RestAI API describes it: categories that can be switched
-- off, items with pictures and dietary facts, and modifier groups (the "término" of a steak, a
-- pisco sour with or without sugar) that order lines choose from.

ALTER TABLE menu_categories ADD COLUMN is_active INTEGER NOT NULL DEFAULT 1
    CHECK (is_active IN (0, 1));

-- The central's URL, as sent; the picture itself is fetched at pull time and served by the
-- device from `<data_dir>/images/<image_file>`, so a diner's phone never reaches the internet.
ALTER TABLE menu_items ADD COLUMN image_url TEXT;
ALTER TABLE menu_items ADD COLUMN image_file TEXT;
ALTER TABLE menu_items ADD COLUMN allergens TEXT NOT NULL DEFAULT '[]';
ALTER TABLE menu_items ADD COLUMN dietary_tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE menu_items ADD COLUMN spice_level INTEGER;
ALTER TABLE menu_items ADD COLUMN preparation_time_min INTEGER;
-- What the central last said about availability. Staff toggles change `is_available` only; a
-- catalog overrides it only where the central's own value changed since the last one, so the
-- newer of the two changes wins. NULL for items that came from a file.
ALTER TABLE menu_items ADD COLUMN central_available INTEGER;

CREATE TABLE modifier_groups (
    id             TEXT PRIMARY KEY,
    branch_id      TEXT NOT NULL REFERENCES branch(id),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    min_selections INTEGER NOT NULL CHECK (min_selections >= 0),
    max_selections INTEGER NOT NULL CHECK (max_selections >= 1 AND max_selections >= min_selections),
    sort_order     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE modifiers (
    id           TEXT PRIMARY KEY,
    group_id     TEXT NOT NULL REFERENCES modifier_groups(id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    price        INTEGER NOT NULL CHECK (typeof(price) = 'integer' AND price BETWEEN 0 AND 10000000),
    is_available INTEGER NOT NULL DEFAULT 1 CHECK (is_available IN (0, 1)),
    sort_order   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX modifiers_group ON modifiers (group_id, sort_order);

-- The groups a diner is asked, in order, for one item.
CREATE TABLE menu_item_modifier_groups (
    item_id  TEXT NOT NULL REFERENCES menu_items(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES modifier_groups(id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    PRIMARY KEY (item_id, group_id)
);
CREATE INDEX menu_item_modifier_groups_group ON menu_item_modifier_groups (group_id);

-- What an order line chose, copied when the order is placed: a later catalog may rename,
-- reprice or remove the modifier without rewriting a bill (hence no reference to `modifiers`).
CREATE TABLE order_item_modifiers (
    order_item_id TEXT NOT NULL REFERENCES order_items(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL CHECK (position >= 0),
    modifier_id   TEXT NOT NULL,
    group_id      TEXT NOT NULL,
    group_name    TEXT NOT NULL,
    name          TEXT NOT NULL,
    price         INTEGER NOT NULL CHECK (typeof(price) = 'integer' AND price >= 0),
    PRIMARY KEY (order_item_id, position)
);

-- Where the menu came from and which version is applied (`source`, `version`, `etag`,
-- `applied_at`), plus the puller's own bookkeeping; shared with CLI processes through the store.
CREATE TABLE catalog_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
