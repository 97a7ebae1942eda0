import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// A crmd with contacts and marketing, and typed clients for both.
struct SegmentWorld {
    let crmd: CrmdProcess
    let contacts: ContactsClient
    let marketing: MarketingClient

    static func start() async throws -> SegmentWorld {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        return SegmentWorld(crmd: crmd, contacts: ContactsClient(connection: connection),
                            marketing: MarketingClient(connection: connection))
    }

    /// Waits until the projection (filled by event delivery) shows `count` live people.
    func waitForPeople(_ count: Int64) async throws {
        let everyone = Rule.all()
        let ok = try await eventually { try await marketing.count(everyone) == count }
        #expect(ok, "projection did not reach \(count) people")
    }

    func waitForMembers(_ segment: Int64, _ expected: Set<Int64>, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var last: [Int64] = []
        let ok = try await eventually {
            last = try await marketing.members(segment)
            return Set(last) == expected && last.count == expected.count
        }
        #expect(ok, "segment \(segment) has \(last), expected \(expected.sorted())", sourceLocation: sourceLocation)
    }

    func update(_ person: CPerson, _ mask: [String], _ change: (inout CPerson) -> Void) async throws -> CPerson {
        var p = person
        change(&p)
        return try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person = p
            $0.updateMask = mask
        })
    }

    /// The membership events in the log, as "entered <segment> <person>".
    func membershipEvents() async throws -> [String] {
        let request = Crm_Kernel_V1_SubscribeRequest.with {
            $0.topicPatterns = ["marketing.segment.*"]
            $0.replayOnly = true
        }
        var out: [String] = []
        for try await event in try contacts.connection.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
            // Emptied by an erasure, or a build's summary (SegmentBuildTests reads those).
            if event.redacted || event.topic == "marketing.segment.built" { continue }
            let m = try Crm_Marketing_V1_SegmentMembershipEvent(serializedBytes: event.payload)
            #expect(m.about.personIds == [m.personID])
            out.append("\(event.topic.split(separator: ".").last!) \(m.segmentID) \(m.personID)")
        }
        return out
    }
}

