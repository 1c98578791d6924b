-- BI views of the demand forecast. Apply after pipelines/features.yaml and
-- pipelines/demand_forecast.yaml have created their tables (SHELFFLOW_POSTGRES=true):
--   psql "$DATABASE_URL" -f deploy/postgres/forecast_views.sql

-- The plan ahead: each shelf's forecasts from its newest origin day.
CREATE OR REPLACE VIEW analytics.v_demand_forecast_next7d AS
SELECT f.*
FROM analytics.demand_forecast f
JOIN (SELECT shelf_id, max(feature_date) AS feature_date
      FROM analytics.demand_forecast GROUP BY shelf_id) newest
  USING (shelf_id, feature_date);

COMMENT ON VIEW analytics.v_demand_forecast_next7d IS
    'Forecast units per shelf for the next days, from each shelf''s newest features day.';

-- Forecast against what sold, once the day has passed: error per category, day and horizon.
CREATE OR REPLACE VIEW analytics.v_forecast_accuracy AS
SELECT
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
  ON a.shelf_id = f.shelf_id AND a.feature_date = f.target_date
GROUP BY a.item_category, f.target_date, f.horizon_day;

COMMENT ON VIEW analytics.v_forecast_accuracy IS
    'Forecast vs actual units per category, day and horizon day (MAE, WAPE), for days with actuals.';
