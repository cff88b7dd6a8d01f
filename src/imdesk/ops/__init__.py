"""Operations: the self-service diagnostics tools reachable from the portal (config health check,
version compatibility, log and bundle analysis through the ``diag`` library), and later
Prometheus/Alertmanager intake, forecasts and config change management."""
