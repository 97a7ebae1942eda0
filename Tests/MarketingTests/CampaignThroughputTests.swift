import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// The sending rate: from ScheduleCampaign to SENT for 10,000 consenting
/// people with the default batch (the target is at least 1,000 messages a
/// second, queueing being the campaign's part of "end to end").
@Suite struct CampaignThroughputTests {
    @Test func tenThousandPeopleQueueAtOverAThousandASecond() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let (segment, _) = try await w.people(10_000, tag: "bulk")
        let t = try await w.template("bulk", subject: "Hello {{person.first_name}} {{person.last_name}}")
        let c = try await m.createCampaign(m.campaign("Bulk", segment: segment, template: t))
        let started = Date()
        _ = try await m.scheduleCampaign(c.id)
        try await w.waitFor(c.id, .sent, timeout: 120)
        let seconds = Date().timeIntervalSince(started)
        let queued = try await m.campaignResults(c.id).variants.first?.queued ?? 0
        #expect(queued == 10_000)
        let rate = Double(queued) / seconds
        print("campaign throughput: \(queued) queued in \(String(format: "%.2f", seconds)) s = \(Int(rate)) messages/s")
        #expect(rate >= 1000, "\(Int(rate)) messages/s")
    }
}
