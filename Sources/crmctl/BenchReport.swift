import Foundation

struct BenchReport {
    var calls: Int
    var errors: Int
    var errorSample: String
    var seconds: Double
    var sortedLatenciesMicros: [UInt32]

    var callsPerSecond: Double { Double(calls) / seconds }

    func percentile(_ p: Double) -> UInt32 {
        guard !sortedLatenciesMicros.isEmpty else { return 0 }
        let index = min(sortedLatenciesMicros.count - 1, Int((Double(sortedLatenciesMicros.count) * p).rounded(.up)) - 1)
        return sortedLatenciesMicros[max(0, index)]
    }

    func json() -> String {
        let fields: [(String, String)] = [
            ("calls", "\(calls)"), ("errors", "\(errors)"),
            ("seconds", String(format: "%.3f", seconds)),
            ("calls_per_s", String(format: "%.1f", callsPerSecond)),
            ("p50_us", "\(percentile(0.50))"), ("p90_us", "\(percentile(0.90))"),
            ("p99_us", "\(percentile(0.99))"), ("p999_us", "\(percentile(0.999))"),
            ("max_us", "\(sortedLatenciesMicros.last ?? 0)"),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    func human(_ config: BenchRunner.Config) -> String {
        var lines = [
            "\(config.method): \(config.connections) connection(s) x \(config.inFlight) in flight, \(String(format: "%.1f", seconds)) s",
            "  calls     \(calls) (\(errors) errors)",
            "  rate      \(String(format: "%.0f", callsPerSecond)) calls/s",
            "  latency   p50 \(percentile(0.50)) µs   p90 \(percentile(0.90)) µs   p99 \(percentile(0.99)) µs   p99.9 \(percentile(0.999)) µs   max \(sortedLatenciesMicros.last ?? 0) µs",
        ]
        if !errorSample.isEmpty { lines.append("  first error: \(errorSample)") }
        return lines.joined(separator: "\n")
    }
}
