"""The admin API (deliveries, replay, preview, reload) and its OpenAPI document."""
