import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// One campaign message per address: people who share one get one copy.
@Suite struct CampaignAddressTests {
    @Test func peopleSharingAnAddressGetOneMessageBetweenThem() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        // Three people at two addresses (the second spelled in another case), all subscribed.
        let first = try await w.contacts.createPerson("Ann", "Home", email: "family@example.com", tags: ["shared"])
        let second = try await w.contacts.createPerson("Ben", "Home", email: "Family@Example.com", tags: ["shared"])
        let third = try await w.contacts.createPerson("Cy", "Work", email: "cy@example.com", tags: ["shared"])
        let segment = try await m.createSegment("tag shared", rule: Rule.when("tag", .equals, "shared"))
        let ok = try await eventually { try await m.members(segment.id).count == 3 }
        #expect(ok)
        for p in [first, second, third] { _ = try await m.setConsent(p.id, .subscribed, evidence: "signed up at the fair") }
        let c = try await m.createCampaign(m.campaign("Shared", segment: segment.id, template: try await w.template("hello")))
        _ = try await m.scheduleCampaign(c.id)
        _ = try await w.waitFor(c.id, .sent)
        let recipients = try await m.recipients(c.id)
        #expect(recipients.filter { $0.state == .queued }.map(\.personID) == [first.id, third.id])
        let skipped = recipients.filter { $0.state == .skipped }
        #expect(skipped.map(\.personID) == [second.id])
        #expect(skipped.first?.skippedReason == "duplicate_address: person \(first.id) gets it")
        #expect(try w.outbox(c.id).map(\.person) == [first.id, third.id])
        // Another campaign is another message: the rule is per campaign.
        let again = try await m.createCampaign(m.campaign("Again", segment: segment.id, template: try await w.template("again")))
        _ = try await m.scheduleCampaign(again.id)
        _ = try await w.waitFor(again.id, .sent)
        #expect(try w.outbox(again.id).map(\.person) == [first.id, third.id])
        // Erasing the holder takes their address out of the campaign's record.
        _ = try await w.contacts.call("ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = first.id; $0.reason = "GDPR request 7" },
                                      as: Crm_Contacts_V1_ErasePersonResponse.self)
        let gone = try await eventually {
            try w.database.rows("SELECT COUNT(*) FROM marketing_campaign_addresses WHERE person_id = \(first.id)").first?[0] == "0"
        }
        #expect(gone)
        #expect(try w.database.rows("SELECT COUNT(*) FROM marketing_campaign_addresses WHERE address = 'family@example.com'")
            .first?[0] == "0")
    }
}
