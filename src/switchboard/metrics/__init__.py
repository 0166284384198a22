"""Prometheus metrics of the gateway: what it exports (`instruments`), how a request and the
process's state are observed (`recorder`: `PrometheusMetrics`, or `DisabledMetrics` when
METRICS_ENABLED is false, both behind the narrow `GatewayMetrics` the gateway calls), the
scrape (`exposition`), and the directory worker processes share under `switchboard serve
--workers N` (`multiprocess_dir`).

Import the modules themselves: this package imports nothing, because prometheus_client must
not be imported before the serve command has named that directory (it reads
PROMETHEUS_MULTIPROC_DIR once, on import), and the serve command imports `multiprocess_dir`.
"""
