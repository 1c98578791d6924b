-- BI views over the tables the shelfflow pipelines write (pipelines/*.yaml, `connector: postgres`).
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/postgres/views.sql
--
-- Run it after a first run has created the tables (`shelfflow demo` or `shelfflow run`); running it
-- again is harmless. CREATE OR REPLACE VIEW cannot drop or rename a view's columns: after such an
-- edit, DROP the view first. PostgreSQL will not change the type of a column a view reads, so a
-- pipeline change that needs one (the sink reports the ALTER it wants) needs the views dropped,
-- the run, then this file again. See deploy/postgres/README.md for the tables and the dashboards.
--
-- Schemas: ref (reference data), config (policies), state (current rows, upsert), ops (histories:
-- every change, append mode, with change_op and change_time), analytics (aggregates).
--
-- Naming defects of the old system's schema (shared/domain.md section 6) that these tables fix:
--   * `item_id` (POS) vs `shelf_id`: shelf_id everywhere (a shelf holds one product).
--   * `category`/`subcategory` in state tables vs `item_category`/`item_subcategory` in ref:
--     item_category / item_subcategory everywhere.
--   * ops.alerts `target_pct` stored the threshold (and `max_stock` was always NULL): the threshold
--     is `threshold_pct`, the refill target `target_pct`, capacity `maximum_stock` (always filled).
--   * `shelf_weight` meant the unit weight in state but the full-shelf weight in ref: no table
--     carries an ambiguous weight column.
--   * Singular and plural table names mixed (ops.shelf_restock_plan, ops.wh_supplier_plan vs
--     ops.alerts): plural everywhere (state.restock_plans, state.supplier_plans, ops.store_alerts).
--   * `wh_` abbreviations and `state.*_state` stutter (state.wh_state, state.shelf_batch_state):
--     state.shelf_status, state.shelf_batches, state.warehouse_status, state.warehouse_batches.
--     The views also rename the columns `wh_current_stock` -> warehouse_stock and `last_update_ts`
--     -> last_movement_at (`_at` like every other timestamp).
--   * ref.*_snapshot tables keyed by a load time: ref.shelves, ref.warehouse_products and
--     ref.opening_*_batches hold the run's reference data and opening stock, keyed by their ids.
--   * The wrong key comment of ops.wh_supplier_plan and its text `supplier_plan_id`: supplier plans
--     are keyed by shelf_id (one per product), supplier orders by order_id.
--   * The `__GLOBAL__` scope key of config.*_policies: one row per shelf_id, no sentinel rows.
--   * analytics.daily_discounts (operational, not analytics) with numeric(5,2) truncating 4-decimal
--     rates: ops.daily_discounts, `discount` a double precision fraction.
--   * ops.wh_events' column `timestamp` (a type name): ops.supplier_receipts.received_at.
--   * Database `smart_shelf`, user `bdt_user`, an unused `retaildb`: database and user `shelfflow`.
--
-- Times are simulated (event) times in UTC; a "day" below is the UTC date, the business day of
-- config/policies.yaml (schedule.day_start 00:00 UTC).
--
-- A chain of stores: every per-store table has `store_id` (ref.stores lists the stores; one store,
-- store_id 1, by default), and every view whose rows are per store leads with store_id. The same
-- shelf_id is the same product in every store, so per-shelf joins are on (store_id, shelf_id).

CREATE SCHEMA IF NOT EXISTS analytics;

-- The per-store views gained a leading store_id column, which CREATE OR REPLACE VIEW cannot add in
-- front of existing columns: drop each such view of a database that still has it without
-- store_id (once: on the next run every view has it and nothing is dropped). CASCADE also drops
-- views built on them; create those again after this file.
DO $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['v_shelf_status', 'v_open_alerts', 'v_supplier_orders',
                             'v_daily_kpis', 'v_data_quality'] LOOP
        IF to_regclass('analytics.' || v) IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM information_schema.columns
            WHERE table_schema = 'analytics' AND table_name = v AND column_name = 'store_id'
        ) THEN
            EXECUTE format('DROP VIEW analytics.%I CASCADE', v);
        END IF;
    END LOOP;
END
$$;

-- "Data as of" per pipeline: the latest dataflow time any of its sinks committed. A sink's own
-- frontier_at only moves when its table changes, so a quiet table (e.g. ref.*) lags; the pipeline's
-- figure is the one to show on dashboards.
CREATE OR REPLACE VIEW analytics.v_data_freshness AS
SELECT
    p.pipeline,
    p.sink,
    replace(p.target, '"', '') AS target_table,
    obj_description(to_regclass(p.target), 'pg_class') AS target_description,
    p.frontier_at AS data_as_of,
    max(p.frontier_at) OVER (PARTITION BY p.pipeline) AS pipeline_data_as_of,
    p.committed_at,
    now() - p.frontier_at AS lag_behind_wall_clock,
    now() - p.committed_at AS since_last_commit,
    extract(epoch FROM now() - p.frontier_at)::bigint AS lag_seconds,
    extract(epoch FROM now() - p.committed_at)::bigint AS seconds_since_commit,
    p.frontier,
    p.definition_hash
FROM public.shelfflow_progress p;

COMMENT ON VIEW analytics.v_data_freshness IS
    'One row per pipeline sink: its table, the last dataflow (simulated) time committed to it '
    '(data_as_of; pipeline_data_as_of for the whole pipeline), the wall-clock commit time, and how '
    'far both are behind now().';

-- Every shelf of every store now, with its product, fill, refill status, open restock plan and
-- the store's warehouse stock of the product.
CREATE OR REPLACE VIEW analytics.v_shelf_status AS
SELECT
    s.store_id,
    s.shelf_id,
    s.item_category,
    s.item_subcategory,
    s.current_stock,
    s.maximum_stock,
    coalesce(s.fill_pct, round(100.0 * s.current_stock / nullif(s.maximum_stock, 0), 1)) AS fill_pct,
    s.threshold_pct,
    s.target_pct,
    CASE
        WHEN s.current_stock = 0 THEN 'stockout'
        WHEN s.current_stock * 100 < s.threshold_pct * s.maximum_stock
          OR s.current_stock < s.min_qty THEN 'below_threshold'
        ELSE 'ok'
    END AS stock_status,
    greatest(ceil(s.maximum_stock * s.target_pct / 100.0)::bigint - s.current_stock, 0)
        AS units_to_target,
    s.batches,
    s.next_expiry,
    r.item_price,
    round((s.current_stock * r.item_price)::numeric, 2) AS stock_value_eur,
    p.plan_id AS open_plan_id,
    p.status AS open_plan_status,
    p.requested_qty AS open_plan_qty,
    w.wh_current_stock AS warehouse_stock,
    s.last_update_ts AS last_movement_at
FROM state.shelf_status s
LEFT JOIN ref.shelves r USING (store_id, shelf_id)
LEFT JOIN state.restock_plans p
       ON p.store_id = s.store_id AND p.shelf_id = s.shelf_id AND p.status <> 'delivered'
LEFT JOIN state.warehouse_status w ON w.store_id = s.store_id AND w.shelf_id = s.shelf_id;

COMMENT ON VIEW analytics.v_shelf_status IS
    'Every shelf of every store now (one row per store_id and shelf_id): product, stock, fill %, '
    'stock_status (ok, below_threshold, stockout), units to the refill target, next expiry, stock '
    'value, the open restock plan and the store''s warehouse stock.';

-- The alerts open now in every store: the latest change of each store and warehouse alert
-- (ops.*_alerts keep every change), plus open sales anomalies.
CREATE OR REPLACE VIEW analytics.v_open_alerts AS
WITH as_of AS (
    SELECT pipeline, max(frontier_at) AS data_as_of
    FROM public.shelfflow_progress
    GROUP BY pipeline
),
latest AS (
    SELECT DISTINCT ON (alert_id) 'store' AS location, 'store_ops' AS pipeline, a.*
    FROM ops.store_alerts a
    ORDER BY alert_id, change_time DESC
),
latest_wh AS (
    SELECT DISTINCT ON (alert_id) 'warehouse' AS location, 'warehouse' AS pipeline, a.*
    FROM ops.warehouse_alerts a
    ORDER BY alert_id, change_time DESC
),
open_alerts AS (
    SELECT alert_id, alert, location, pipeline, store_id, shelf_id, NULL::text AS item_category,
           opened_at
    FROM latest
    WHERE change_op = 'upsert' AND resolved_at IS NULL
    UNION ALL
    SELECT alert_id, alert, location, pipeline, store_id, shelf_id, NULL::text, opened_at
    FROM latest_wh
    WHERE change_op = 'upsert' AND resolved_at IS NULL
    UNION ALL
    SELECT alert_id, alert, 'sales', 'sales', store_id, NULL::text, item_category, opened_at
    FROM analytics.sales_anomalies
    WHERE resolved_at IS NULL
)
SELECT
    o.store_id,
    o.alert_id,
    o.alert,
    o.location,
    o.shelf_id,
    coalesce(o.item_category, r.item_category) AS item_category,
    r.item_subcategory,
    o.opened_at,
    f.data_as_of,
    round(extract(epoch FROM f.data_as_of - o.opened_at) / 60)::bigint AS open_minutes,
    s.current_stock,
    s.maximum_stock,
    s.fill_pct,
    w.wh_current_stock AS warehouse_stock
FROM open_alerts o
LEFT JOIN as_of f ON f.pipeline = o.pipeline
LEFT JOIN ref.shelves r ON r.store_id = o.store_id AND r.shelf_id = o.shelf_id
LEFT JOIN state.shelf_status s ON s.store_id = o.store_id AND s.shelf_id = o.shelf_id
LEFT JOIN state.warehouse_status w ON w.store_id = o.store_id AND w.shelf_id = o.shelf_id;

COMMENT ON VIEW analytics.v_open_alerts IS
    'Alerts open now in every store (store: refill_request, stockout, near_expiry, expired, '
    'near_expiry_discount; warehouse: supplier_request, wh_near_expiry; sales: sales_anomaly), how '
    'long they have been open at the data''s "as of" time (simulated minutes), and the store''s '
    'shelf and warehouse stock now.';

-- Supplier orders of every store with their product and delivery progress.
CREATE OR REPLACE VIEW analytics.v_supplier_orders AS
WITH as_of AS (
    SELECT max(frontier_at) AS data_as_of
    FROM public.shelfflow_progress
    WHERE pipeline = 'warehouse'
)
SELECT
    o.store_id,
    o.order_id,
    o.shelf_id,
    coalesce(r.item_category, wp.item_category) AS item_category,
    r.item_subcategory,
    o.status,
    o.quantity,
    o.batches,
    o.batch_size,
    o.received_qty,
    o.quantity - o.received_qty AS outstanding_qty,
    o.cutoff_at,
    (o.cutoff_at AT TIME ZONE 'UTC')::date AS cutoff_day,
    o.delivery_at,
    o.received_at,
    round(extract(epoch FROM o.received_at - o.cutoff_at) / 3600.0, 1) AS lead_time_hours,
    o.status = 'issued' AND o.delivery_at < f.data_as_of AS overdue,
    o.on_hand AS on_hand_at_cutoff,
    o.on_order AS on_order_at_cutoff,
    o.demand_per_day,
    round(((o.on_hand + o.on_order) / nullif(o.demand_per_day, 0))::numeric, 1)
        AS days_of_cover_at_cutoff,
    w.wh_current_stock AS warehouse_stock,
    w.maximum_stock AS warehouse_capacity,
    o.updated_at
FROM state.supplier_orders o
CROSS JOIN as_of f
LEFT JOIN ref.shelves r ON r.store_id = o.store_id AND r.shelf_id = o.shelf_id
LEFT JOIN ref.warehouse_products wp ON wp.store_id = o.store_id AND wp.shelf_id = o.shelf_id
LEFT JOIN state.warehouse_status w ON w.store_id = o.store_id AND w.shelf_id = o.shelf_id;

COMMENT ON VIEW analytics.v_supplier_orders IS
    'Every supplier order of every store (one per store and product per cutoff): status, units '
    'ordered, received and outstanding, cutoff and delivery times, lead time, overdue flag, the '
    'stock position at the cutoff and the store''s warehouse stock now.';

-- One row per store and simulated day: sales, visits, alerts, restock plans, supplier orders,
-- deliveries and discounts.
CREATE OR REPLACE VIEW analytics.v_daily_kpis AS
WITH sales AS (
    SELECT store_id,
           (window_start AT TIME ZONE 'UTC')::date AS day,
           sum(units) AS units_sold,
           sum(revenue) AS revenue_eur
    FROM analytics.category_sales_daily
    GROUP BY 1, 2
),
visits AS (
    SELECT store_id,
           (window_start AT TIME ZONE 'UTC')::date AS day,
           sum(visits) AS visits,
           round((sum(visits * avg_trip_minutes) / nullif(sum(visits), 0))::numeric, 1)
               AS avg_trip_minutes
    FROM analytics.visits_daily
    GROUP BY 1, 2
),
alerts AS (
    SELECT DISTINCT ON (alert_id) alert_id, store_id, alert, opened_at, resolved_at
    FROM (
        SELECT alert_id, store_id, alert, opened_at, resolved_at, change_time FROM ops.store_alerts
        UNION ALL
        SELECT alert_id, store_id, alert, opened_at, resolved_at, change_time FROM ops.warehouse_alerts
    ) a
    ORDER BY alert_id, change_time DESC
),
alerts_opened AS (
    SELECT store_id,
           (opened_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS alerts_opened,
           count(*) FILTER (WHERE alert = 'refill_request') AS refill_requests,
           count(*) FILTER (WHERE alert = 'stockout') AS stockouts,
           count(*) FILTER (WHERE alert IN ('near_expiry', 'wh_near_expiry')) AS near_expiry_alerts,
           count(*) FILTER (WHERE alert = 'supplier_request') AS supplier_requests
    FROM alerts
    GROUP BY 1, 2
),
alerts_resolved AS (
    SELECT store_id, (resolved_at AT TIME ZONE 'UTC')::date AS day, count(*) AS alerts_resolved
    FROM alerts
    WHERE resolved_at IS NOT NULL
    GROUP BY 1, 2
),
plans_created AS (
    SELECT store_id,
           (created_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS restock_plans_created,
           sum(requested_qty) AS restock_units_requested
    FROM state.restock_plans
    GROUP BY 1, 2
),
plans_delivered AS (
    SELECT store_id,
           (delivered_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS restock_plans_delivered,
           sum(delivered_qty) AS restock_units_delivered
    FROM state.restock_plans
    WHERE delivered_at IS NOT NULL
    GROUP BY 1, 2
),
orders AS (
    SELECT store_id,
           (cutoff_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS supplier_orders,
           sum(quantity) AS units_ordered
    FROM state.supplier_orders
    GROUP BY 1, 2
),
receipts AS (
    SELECT store_id,
           (received_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS batches_received,
           sum(quantity) AS units_received
    FROM ops.supplier_receipts
    GROUP BY 1, 2
),
discounts AS (
    SELECT store_id, discount_date AS day, count(DISTINCT shelf_id) AS products_discounted
    FROM ops.daily_discounts
    WHERE change_op = 'upsert'
    GROUP BY 1, 2
),
days AS (
    SELECT store_id, day FROM sales UNION SELECT store_id, day FROM visits
    UNION SELECT store_id, day FROM alerts_opened UNION SELECT store_id, day FROM alerts_resolved
    UNION SELECT store_id, day FROM plans_created UNION SELECT store_id, day FROM plans_delivered
    UNION SELECT store_id, day FROM orders UNION SELECT store_id, day FROM receipts
    UNION SELECT store_id, day FROM discounts
)
SELECT
    d.store_id,
    d.day,
    trim(to_char(d.day, 'Day')) AS weekday,
    coalesce(s.units_sold, 0) AS units_sold,
    coalesce(s.revenue_eur, 0) AS revenue_eur,
    coalesce(v.visits, 0) AS visits,
    round(s.revenue_eur / nullif(v.visits, 0), 2) AS revenue_per_visit_eur,
    v.avg_trip_minutes,
    coalesce(ao.alerts_opened, 0) AS alerts_opened,
    coalesce(ar.alerts_resolved, 0) AS alerts_resolved,
    coalesce(ao.refill_requests, 0) AS refill_requests,
    coalesce(ao.stockouts, 0) AS stockouts,
    coalesce(ao.near_expiry_alerts, 0) AS near_expiry_alerts,
    coalesce(ao.supplier_requests, 0) AS supplier_requests,
    coalesce(pc.restock_plans_created, 0) AS restock_plans_created,
    coalesce(pd.restock_plans_delivered, 0) AS restock_plans_delivered,
    coalesce(pd.restock_units_delivered, 0) AS restock_units_delivered,
    coalesce(o.supplier_orders, 0) AS supplier_orders,
    coalesce(o.units_ordered, 0) AS units_ordered,
    coalesce(rc.batches_received, 0) AS batches_received,
    coalesce(rc.units_received, 0) AS units_received,
    coalesce(ds.products_discounted, 0) AS products_discounted
FROM days d
LEFT JOIN sales s USING (store_id, day)
LEFT JOIN visits v USING (store_id, day)
LEFT JOIN alerts_opened ao USING (store_id, day)
LEFT JOIN alerts_resolved ar USING (store_id, day)
LEFT JOIN plans_created pc USING (store_id, day)
LEFT JOIN plans_delivered pd USING (store_id, day)
LEFT JOIN orders o USING (store_id, day)
LEFT JOIN receipts rc USING (store_id, day)
LEFT JOIN discounts ds USING (store_id, day);

COMMENT ON VIEW analytics.v_daily_kpis IS
    'One row per store and simulated day (UTC): units sold, revenue, visits, alerts opened and '
    'resolved, restock plans, supplier orders, deliveries received and products discounted. The '
    'current day is partial. Sum over store_id for the chain.';

-- Data quality per store and day: violations of the store streams' rules (ops.data_quality, from
-- the `check` operators of pipelines/store_ops.yaml), by stream and rule. A clean day has no rows.
CREATE OR REPLACE VIEW analytics.v_data_quality AS
SELECT
    q.store_id,
    q.stream,
    q.rule,
    (q.at AT TIME ZONE 'UTC')::date AS day,
    count(*) AS violations,
    min(q.at) AS first_at,
    max(q.at) AS last_at
FROM ops.data_quality q
GROUP BY q.store_id, q.stream, q.rule, (q.at AT TIME ZONE 'UTC')::date;

COMMENT ON VIEW analytics.v_data_quality IS
    'Data-quality violations of the store event streams per store, stream, rule and day (day NULL '
    'for unique_by, which has no single event time).';

-- The stores side by side, per day: what each sold, how many shoppers came, how long its shelves
-- were empty, what expired and how many alerts it raised. From the per-store, per-day tables of
-- the pipelines: analytics.store_sales_daily (sales.yaml), analytics.store_daily (store_ops.yaml),
-- analytics.warehouse_daily (warehouse.yaml) and analytics.visits_daily (foot_traffic.yaml).
CREATE OR REPLACE VIEW analytics.v_store_comparison AS
WITH visits AS (
    SELECT store_id, (window_start AT TIME ZONE 'UTC')::date AS day, sum(visits) AS visits
    FROM analytics.visits_daily
    GROUP BY 1, 2
),
days AS (
    SELECT store_id, day FROM analytics.store_sales_daily
    UNION SELECT store_id, day FROM analytics.store_daily
    UNION SELECT store_id, day FROM analytics.warehouse_daily
    UNION SELECT store_id, day FROM visits
),
figures AS (
    SELECT
        d.store_id,
        d.day,
        coalesce(s.revenue, 0) AS revenue_eur,
        coalesce(s.units, 0) AS units_sold,
        coalesce(v.visits, 0) AS visits,
        coalesce(sd.stockout_minutes, 0) AS stockout_minutes,
        coalesce(sd.stockouts_opened, 0) AS stockouts,
        coalesce(sd.units_expired, 0) AS expired_units_store,
        coalesce(wd.units_expired, 0) AS expired_units_warehouse,
        coalesce(sd.alerts_opened, 0) AS store_alerts_opened,
        coalesce(wd.alerts_opened, 0) AS warehouse_alerts_opened
    FROM days d
    LEFT JOIN analytics.store_sales_daily s USING (store_id, day)
    LEFT JOIN visits v USING (store_id, day)
    LEFT JOIN analytics.store_daily sd USING (store_id, day)
    LEFT JOIN analytics.warehouse_daily wd USING (store_id, day)
)
SELECT
    f.store_id,
    st.name AS store_name,
    st.region,
    st.size_factor,
    f.day,
    trim(to_char(f.day, 'Day')) AS weekday,
    f.revenue_eur,
    f.units_sold,
    f.visits,
    round(f.revenue_eur / nullif(f.visits, 0), 2) AS revenue_per_visit_eur,
    f.stockout_minutes,
    f.stockouts,
    f.expired_units_store + f.expired_units_warehouse AS expired_units,
    f.expired_units_store,
    f.expired_units_warehouse,
    f.store_alerts_opened + f.warehouse_alerts_opened AS alerts_opened,
    f.store_alerts_opened,
    f.warehouse_alerts_opened,
    round(100.0 * f.revenue_eur / nullif(sum(f.revenue_eur) OVER (PARTITION BY f.day), 0), 1)
        AS revenue_share_pct,
    rank() OVER (PARTITION BY f.day ORDER BY f.revenue_eur DESC) AS revenue_rank
FROM figures f
LEFT JOIN ref.stores st USING (store_id);

COMMENT ON VIEW analytics.v_store_comparison IS
    'One row per store and simulated day (UTC): revenue (EUR, after discounts), units sold, visits, '
    'revenue per visit, minutes shelves spent empty (stock-outs ended that day), expired units '
    'removed (shelves + warehouse), alerts opened (store + warehouse), and the store''s share and '
    'rank of the chain''s revenue that day. The current day is partial.';

-- Sales per store, category and hour, with the store's name and the hour of the day.
CREATE OR REPLACE VIEW analytics.v_hourly_sales AS
SELECT
    h.store_id,
    st.name AS store_name,
    st.region,
    h.item_category,
    h.window_start AS hour_start,
    h.window_end AS hour_end,
    (h.window_start AT TIME ZONE 'UTC')::date AS day,
    extract(hour FROM h.window_start AT TIME ZONE 'UTC')::int AS hour_of_day,
    h.units,
    h.revenue AS revenue_eur,
    h.transactions,
    round(h.revenue / nullif(h.transactions, 0), 2) AS revenue_per_transaction_eur
FROM analytics.category_sales_hourly h
LEFT JOIN ref.stores st USING (store_id);

COMMENT ON VIEW analytics.v_hourly_sales IS
    'Units, revenue (EUR, after discounts) and transactions per store, category and hour of '
    'simulated time (UTC), with the hour of the day for comparing the stores'' daily profiles.';