@Suite struct SegmentTests {
    @Test func eachFieldAndOperatorFamilyMatchesTheRightPeople() async throws {
        let w = try await SegmentWorld.start()
        _ = try await w.contacts.call("DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
            $0.definition = .with { $0.entity = .person; $0.key = "score"; $0.type = .number }
        }, as: Crm_Contacts_V1_CustomFieldDefinition.self)
        _ = try await w.contacts.call("DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
            $0.definition = .with { $0.entity = .person; $0.key = "renewal"; $0.type = .date }
        }, as: Crm_Contacts_V1_CustomFieldDefinition.self)
        _ = try await w.contacts.call("DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
            $0.definition = .with { $0.entity = .person; $0.key = "city"; $0.type = .text }
        }, as: Crm_Contacts_V1_CustomFieldDefinition.self)
        let acme = try await w.contacts.createOrganization("Acme")
        func person(_ first: String, _ last: String, email: String, org: Int64 = 0, tags: [String] = [],
                    stage: Crm_Contacts_V1_LifecycleStage = .unspecified, job: String = "", source: String = "",
                    custom: [String: Crm_Contacts_V1_FieldValue] = [:]) async throws -> Int64 {
            let p: CPerson = try await w.contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
                $0.person.firstName = first
                $0.person.lastName = last
                $0.person.emails = [.with { $0.address = email }]
                $0.person.organizationID = org
                $0.person.tags = tags
                $0.person.lifecycleStage = stage
                $0.person.jobTitle = job
                $0.person.source = source
                $0.person.customFields = custom
            })
            return p.id
        }
        let ada = try await person("Ada", "Lovelace", email: "ada@acme.io", org: acme.id, tags: ["vip", "beta"], stage: .customer,
                                   job: "Chief Engineer", source: "web",
                                   custom: ["score": .with { $0.number = "12.50" }, "renewal": .with { $0.date = "2027-03-01" },
                                            "city": .with { $0.text = "London" }])
        let bob = try await person("Bob", "Byron", email: "bob@example.com", tags: ["beta"], stage: .lead, source: "fair",
                                   custom: ["score": .with { $0.number = "3" }, "renewal": .with { $0.date = "2026-01-10" }])
        let cy = try await person("Cy", "Lovelace", email: "cy@ACME.io", org: acme.id, stage: .other, job: "Engineer 50%")
        let dee = try await person("Dee", "Dunn", email: "dee@elsewhere.org")
        try await w.waitForPeople(4)
        let m = w.marketing
        func expect(_ rule: MSegmentRule, _ ids: [Int64], sourceLocation: SourceLocation = #_sourceLocation) async throws {
            #expect(try await m.preview(rule) == ids.sorted(), sourceLocation: sourceLocation)
            #expect(try await m.count(rule) == Int64(ids.count), sourceLocation: sourceLocation)
        }
        // Text: equals (case-insensitive), not equals, contains, starts with, in, not in, set, not set.
        try await expect(Rule.when("last_name", .equals, "lovelace"), [ada, cy])
        try await expect(Rule.when("last_name", .notEquals, "Lovelace"), [bob, dee])
        try await expect(Rule.when("job_title", .contains, "engineer"), [ada, cy])
        try await expect(Rule.when("job_title", .contains, "50%"), [cy])  // % matches itself
        try await expect(Rule.when("job_title", .contains, "%"), [cy])
        try await expect(Rule.when("first_name", .startsWith, "b"), [bob])
        try await expect(Rule.when("email_domain", .equals, "acme.io"), [ada, cy])
        try await expect(Rule.when("email", .in, values: ["BOB@example.com", "dee@elsewhere.org"]), [bob, dee])
        try await expect(Rule.when("source", .notIn, values: ["web"]), [bob, cy, dee])
        try await expect(Rule.when("source", .isSet), [ada, bob])
        try await expect(Rule.when("job_title", .isNotSet), [bob, dee])
        // Lifecycle stage: names with or without prefix, funnel order (OTHER is on no side).
        try await expect(Rule.when("lifecycle_stage", .equals, "CUSTOMER"), [ada])
        try await expect(Rule.when("lifecycle_stage", .in, values: ["LIFECYCLE_STAGE_LEAD", "other"]), [bob, cy])
        try await expect(Rule.when("lifecycle_stage", .greaterThan, "SUBSCRIBER"), [ada, bob])
        try await expect(Rule.when("lifecycle_stage", .lessThan, "CUSTOMER"), [bob])
        try await expect(Rule.when("lifecycle_stage", .isNotSet), [dee])
        // Organization.
        try await expect(Rule.when("organization_id", .equals, String(acme.id)), [ada, cy])
        try await expect(Rule.when("organization_id", .isNotSet), [bob, dee])
        // Tags.
        try await expect(Rule.when("tag", .equals, "VIP"), [ada])
        try await expect(Rule.when("tag", .notEquals, "beta"), [cy, dee])
        try await expect(Rule.when("tag", .in, values: ["vip", "beta"]), [ada, bob])
        try await expect(Rule.when("tag", .notIn, values: ["vip"]), [bob, cy, dee])
        try await expect(Rule.when("tag", .startsWith, "be"), [ada, bob])
        try await expect(Rule.when("tag", .isSet), [ada, bob])
        try await expect(Rule.when("tag", .isNotSet), [cy, dee])
        // Custom fields: numbers by value, dates, text.
        try await expect(Rule.when("custom.score", .equals, "12.5"), [ada])
        try await expect(Rule.when("custom.score", .greaterThan, "5"), [ada])
        try await expect(Rule.when("custom.score", .lessThan, "5"), [bob])
        try await expect(Rule.when("custom.renewal", .greaterThan, "2026-06-01"), [ada])
        try await expect(Rule.when("custom.city", .equals, "london"), [ada])
        try await expect(Rule.when("custom.city", .isNotSet), [bob, cy, dee])
        try await expect(Rule.when("custom.score", .isSet), [ada, bob])
        // Consent: no row is UNSPECIFIED (never asked).
        try await expect(Rule.when("consent.email", .equals, "UNSPECIFIED"), [ada, bob, cy, dee])
        try await expect(Rule.when("consent.sms", .equals, "CONSENT_STATUS_SUBSCRIBED"), [])
        try await expect(Rule.when("consent.email", .notIn, values: ["SUBSCRIBED", "PENDING_CONFIRMATION"]), [ada, bob, cy, dee])
        // and / or / not, nested.
        try await expect(Rule.all(Rule.when("last_name", .equals, "Lovelace"), Rule.when("tag", .equals, "vip")), [ada])
        try await expect(Rule.any(Rule.when("tag", .equals, "vip"), Rule.when("first_name", .equals, "Dee")), [ada, dee])
        try await expect(Rule.not(Rule.any(Rule.when("tag", .isSet), Rule.when("organization_id", .isSet))), [dee])
        try await expect(Rule.all(Rule.not(Rule.when("email_domain", .equals, "acme.io")),
                                  Rule.any(Rule.when("source", .equals, "fair"), Rule.when("source", .isNotSet))), [bob, dee])
        try await expect(Rule.any(), [])
        try await expect(Rule.all(), [ada, bob, cy, dee])
    }

    @Test func badRulesNameTheFieldAndItsPath() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        let cases: [(MSegmentRule, String)] = [
            (Rule.all(Rule.when("first_name", .equals, "a"), Rule.when("last_name", .equals, "b"), Rule.when("shoe_size", .equals, "9")),
             "rule.all[2].condition.field: unknown field \"shoe_size\""),
            (Rule.any(Rule.not(Rule.when("tag", .greaterThan, "x"))), "rule.any[0].not.condition.op: GREATER_THAN does not apply to tag"),
            (Rule.when("email", .unspecified, "x"), "rule.condition.op: set an operator"),
            (Rule.when("email", .contains), "rule.condition.value is required for CONTAINS"),
            (Rule.when("email", .in, "x"), "rule.condition.value: IN takes values, not value"),
            (Rule.when("email", .in), "rule.condition.values: IN takes 1 to 100 values"),
            (Rule.when("email", .isSet, "x"), "rule.condition.value: IS_SET takes no value"),
            (Rule.when("lifecycle_stage", .equals, "ASLEEP"), "rule.condition.value: \"ASLEEP\" is not a lifecycle stage"),
            (Rule.when("organization_id", .equals, "-3"), "rule.condition.value must be a positive id"),
            (Rule.when("consent.email", .in, values: ["SUBSCRIBED", "MAYBE"]), "rule.condition.values[1]: \"MAYBE\" is not a consent status"),
            (Rule.when("custom.Bad-Key", .equals, "1"), "rule.condition.field: custom field key must match"),
            (Rule.when("custom.score", .greaterThan, "lots"), "rule.condition.value: GREATER_THAN takes a number or a date"),
            (Rule.when("engagement.opened", .equals, "5"), "rule.condition.op: EQUALS does not apply to engagement.opened"),
            (MSegmentRule.with { $0.condition = .with { $0.field = "engagement.clicked"; $0.op = .isSet; $0.withinDays = 4000 } },
             "rule.condition.within_days must be 0 (ever) to 3650"),
            (MSegmentRule.with { $0.condition = .with { $0.field = "engagement.clicked"; $0.op = .isSet; $0.campaignID = -1 } },
             "rule.condition.campaign_id must not be negative"),
            (Rule.all(MSegmentRule()), "rule.all[0]: set one of condition, all, any, not"),
        ]
        for (rule, message) in cases {
            await expectRPCError(.invalidArgument, mentioning: message) { try await m.count(rule) }
        }
        // Depth and size bounds.
        var deep = Rule.when("tag", .isSet)
        for _ in 0..<10 { deep = Rule.not(deep) }
        await expectRPCError(.invalidArgument, mentioning: "rules nest at most 10 levels deep") { try await m.count(deep) }
        let many = MSegmentRule.with { $0.any = .with { $0.rules = Array(repeating: Rule.when("tag", .isSet), count: 201) } }
        await expectRPCError(.invalidArgument, mentioning: "rule.any[199]: a rule holds at most 200 conditions and groups") {
            try await m.count(many)
        }
        // Empty groups count too (they would otherwise nest into megabytes of SQL).
        let empties = MSegmentRule.with { $0.any = .with { $0.rules = Array(repeating: MSegmentRule.with { $0.all = .init() }, count: 200) } }
        await expectRPCError(.invalidArgument, mentioning: "rule.any[199].all: a rule holds at most 200 conditions and groups") {
            try await m.count(empties)
        }
        // A saved segment's rule is checked the same way, and an update names segment.rule.
        await expectRPCError(.invalidArgument, mentioning: "rule.condition.field: unknown field") {
            try await m.createSegment("Bad", rule: Rule.when("nope", .isSet))
        }
        let good = try await m.createSegment("Good", rule: Rule.when("tag", .isSet))
        await expectRPCError(.invalidArgument, mentioning: "segment.rule.all[0].condition.op") {
            try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
                $0.segment.id = good.id
                $0.segment.rule = Rule.all(Rule.when("tag", .lessThan, "x"))
            }, as: Crm_Marketing_V1_Segment.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "rule: set one of condition, all, any, not") { try await m.count(MSegmentRule()) }
    }

    @Test func peopleEnterAndLeaveARuleSegmentAsContactsChangeThem() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        let vips = try await m.createSegment("VIPs", rule: Rule.when("tag", .equals, "vip"))
        let ada = try await w.contacts.createPerson("Ada", "Lovelace", tags: ["vip"])
        let bob = try await w.contacts.createPerson("Bob", "Byron")
        try await w.waitForMembers(vips.id, [ada.id])
        // Bob gains the tag: enters; Ada loses it: leaves.
        _ = try await w.update(bob, ["tags"]) { $0.tags = ["vip"] }
        _ = try await w.update(ada, ["tags"]) { $0.tags = [] }
        try await w.waitForMembers(vips.id, [bob.id])
        // Deleted: leaves; restored: enters again.
        _ = try await w.contacts.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = bob.id }, as: CPerson.self)
        try await w.waitForMembers(vips.id, [])
        _ = try await w.contacts.call("RestorePerson", Crm_Contacts_V1_RestorePersonRequest.with { $0.id = bob.id }, as: CPerson.self)
        try await w.waitForMembers(vips.id, [bob.id])
        let events = try await w.membershipEvents()
        let s = vips.id
        #expect(events == ["entered \(s) \(ada.id)", "entered \(s) \(bob.id)", "left \(s) \(ada.id)",
                           "left \(s) \(bob.id)", "entered \(s) \(bob.id)"])
        #expect(try await m.getSegment(s).memberCount == 1)
        // An unrelated change publishes nothing.
        _ = try await w.update(try await w.contacts.getPerson(bob.id), ["job_title"]) { $0.jobTitle = "Poet" }
        let marker = try await w.contacts.createPerson("Marker", "Done", tags: ["vip"])
        try await w.waitForMembers(s, [bob.id, marker.id])
        #expect(try await w.membershipEvents().count == 6)
    }

    @Test func rebuildAgreesWithIncrementalUpkeep() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        let rule = Rule.any(Rule.when("last_name", .startsWith, "S"), Rule.when("tag", .equals, "x"))
        let early = try await m.createSegment("Early", rule: rule)
        var ids: [Int64] = []
        for i in 0..<30 {
            let p = try await w.contacts.createPerson("P\(i)", i % 3 == 0 ? "Smith\(i)" : "Jones\(i)", tags: i % 5 == 0 ? ["x"] : [])
            ids.append(p.id)
        }
        let expected = Set(ids.enumerated().filter { $0.offset % 3 == 0 || $0.offset % 5 == 0 }.map(\.element))
        try await w.waitForPeople(30)
        try await w.waitForMembers(early.id, expected)
        // Built at creation from the projection: the same members.
        let late = try await m.createSegment("Late", rule: rule)
        #expect(Set(try await m.members(late.id)) == expected)
        #expect(late.memberCount == Int64(expected.count))
        let rebuilt = try await m.rebuild(early.id)
        #expect(rebuilt.added == 0 && rebuilt.removed == 0)
        #expect(rebuilt.memberCount == Int64(expected.count))
        // A rule change rebuilds in the update's transaction.
        let updated: Crm_Marketing_V1_Segment = try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
            $0.segment.id = late.id
            $0.segment.rule = Rule.when("tag", .equals, "x")
            $0.expectedVersion = late.version
        })
        #expect(updated.version == late.version + 1)
        #expect(updated.memberCount == 6)
        #expect(Set(try await m.members(late.id)) == Set(ids.enumerated().filter { $0.offset % 5 == 0 }.map(\.element)))
        await expectRPCError(.failedPrecondition, mentioning: "only RULE segments rebuild") {
            try await m.rebuild(try await m.createSegment("A list", list: true).id)
        }
        await expectRPCError(.notFound, mentioning: "segment_id: segment 999 does not exist") { try await m.rebuild(999) }
    }

    @Test func staticListsTakePeopleByHand() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        let list = try await m.createSegment("Newsletter", list: true)
        let ada = try await w.contacts.createPerson("Ada", "Lovelace")
        let bob = try await w.contacts.createPerson("Bob", "Byron")
        // Added at once, before the projection has seen them: contacts is asked.
        let added = try await m.addMembers(list.id, [ada.id, bob.id, ada.id])
        #expect(added.added == 2 && added.memberCount == 2)
        #expect(try await m.addMembers(list.id, [ada.id]).added == 0)
        #expect(Set(try await m.members(list.id)) == [ada.id, bob.id])
        let removed = try await m.removeMembers(list.id, [bob.id, 12345])
        #expect(removed.removed == 1 && removed.memberCount == 1)
        await expectRPCError(.notFound, mentioning: "person_ids[1]: person 999 does not exist") {
            try await m.addMembers(list.id, [bob.id, 999])
        }
        #expect(try await m.members(list.id) == [ada.id])  // the failed call added nothing
        await expectRPCError(.invalidArgument, mentioning: "person_ids takes 1 to 1000 ids") {
            try await m.addMembers(list.id, Array(1...1001))
        }
        await expectRPCError(.invalidArgument, mentioning: "person_ids takes 1 to 1000 ids") { try await m.addMembers(list.id, []) }
        await expectRPCError(.invalidArgument, mentioning: "person_ids[0]") { try await m.addMembers(list.id, [-4]) }
        let rules = try await m.createSegment("Rules", rule: Rule.when("tag", .isSet))
        await expectRPCError(.failedPrecondition, mentioning: "is a RULE segment") { try await m.addMembers(rules.id, [ada.id]) }
        await expectRPCError(.invalidArgument, mentioning: "rule: a LIST segment has no rule") {
            try await m.createSegment("Listy", rule: Rule.when("tag", .isSet), list: true)
        }
        await expectRPCError(.failedPrecondition, mentioning: "is a LIST; it has no rule") {
            try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
                $0.segment.id = list.id
                $0.segment.rule = Rule.when("tag", .isSet)
            }, as: Crm_Marketing_V1_Segment.self)
        }
        // A deleted person leaves the list.
        _ = try await w.contacts.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = ada.id }, as: CPerson.self)
        try await w.waitForMembers(list.id, [])
        await expectRPCError(.notFound, mentioning: "person \(ada.id) does not exist") { try await m.addMembers(list.id, [ada.id]) }
    }

    @Test func mergesMoveListMembershipAndErasureLeavesEverything() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        let list = try await m.createSegment("Webinar", list: true)
        let rule = try await m.createSegment("Lovelaces", rule: Rule.when("last_name", .equals, "Lovelace"))
        let survivor = try await w.contacts.createPerson("Ada", "Lovelace")
        let merged = try await w.contacts.createPerson("Ada", "Lovelace", tags: ["dup"])
        _ = try await m.addMembers(list.id, [merged.id])
        try await w.waitForMembers(rule.id, [survivor.id, merged.id])
        _ = try await w.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor.id
            $0.mergedID = merged.id
        }, as: CPerson.self)
        try await w.waitForMembers(list.id, [survivor.id])
        try await w.waitForMembers(rule.id, [survivor.id])
        // The survivor gained the tag in the merge.
        #expect(try await m.preview(Rule.when("tag", .equals, "dup")) == [survivor.id])
        _ = try await w.contacts.call("ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with {
            $0.id = survivor.id
            $0.reason = "GDPR request"
        }, as: Crm_Contacts_V1_ErasePersonResponse.self)
        try await w.waitForMembers(list.id, [])
        try await w.waitForMembers(rule.id, [])
        #expect(try await m.count(Rule.all()) == 0)
        #expect(try await m.getSegment(list.id).memberCount == 0)
        let events = try await w.membershipEvents()
        #expect(events.suffix(2).sorted() == ["left \(list.id) \(survivor.id)", "left \(rule.id) \(survivor.id)"].sorted())
    }

    @Test func segmentWritesCheckNamesVersionsAndKeys() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        let first = try await m.createSegment("Customers", rule: Rule.when("lifecycle_stage", .equals, "CUSTOMER"), key: "k1")
        #expect(first.version == 1 && first.kind == .rule)
        // The same key and request: the first answer, no second segment.
        let retry = try await m.createSegment("Customers", rule: Rule.when("lifecycle_stage", .equals, "CUSTOMER"), key: "k1")
        #expect(retry.id == first.id)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k1\" was already used") {
            try await m.createSegment("Other", rule: Rule.when("tag", .isSet), key: "k1")
        }
        await expectRPCError(.alreadyExists, mentioning: "name: segment \(first.id) is already called") {
            try await m.createSegment("  customers ", list: true)
        }
        await expectRPCError(.invalidArgument, mentioning: "name") { try await m.createSegment(" ", list: true) }
        await expectRPCError(.invalidArgument, mentioning: "kind must be") {
            try await m.call("CreateSegment", Crm_Marketing_V1_CreateSegmentRequest.with { $0.name = "x" }, as: Crm_Marketing_V1_Segment.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "rule is required for a RULE segment") { try await m.createSegment("Empty") }
        let renamed: Crm_Marketing_V1_Segment = try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
            $0.segment.id = first.id
            $0.segment.name = "Paying customers"
            $0.segment.description_p = "stage CUSTOMER"
            $0.expectedVersion = 1
        })
        #expect(renamed.name == "Paying customers" && renamed.version == 2 && renamed.rule == first.rule)
        await expectRPCError(.aborted, mentioning: "segment \(first.id) is at version 2, not the expected_version 1") {
            try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
                $0.segment.id = first.id
                $0.segment.name = "Stale"
                $0.expectedVersion = 1
            }, as: Crm_Marketing_V1_Segment.self)
        }
        let other = try await m.createSegment("Other list", list: true)
        await expectRPCError(.alreadyExists, mentioning: "already called") {
            try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
                $0.segment.id = other.id
                $0.segment.name = "PAYING CUSTOMERS"
            }, as: Crm_Marketing_V1_Segment.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "update_mask: \"kind\" cannot be updated here") {
            try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
                $0.segment.id = other.id
                $0.updateMask = ["kind"]
            }, as: Crm_Marketing_V1_Segment.self)
        }
        await expectRPCError(.notFound, mentioning: "segment.id: segment 777 does not exist") {
            try await m.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
                $0.segment.id = 777
                $0.segment.name = "x"
            }, as: Crm_Marketing_V1_Segment.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "id must be a positive") { try await m.getSegment(-1) }
        // Paging: 12 segments in pages of 5, by id.
        for i in 0..<10 { _ = try await m.createSegment("List \(i)", list: true) }
        var seen: [Int64] = []
        var token = ""
        var pages = 0
        repeat {
            let page: Crm_Marketing_V1_ListSegmentsResponse = try await m.call("ListSegments", Crm_Marketing_V1_ListSegmentsRequest.with {
                $0.pageSize = 5
                $0.pageToken = token
            })
            seen += page.segments.map(\.id)
            token = page.nextPageToken
            pages += 1
        } while !token.isEmpty
        #expect(seen.count == 12 && seen == seen.sorted() && pages == 3)
        let lists: Crm_Marketing_V1_ListSegmentsResponse = try await m.call("ListSegments", Crm_Marketing_V1_ListSegmentsRequest.with {
            $0.kind = .rule
        })
        #expect(lists.segments.map(\.id) == [first.id])
        await expectRPCError(.invalidArgument, mentioning: "page_token") {
            try await m.call("ListSegments", Crm_Marketing_V1_ListSegmentsRequest.with { $0.pageToken = "garbage!" },
                             as: Crm_Marketing_V1_ListSegmentsResponse.self)
        }
        // Delete: gone, and its name free again.
        let deleted: Crm_Marketing_V1_Segment = try await m.call("DeleteSegment", Crm_Marketing_V1_DeleteSegmentRequest.with { $0.id = other.id })
        #expect(deleted.name == "Other list")
        await expectRPCError(.notFound, mentioning: "does not exist") { try await m.getSegment(other.id) }
        _ = try await m.createSegment("Other list", list: true)
    }

    @Test func membersAndPreviewsPageByPersonId() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        var ids: [Int64] = []
        for i in 0..<23 { ids.append(try await w.contacts.createPerson("P\(i)", "Pager", tags: ["t"]).id) }
        try await w.waitForPeople(23)
        let segment = try await m.createSegment("Paged", rule: Rule.when("tag", .equals, "t"))
        #expect(try await m.members(segment.id, pageSize: 5) == ids.sorted())
        #expect(try await m.preview(Rule.when("tag", .equals, "t"), pageSize: 4) == ids.sorted())
        let page: Crm_Marketing_V1_SegmentMembersResponse = try await m.call("ListSegmentMembers", Crm_Marketing_V1_ListSegmentMembersRequest.with {
            $0.segmentID = segment.id
            $0.pageSize = 1
        })
        #expect(page.members.first?.firstName == "P0" && page.members.first?.lastName == "Pager")
        #expect(page.members.first.map { $0.sinceUnixUs > 0 } == true)
        await expectRPCError(.invalidArgument, mentioning: "page_size must not be negative") {
            try await m.call("ListSegmentMembers", Crm_Marketing_V1_ListSegmentMembersRequest.with {
                $0.segmentID = segment.id
                $0.pageSize = -1
            }, as: Crm_Marketing_V1_SegmentMembersResponse.self)
        }
        await expectRPCError(.notFound, mentioning: "segment_id: segment 4242 does not exist") { try await m.members(4242) }
    }

    @Test func syncPeoplePagesThroughContactsAndChangesNothingWhenInStep() async throws {
        let w = try await SegmentWorld.start()
        let m = w.marketing
        for i in 0..<7 { _ = try await w.contacts.createPerson("S\(i)", "Synced", tags: ["s"]) }
        try await w.waitForPeople(7)
        let segment = try await m.createSegment("Synced", rule: Rule.when("tag", .equals, "s"))
        var token = ""
        var synced: Int64 = 0
        var calls = 0
        repeat {
            let page: Crm_Marketing_V1_SyncPeopleResponse = try await m.call("SyncPeople", Crm_Marketing_V1_SyncPeopleRequest.with {
                $0.pageSize = 3
                $0.pageToken = token
            })
            synced += page.synced
            // Everyone was already in step: a sync changes nothing.
            #expect(page.entered == 0 && page.left == 0)
            token = page.nextPageToken
            calls += 1
        } while !token.isEmpty
        #expect(synced == 7 && calls == 3)
        #expect(try await m.getSegment(segment.id).memberCount == 7)
    }
}
