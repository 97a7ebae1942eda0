import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SwiftProtobuf
import Testing

/// The audit trail of contacts' writes (crmd's Audit/List) and erasure
/// reaching every copy: the trail, crmd's stored events, contacts' tables.
@Suite(.serialized) struct ContactsAuditTests {
    struct Change: Equatable, CustomStringConvertible {
        var field: String
        var old: String?
        var new: String?
        var description: String { "\(field): \(old ?? "-") -> \(new ?? "-")" }
    }

    struct Entry: CustomStringConvertible {
        var action: String
        var recordID: String
        var owner: String
        var user: String
        var changes: [Change]
        func change(_ field: String) -> Change? { changes.first { $0.field == field } }
        var description: String { "\(action) \(recordID) [\(changes.map(\.description).joined(separator: "; "))]" }
    }

    /// Audit/List for one record, oldest first (as an administrator).
    func trail(_ crmd: CrmdProcess, entity: String, id: some CustomStringConvertible) async throws -> [Entry] {
        let connection = try crmd.connect()
        var request = Crm_Kernel_V1_ListAuditRequest.with { $0.entity = entity; $0.recordID = "\(id)"; $0.pageSize = 1000 }
        var entries: [Entry] = []
        repeat {
            let page = try await connection.call("/crm.kernel.v1.Audit/List", request, as: Crm_Kernel_V1_ListAuditResponse.self)
            entries += page.entries.map { entry in
                Entry(action: entry.action, recordID: entry.recordID, owner: entry.owner, user: entry.user,
                      changes: entry.changes.map {
                          Change(field: $0.field, old: $0.hasOldValue ? $0.oldValue : nil, new: $0.hasNewValue ? $0.newValue : nil)
                      })
            }
            request.pageToken = page.nextPageToken
        } while !request.pageToken.isEmpty
        return entries.reversed()
    }

