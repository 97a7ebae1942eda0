import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Incremental upkeep re-checks only the segments whose rule reads a field
/// a contacts change touched: every change of each kind of field must still
/// move the person in and out of exactly the right segments, one event each.
@Suite struct SegmentUpkeepTests {
    @Test func eachKindOfChangeMovesThePersonThroughExactlyTheSegmentsThatReadIt() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        _ = try await w.contacts.call("DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
            $0.definition = .with { $0.entity = .person; $0.key = "city"; $0.type = .text }
        }, as: Crm_Contacts_V1_CustomFieldDefinition.self)
        let tagged = try await m.createSegment("Tagged", rule: Rule.when("tag", .equals, "vip")).id
        let city = try await m.createSegment("London", rule: Rule.when("custom.city", .equals, "london")).id
        let job = try await m.createSegment("Engineers", rule: Rule.when("job_title", .contains, "engineer")).id
        let domain = try await m.createSegment("Acme", rule: Rule.when("email_domain", .equals, "acme.io")).id
        let combo = try await m.createSegment("Beta outside London", rule: Rule.all(
            Rule.when("tag", .equals, "beta"), Rule.not(Rule.when("custom.city", .equals, "london")))).id
        var p = try await w.contacts.createPerson("Ada", "Lovelace", email: "ada@example.com")
        let id = p.id
        func step(_ mask: [String], _ change: (inout CPerson) -> Void, _ expected: [String]) async throws {
            let before = try await w.membershipEvents().count
            p = try await w.update(p, mask, change)
            // A marker person entering the tag segment shows the change's events are all in.
            let marker = try await w.contacts.createPerson("Marker", "\(before)", tags: ["vip"])
            #expect(try await eventually { try await w.membershipEvents().contains("entered \(tagged) \(marker.id)") })
            let events = try await w.membershipEvents().dropFirst(before).filter { !$0.hasSuffix(" \(marker.id)") }
            #expect(events.sorted() == expected.sorted(), "after \(mask)")
        }
        try await step(["tags"], { $0.tags = ["vip"] }, ["entered \(tagged) \(id)"])
        try await step(["custom_fields"], { $0.customFields["city"] = .with { $0.text = "London" } }, ["entered \(city) \(id)"])
        try await step(["job_title"], { $0.jobTitle = "Chief Engineer" }, ["entered \(job) \(id)"])
        try await step(["emails"], { $0.emails = [.with { $0.address = "ada@ACME.io" }] }, ["entered \(domain) \(id)"])
        try await step(["tags"], { $0.tags = ["beta"] }, ["left \(tagged) \(id)"])
        try await step(["custom_fields"], { $0.customFields["city"] = .with { $0.text = "Paris" } },
                       ["left \(city) \(id)", "entered \(combo) \(id)"])
        try await step(["notes"], { $0.notes = "nothing a rule reads" }, [])
        try await step(["job_title"], { $0.jobTitle = "Poet" }, ["left \(job) \(id)"])
        _ = try await w.contacts.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = id }, as: CPerson.self)
        try await w.waitForMembers(domain, [])
        try await w.waitForMembers(combo, [])
        _ = try await w.contacts.call("RestorePerson", Crm_Contacts_V1_RestorePersonRequest.with { $0.id = id }, as: CPerson.self)
        try await w.waitForMembers(domain, [id])
        try await w.waitForMembers(combo, [id])
        let inCity = try await m.members(city), inJob = try await m.members(job)
        #expect(!inCity.contains(id) && !inJob.contains(id))
        // What upkeep holds is what a rebuild finds.
        for segment in [tagged, city, job, domain, combo] {
            let rebuilt = try await m.rebuild(segment)
            #expect(rebuilt.added == 0 && rebuilt.removed == 0, "segment \(segment)")
        }
    }
}
