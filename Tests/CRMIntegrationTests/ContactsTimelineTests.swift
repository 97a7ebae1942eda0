import CRMClient
import CRMProto
import CRMWire
import Foundation
import Testing

/// Duplicates, merge and the customer timeline over the real socket.
@Suite struct ContactsTimelineTests {
    @Test func timelineListsEveryEventAboutAPersonNewestFirstAndPages() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let person = try await contacts.createPerson("Linus", "Pauling")
        for i in 1...5 {
            let _: CPerson = try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person.id = person.id
                $0.person.notes = "note \(i)"
                $0.updateMask = ["notes"]
            })
        }
        let entries = try await contacts.timeline(person: person.id, atLeast: 6)
        #expect(entries.map(\.topic) == Array(repeating: "contacts.contact.updated", count: 5) + ["contacts.contact.created"])
        #expect(entries.map(\.sequence) == entries.map(\.sequence).sorted(by: >))
        #expect(entries.last?.summary == "Contact Linus Pauling created")
        let event = try Crm_Contacts_V1_PersonEvent(serializedBytes: entries[0].payload)
        #expect(event.person.notes == "note 5" && event.changedFields == ["notes"])

        let first = try await contacts.timeline(person: person.id, pageSize: 4)
        let second = try await contacts.timeline(person: person.id, pageSize: 4, token: first.nextPageToken)
        #expect(first.entries.count == 4 && second.entries.count == 2 && second.nextPageToken.isEmpty)
        #expect((first.entries + second.entries).map(\.id) == entries.map(\.id))
        await expectRPCError(.invalidArgument, mentioning: "exactly one") { try await contacts.timeline() }
    }

    @Test func duplicatesAreFoundByEmailPhoneAndNameAtTheSameOrganization() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let acme = try await contacts.createOrganization("Acme")
        let a = try await contacts.createPerson("John", "Smith", email: "john@acme.example", organization: acme.id)
        let b = try await contacts.createPerson("Jon", "Smith", email: "JOHN@acme.example ", organization: acme.id)
        let c = try await contacts.createPerson("Jane", "Doe", phone: "+1 555 010 0200")
        let d = try await contacts.createPerson("J.", "Doe", phone: "+1 (555) 010-0200")
        _ = try await contacts.createPerson("Unique", "Person", email: "unique@example.com")
        let report: Crm_Contacts_V1_FindDuplicatesResponse = try await contacts.call(
            "FindDuplicates", Crm_Contacts_V1_FindDuplicatesRequest())
        let groups = Set(report.groups.map { "\($0.reason)|\($0.personIds)" })
        #expect(groups == ["email|\([a.id, b.id])", "nameAndOrganization|\([a.id, b.id])", "phone|\([c.id, d.id])"])
        let forC: Crm_Contacts_V1_FindDuplicatesResponse = try await contacts.call(
            "FindDuplicates", Crm_Contacts_V1_FindDuplicatesRequest.with { $0.personID = c.id })
        #expect(forC.groups.map(\.personIds) == [[c.id, d.id]])
    }

    @Test func mergeKeepsBothTimelinesAndEveryDetail() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let survivor = try await contacts.createPerson("Marie", "Curie", email: "marie@example.com", tags: ["nobel"])
        let merged = try await contacts.createPerson("M.", "Curie", email: "m.curie@example.com", phone: "+33 1 00 00 00 00",
                                                     tags: ["physics"])
        let _: CPerson = try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = merged.id
            $0.person.jobTitle = "Physicist"
            $0.updateMask = ["job_title"]
        })
        _ = try await contacts.timeline(person: merged.id, atLeast: 2)
        _ = try await contacts.timeline(person: survivor.id, atLeast: 1)

        let result: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor.id
            $0.mergedID = merged.id
        })
        #expect(result.emails.map(\.address) == ["marie@example.com", "m.curie@example.com"])
        #expect(result.phones.count == 1 && result.jobTitle == "Physicist" && result.tags == ["nobel", "physics"])
        let gone = try await contacts.getPerson(merged.id)
        #expect(gone.mergedIntoID == survivor.id && gone.deletedUnixUs > 0)
        #expect(try await contacts.search("m.curie@").people.map(\.id) == [survivor.id])

        // created ×2, updated, merged: every event of both people, on one timeline.
        let entries = try await contacts.timeline(person: survivor.id, atLeast: 4)
        #expect(entries.map(\.topic) == ["contacts.contact.merged", "contacts.contact.updated",
                                         "contacts.contact.created", "contacts.contact.created"])
        // The merged id still answers, with the survivor's timeline.
        #expect(try await contacts.timeline(person: merged.id, pageSize: 10).entries.map(\.id) == entries.map(\.id))
        await expectRPCError(.failedPrecondition, mentioning: "was merged into") {
            let _: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
                $0.survivorID = survivor.id
                $0.mergedID = merged.id
            })
        }
    }
}
