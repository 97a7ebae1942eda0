import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// CountRule counts a rule with a tag or custom-field EQUALS from that
/// index (a join) instead of scanning every person: the count must stay
/// exactly what a build of the same rule holds, for the caller's scope, with
/// deleted and merged-away people left out.
@Suite struct SegmentCountTests {
    @Test func countRuleAgreesWithTheBuiltSegmentForIndexedAndScannedRules() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        let contacts = ContactsClient(connection: connection)
        let admin = MarketingClient(connection: connection)
        for (key, type) in [("score", Crm_Contacts_V1_FieldType.number), ("city", .text)] {
            _ = try await contacts.call("DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
                $0.definition = .with { $0.entity = .person; $0.key = key; $0.type = type }
            }, as: Crm_Contacts_V1_CustomFieldDefinition.self)
        }
        // 36 people: owners alternate, tags and fields cycle, some in two cases.
        var ids: [Int64] = []
        for i in 0..<36 {
            let p: CPerson = try await contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
                $0.person.firstName = "P\(i)"
                $0.person.lastName = i % 4 == 0 ? "Lovelace" : "Hopper"
                $0.person.owner = i % 2 == 0 ? "alice" : "bob"
                $0.person.tags = i % 3 == 0 ? ["vip"] : i % 3 == 1 ? ["VIP", "beta"] : []
                if i % 5 == 0 && i % 3 != 1 { $0.person.tags.append("beta") }
                if i % 4 != 3 { $0.person.customFields["score"] = .with { $0.number = i % 4 == 1 ? "2.50" : "\(i % 4)" } }
                $0.person.customFields["city"] = .with { $0.text = i % 2 == 0 ? "London" : "Paris" }
            })
            ids.append(p.id)
        }
        // Gone: deleted people, and one merged into another (the survivor keeps its tags, gains the other's).
        var gone: Set<Int> = []
        for i in [7, 12, 21] {
            _ = try await contacts.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = ids[i] }, as: CPerson.self)
            gone.insert(i)
        }
        _ = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ids[2]
            $0.mergedID = ids[3]
        }, as: CPerson.self)
        gone.insert(3)
        let liveCount = Int64(36 - gone.count)
        #expect(try await eventually { try await admin.count(Rule.all()) == liveCount })

        _ = try await connection.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "segment_reader"
            $0.permissions = [.with { $0.permission = "marketing.segment.read"; $0.scope = .all },
                              .with { $0.permission = "contacts.person.read"; $0.scope = .own }]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(crmd, "alice", roles: ["segment_reader"])
        let alice = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("alice"))

        let vip = Rule.when("tag", .equals, "vip")
        let rules: [(String, MSegmentRule)] = [
            ("tag vip", vip),
            ("tag VIP, spaced", Rule.when("tag", .equals, "  VIP ")),
            ("tag nobody has", Rule.when("tag", .equals, "nobody")),
            ("score 2.5 by value", Rule.when("custom.score", .equals, "2.5")),
            ("score 0", Rule.when("custom.score", .equals, "0")),
            ("city london, text", Rule.when("custom.city", .equals, "london")),
            ("vip and Lovelace", Rule.all(vip, Rule.when("last_name", .equals, "Lovelace"))),
            ("not vip and score 2", Rule.all(Rule.not(vip), Rule.when("custom.score", .equals, "2"))),
            ("one-part any of a nested all", Rule.any(Rule.all(Rule.when("custom.city", .equals, "Paris"), vip))),
            ("vip or beta (scanned)", Rule.any(vip, Rule.when("tag", .equals, "beta"))),
            ("not vip (scanned)", Rule.not(vip)),
        ]
        var counted: [String: Int64] = [:]
        for (name, rule) in rules {
            let segment = try await admin.createSegment(name, rule: rule)
            #expect(try await eventually { try await admin.getSegment(segment.id).build.state == .built }, "\(name)")
            let members = try await admin.members(segment.id)
            let count = try await admin.count(rule)
            let built = try await admin.getSegment(segment.id).memberCount
            let previewed = try await admin.preview(rule).count
            #expect(count == Int64(members.count), "\(name): CountRule \(count), built \(members.count)")
            #expect(count == built, "\(name)")
            #expect(count == Int64(previewed), "\(name)")
            // In alice's scope (her own people): the same people as her view of the segment.
            let hers = try await alice.members(segment.id)
            let herCount = try await alice.count(rule)
            let herBuilt = try await alice.getSegment(segment.id).memberCount
            #expect(herCount == Int64(hers.count), "\(name): alice")
            #expect(herCount == herBuilt, "\(name): alice")
            counted[name] = count
        }
        // The counts themselves, from the data above: vip is i % 3 in {0, 1} (both cases), less the gone.
        let live = (0..<36).filter { !gone.contains($0) }
        let vips = live.filter { $0 % 3 != 2 || $0 == 2 }  // 2 gained "vip" from 3 in the merge
        #expect(counted["tag vip"] == Int64(vips.count))
        #expect(counted["tag VIP, spaced"] == Int64(vips.count))
        #expect(counted["tag nobody has"] == 0)
        #expect(counted["score 2.5 by value"] == Int64(live.filter { $0 % 4 == 1 }.count))
        #expect(counted["city london, text"] == Int64(live.filter { $0 % 2 == 0 }.count))
        #expect(counted["vip and Lovelace"] == Int64(vips.filter { $0 % 4 == 0 }.count))
        let aliceVips = try await alice.count(vip)
        #expect(aliceVips == Int64(vips.filter { $0 % 2 == 0 }.count))
    }
}
