-- BI views of the demand forecast. Apply after pipelines/features.yaml and
-- pipelines/demand_forecast.yaml have created their tables (SHELFFLOW_POSTGRES=true):
--   psql "$DATABASE_URL" -f deploy/postgres/forecast_views.sql
--
-- A series is one shelf of one store: forecasts and features are keyed by (store_id, shelf_id).
-- v_forecast_accuracy gained a leading store_id column, which CREATE OR REPLACE VIEW cannot add:
-- a view still without it is dropped first (once).
DO $$
BEGIN
    IF to_regclass('analytics.v_forecast_accuracy') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'analytics' AND table_name = 'v_forecast_accuracy'
          AND column_name = 'store_id'
    ) THEN
        DROP VIEW analytics.v_forecast_accuracy CASCADE;
    END IF;
    IF to_regclass('analytics.v_demand_forecast_next7d') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'analytics' AND table_name = 'v_demand_forecast_next7d'
          AND column_name = 'store_id'
    ) THEN
        DROP VIEW analytics.v_demand_forecast_next7d CASCADE;
    END IF;
END
$$;

-- The plan ahead: each shelf's forecasts from its newest origin day, per store.
CREATE OR REPLACE VIEW analytics.v_demand_forecast_next7d AS
SELECT f.*
FROM analytics.demand_forecast f
JOIN (SELECT store_id, shelf_id, max(feature_date) AS feature_date
      FROM analytics.demand_forecast GROUP BY store_id, shelf_id) newest
  USING (store_id, shelf_id, feature_date);

COMMENT ON VIEW analytics.v_demand_forecast_next7d IS
    'Forecast units per store and shelf for the next days, from each store''s shelf''s newest features day.';

-- Forecast against what sold, once the day has passed: error per store, category, day and horizon.
CREATE OR REPLACE VIEW analytics.v_forecast_accuracy AS
SELECT
    f.store_id,
    a.item_category,
    f.target_date AS day,
    f.horizon_day,
    count(*) AS forecasts,
    sum(a.sales_qty) AS units_sold,
    sum(f.forecast_units) AS units_forecast,
    avg(abs(f.forecast_units - a.sales_qty)) AS mae,
    sum(abs(f.forecast_units - a.sales_qty)) / NULLIF(sum(abs(a.sales_qty)), 0) AS wape
FROM analytics.demand_forecast f
JOIN analytics.shelf_daily_features a
  ON a.store_id = f.store_id AND a.shelf_id = f.shelf_id AND a.feature_date = f.target_date
GROUP BY f.store_id, a.item_category, f.target_date, f.horizon_day;

COMMENT ON VIEW analytics.v_forecast_accuracy IS
    'Forecast vs actual units per store, category, day and horizon day (MAE, WAPE), for days with actuals.';
