import Foundation

struct BenchReport {
    var calls: Int
    var errors: Int
    var errorSample: String
    var seconds: Double
    var sortedLatenciesMicros: [UInt32]

    var callsPerSecond: Double { Double(calls) / seconds }

    func percentile(_ p: Double) -> UInt32 { sortedLatenciesMicros.percentile(p) }

    func json() -> String {
        let fields: [(String, String)] = [
            ("calls", "\(calls)"), ("errors", "\(errors)"),
            ("seconds", String(format: "%.3f", seconds)),
            ("calls_per_s", String(format: "%.1f", callsPerSecond)),
        ] + sortedLatenciesMicros.percentileFields()
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    func human(_ config: BenchRunner.Config) -> String {
        var lines = [
            "\(config.method): \(config.connections) connection(s) x \(config.inFlight) in flight, \(String(format: "%.1f", seconds)) s",
            "  calls     \(calls) (\(errors) errors)",
            "  rate      \(String(format: "%.0f", callsPerSecond)) calls/s",
            "  latency   " + sortedLatenciesMicros.percentileLine(),
        ]
        if !errorSample.isEmpty { lines.append("  first error: \(errorSample)") }
        return lines.joined(separator: "\n")
    }
}

/// Percentiles of sorted microsecond latencies, as bench and bench-events print them.
extension [UInt32] {
    func percentile(_ p: Double) -> UInt32 {
        guard !isEmpty else { return 0 }
        let index = Swift.min(count - 1, Int((Double(count) * p).rounded(.up)) - 1)
        return self[Swift.max(0, index)]
    }

    /// ("p50_us", "123"), ... ("max_us", ...); `prefix` names a series ("ack_").
    func percentileFields(prefix: String = "") -> [(String, String)] {
        [("p50_us", percentile(0.50)), ("p90_us", percentile(0.90)), ("p99_us", percentile(0.99)),
         ("p999_us", percentile(0.999)), ("max_us", last ?? 0)].map { (prefix + $0.0, "\($0.1)") }
    }

    func percentileLine() -> String {
        "p50 \(percentile(0.50)) µs   p90 \(percentile(0.90)) µs   p99 \(percentile(0.99)) µs   p99.9 \(percentile(0.999)) µs   max \(last ?? 0) µs"
    }
}
