import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Messages per second into the loopback aiosmtpd, when asked:
/// CRM_DELIVERY_BENCH=<messages> (e.g. 5000) with --filter DeliveryBenchTests.
@Suite struct DeliveryBenchTests {
    static let count = Int(ProcessInfo.processInfo.environment["CRM_DELIVERY_BENCH"] ?? "") ?? 0

    @Test(.enabled(if: count > 0)) func messagesPerSecond() async throws {
        let smtp = try SMTPTestServer()
        let connections = ProcessInfo.processInfo.environment["CRM_DELIVERY_BENCH_CONNECTIONS"] ?? "4"
        // Queued while delivery is off, then sent by a crmd pointed at the server.
        let first = try ConsentWorld()
        let p = try await first.person("Ben", email: "ben@example.com")
        let template = try await first.marketing.createTemplate("Bench")
        for i in 0..<Self.count {
            _ = try await first.marketing.sendTestEmail(template: template.id, person: p, to: "bench\(i)@example.com")
        }
        _ = try first.crmd.stop()
        let started = Date()
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"], environment: smtp.environment([
            "CRM_PLUGIN_MARKETING_SMTP_RATE_PER_SECOND": "1000000", "CRM_PLUGIN_MARKETING_SMTP_BATCH_SIZE": "200",
            "CRM_PLUGIN_MARKETING_SMTP_CONNECTIONS": connections]), dataDir: first.crmd.dir + "/data")
        try await eventually(600, "\(Self.count) messages") { smtp.receivedCount >= Self.count }
        let times = smtp.received.map(\.at).sorted()
        let span = (times.last ?? 0) - (times.first ?? 0)
        print("delivery bench: \(Self.count) messages over \(connections) connections in \(String(format: "%.2f", span)) s at the server: "
              + "\(String(format: "%.0f", Double(Self.count - 1) / max(span, 0.001))) messages/s "
              + "(\(String(format: "%.2f", Date().timeIntervalSince(started))) s from crmd start)")
        _ = try crmd.stop()
    }
}