    /// Every stored event's payload (Events/Subscribe, replay only).
    func storedPayloads(_ crmd: CrmdProcess) async throws -> [(topic: String, payload: Data)] {
        var out: [(String, Data)] = []
        let request = Crm_Kernel_V1_SubscribeRequest.with { $0.topicPatterns = ["contacts.>"]; $0.replayOnly = true }
        // The connection must outlive the stream (a temporary would close it at once).
        let connection = try crmd.connect()
        for try await event in try connection.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
            out.append((event.topic, event.payload))
        }
        withExtendedLifetime(connection) {}
        return out
    }

    static let secrets = ["Lovelace", "ada@engines.example", "ada.l@home.example", "2071234567", "Analyst", "countess"]

    func holdsSecret(_ text: String) -> Bool { Self.secrets.contains { text.contains($0) } }

    /// Ada, at an organization with a colleague, merged with a twin: every
    /// copy contacts keeps (record, search keys, timelines, the colleague's
    /// organization timeline, idempotency fingerprints) is gone after
    /// erasure. Needs no kernel audit trail.
    @Test func erasureLeavesNoCopyInContactsTables() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let acme = try await contacts.createOrganization("Analytical Engines")
        let ada = try await contacts.createPerson("Ada", "Lovelace", email: "ada@engines.example", phone: "+44 20 7123 4567",
                                                  organization: acme.id, tags: ["countess"], key: "form-ada")
        let twin = try await contacts.createPerson("A.", "Lovelace", email: "ada.l@home.example", organization: acme.id)
        let colleague = try await contacts.createPerson("Charles", "Babbage", organization: acme.id)
        let _: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ada.id; $0.mergedID = twin.id
        })
        // The merged-away record holds no data of its own any more: its survivor does.
        await expectRPCError(.failedPrecondition, mentioning: "was merged into person \(ada.id)") {
            let _: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call(
                "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = twin.id; $0.reason = "wrong record" })
        }
        #expect(try await contacts.timeline(organization: acme.id, atLeast: 5).contains { $0.summary.contains("Lovelace") })
        let _: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = ada.id; $0.reason = "GDPR request 7" })

        let db = DatabaseFile(dataDir: crmd.dir + "/data")
        for secret in Self.secrets {
            let quoted = secret.replacingOccurrences(of: "'", with: "''")
            #expect(try db.rows("SELECT count(*) FROM contacts_people WHERE instr(data, '\(quoted)') > 0") == [["0"]], "\(secret)")
            #expect(try db.rows("SELECT count(*) FROM contacts_search WHERE instr(key, lower('\(quoted)')) > 0") == [["0"]], "\(secret)")
            #expect(try db.rows("""
                SELECT count(*) FROM contacts_timeline WHERE instr(payload, '\(quoted)') > 0 OR instr(summary, '\(quoted)') > 0
                """) == [["0"]], "\(secret)")
        }
        #expect(try db.rows("SELECT count(*) FROM contacts_search WHERE entity = 1 AND record_id IN (\(ada.id), \(twin.id))") == [["0"]])
        #expect(try db.rows("SELECT fingerprint FROM contacts_idempotency WHERE result_id = \(ada.id)") == [["NULL"]])
        // The organization keeps its timeline: its own entries whole, Ada's emptied.
        let remaining = try await contacts.timeline(organization: acme.id).entries
        #expect(remaining.contains { $0.summary == "Organization Analytical Engines created" })
        #expect(remaining.contains { $0.summary == "Contact Charles Babbage created" })
        #expect(remaining.filter { $0.summary == "[erased]" }.allSatisfy { $0.payload.isEmpty })
        #expect(remaining.filter { $0.summary == "[erased]" }.count >= 3, "\(remaining.map(\.summary))")
        // The key replays the tombstone rather than creating Ada again.
        let retried = try await contacts.createPerson("Ada", "Lovelace", email: "ada@engines.example", phone: "+44 20 7123 4567",
                                                      organization: acme.id, tags: ["countess"], key: "form-ada")
        #expect(retried.id == ada.id && retried.erasedUnixUs != 0)
        #expect(try await contacts.getPerson(colleague.id).lastName == "Babbage")
    }

    @Test func theTrailShowsEveryFieldChangeAndErasureRedactsIt() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts"])
        try await AccessSupport.createUser(crmd, "alice", roles: ["sales_rep"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let alice = Acting(contacts: contacts, user: "alice")
        let _: Crm_Contacts_V1_CustomFieldDefinition = try await contacts.call("DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
            $0.definition.entity = .person; $0.definition.key = "tier"; $0.definition.type = .text
        })
        let definition = try await trail(crmd, entity: "contacts.custom_field", id: "person.tier")
        #expect(definition.map(\.action) == ["create"] && definition.first?.change("type")?.new == "text", "\(definition)")
        let ada = try await alice.createPerson("Ada", "Lovelace", email: "ada@engines.example", phone: "+44 20 7123 4567",
                                               tags: ["countess"])
        let _: CPerson = try await alice.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = ada.id; $0.person.jobTitle = "Analyst"; $0.person.customFields = ["tier": .with { $0.text = "gold" }]
            $0.updateMask = ["job_title", "custom_fields"]
        })
        let twin = try await alice.createPerson("Ada", "Lovelace", email: "ada.l@home.example")
        let _: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ada.id; $0.mergedID = twin.id
        })

        let entries = try await trail(crmd, entity: "contacts.person", id: ada.id)
        #expect(entries.map(\.action) == ["create", "update", "merge"], "\(entries)")
        guard entries.count == 3 else { return }
        #expect(entries[0].owner == "alice" && entries.allSatisfy { $0.user == "alice" || $0.action == "merge" })
        #expect(entries[0].change("first_name") == Change(field: "first_name", old: nil, new: "Ada"))
        #expect(entries[0].change("emails") == Change(field: "emails", old: nil, new: "ada@engines.example"))
        #expect(entries[0].change("tags") == Change(field: "tags", old: nil, new: "countess"))
        #expect(entries[0].change("owner") == Change(field: "owner", old: nil, new: "alice"))
        #expect(entries[1].changes == [Change(field: "custom.tier", old: nil, new: "gold"),
                                       Change(field: "job_title", old: nil, new: "Analyst")], "\(entries[1])")
        #expect(entries[2].change("emails") == Change(field: "emails", old: "ada@engines.example",
                                                      new: "ada@engines.example; ada.l@home.example"))
        // Import rows and organization writes are audited as well.
        let imported = try await contacts.importRows(["first_name", "last_name", "organization"], "Mary,Somerville,Royal Society\r\n")
        #expect(imported.created == 1)
        let mary = try #require(try await contacts.search("mary somerville", .name).people.first)
        #expect(try await trail(crmd, entity: "contacts.person", id: mary.id).map(\.action) == ["create"])
        #expect(try await trail(crmd, entity: "contacts.organization", id: mary.organizationID).first?.change("name")?.new
            == "Royal Society")
        let merged = try await trail(crmd, entity: "contacts.person", id: twin.id)
        #expect(merged.map(\.action) == ["create", "merge"], "\(merged)")
        #expect(merged.last?.change("merged_into_id")?.new == "\(ada.id)")

        let _: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = ada.id; $0.reason = "GDPR request 7" })
        let after = try await trail(crmd, entity: "contacts.person", id: ada.id)
        #expect(after.map(\.action) == ["create", "update", "merge", "erase"], "\(after)")
        #expect(after.last?.change("first_name") == Change(field: "first_name", old: "[erased]", new: nil))
        let twinAfter = try await trail(crmd, entity: "contacts.person", id: twin.id)
        #expect(twinAfter.map(\.action) == ["create", "merge", "erase"], "\(twinAfter)")
        for entry in after + twinAfter {
            for change in entry.changes {
                #expect(!holdsSecret(change.old ?? "") && !holdsSecret(change.new ?? ""), "\(entry)")
            }
        }
        // crmd's stored events about Ada (and her merged twin) are emptied; the erased event, a tombstone, stays.
        let events = try await storedPayloads(crmd)
        #expect(events.contains { $0.topic == "contacts.contact.erased" && !$0.payload.isEmpty })
        for event in events {
            #expect(!holdsSecret(String(decoding: event.payload, as: UTF8.self)), "\(event.topic)")
        }
    }
}
