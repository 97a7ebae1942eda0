import Foundation

struct BenchEventsReport {
    var figures: BenchEventsLedger.Figures
    /// How long the pace ran.
    var seconds: Double

    var achievedRate: Double { seconds > 0 ? Double(figures.writes) / seconds : 0 }

    func json() -> String {
        let fields: [(String, String)] = [
            ("writes", "\(figures.writes)"), ("errors", "\(figures.errors)"),
            ("seconds", String(format: "%.3f", seconds)), ("writes_per_s", String(format: "%.1f", achievedRate)),
            ("matched", "\(figures.matched)"), ("lost", "\(figures.lost)"), ("unmatched", "\(figures.unmatched)"),
            ("before_ack", "\(figures.beforeAck)"),
        ] + figures.writeMicros.percentileFields(prefix: "write_")
          + figures.fromAckMicros.percentileFields(prefix: "ack_")
          + figures.fromStartMicros.percentileFields(prefix: "start_")
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    func human(_ config: BenchEventsRunner.Config) -> String {
        let rate = config.rate.rounded() == config.rate ? String(Int(config.rate)) : String(config.rate)
        var lines = [
            "\(config.method) at \(rate)/s for \(String(format: "%.1f", config.duration)) s; events \(config.topics.joined(separator: " "))",
            "  writes      \(figures.writes) (\(figures.errors) errors), \(String(format: "%.0f", achievedRate)) writes/s achieved",
            "  events      \(figures.matched) matched, \(figures.lost) lost (none within \(String(format: "%g", config.timeout)) s), "
                + "\(figures.unmatched) unmatched, \(figures.beforeAck) before the write's answer",
            "  write       " + figures.writeMicros.percentileLine(),
            "  from answer " + figures.fromAckMicros.percentileLine(),
            "  from start  " + figures.fromStartMicros.percentileLine(),
        ]
        if !figures.errorSample.isEmpty { lines.append("  first error: \(figures.errorSample)") }
        return lines.joined(separator: "\n")
    }
}
