import CoreMetrics
import Foundation
import Prometheus

/// The server's metrics, in a Prometheus registry of their own (so that tests may run several servers in
/// one process), recorded through swift-metrics and served as text by `GET /metrics`.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let openConnections: CoreMetrics.Meter
    private let walBytes: CoreMetrics.Gauge
    private let commitTime: CoreMetrics.Timer
    private let pushedChanges: CoreMetrics.Counter
    private let duplicateChanges: CoreMetrics.Counter
    private let pulledChanges: CoreMetrics.Counter

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // From a no-op pull on a quiet server (a millisecond) to a push of a thousand changes on a slow disk.
        let latency: [Duration] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10].map { .seconds($0) }
        factory.defaultDurationHistogramBuckets = latency
        self.factory = factory
        openConnections = CoreMetrics.Meter(label: "caresync_open_connections", factory: factory)
        walBytes = CoreMetrics.Gauge(label: "caresync_db_wal_bytes", factory: factory)
        commitTime = CoreMetrics.Timer(label: "caresync_db_commit_seconds", factory: factory)
        pushedChanges = CoreMetrics.Counter(label: "caresync_push_changes_total", dimensions: [("outcome", "stored")], factory: factory)
        duplicateChanges = CoreMetrics.Counter(label: "caresync_push_changes_total", dimensions: [("outcome", "duplicate")], factory: factory)
        pulledChanges = CoreMetrics.Counter(label: "caresync_pull_changes_total", factory: factory)
    }

    /// One answered request: its route as registered (`/v1/diaries/{diary}/changes`, or `unmatched`), never
    /// the path as sent, which would name diaries and grow without bound.
    func request(method: String, route: String, status: Int, duration: Duration, refusal: String?) {
        let dimensions = [("method", method), ("route", route)]
        CoreMetrics.Counter(label: "caresync_http_requests_total", dimensions: dimensions + [("status", String(status))], factory: factory)
            .increment()
        CoreMetrics.Timer(label: "caresync_http_request_duration_seconds", dimensions: dimensions, factory: factory).record(duration: duration)
        if let refusal {
            CoreMetrics.Counter(label: "caresync_refusals_total", dimensions: [("code", refusal)], factory: factory).increment()
        }
        guard route == ChangesRoute.path, status < 300 else { return }
        switch method {
        case "POST": CoreMetrics.Timer(label: "caresync_push_seconds", factory: factory).record(duration: duration)
        case "GET": CoreMetrics.Timer(label: "caresync_pull_seconds", factory: factory).record(duration: duration)
        default: break
        }
    }

    func connectionOpened() { openConnections.increment() }
    func connectionClosed() { openConnections.decrement() }

    func committed(in duration: Duration) { commitTime.record(duration: duration) }

    func pushed(stored: Int, duplicates: Int) {
        pushedChanges.increment(by: stored)
        duplicateChanges.increment(by: duplicates)
    }

    func pulled(_ count: Int) { pulledChanges.increment(by: count) }

    /// The Prometheus text exposition of every metric, with the write-ahead log's size read now (where
    /// the engine shows it).
    func exposition(logBytes: Int?) -> [UInt8] {
        if let logBytes { walBytes.record(logBytes) }
        return registry.emitToBuffer()
    }
}

/// The route of push and pull, as `ServerMetrics` and the request log name it.
enum ChangesRoute {
    static let path = "/v1/diaries/{diary}/changes"
}
