import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
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

    /// Contacts files its own events as it publishes them; events it
    /// published before it did (an older contacts, or the mark of where
    /// inline filing began lost with a rolled-back call) reach the timeline
    /// through the bus instead, once each.
    @Test func ownEventsNotFiledInlineAreFiledFromTheBus() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var crmd: CrmdProcess? = try CrmdProcess(plugins: ["contacts"], dataDir: dataDir)
        var contacts = ContactsClient(connection: try crmd!.connect())
        let acme = try await contacts.createOrganization("Acme")
        let ada = try await contacts.createPerson("Ada", "Byron", organization: acme.id)
        let filed = try await contacts.timeline(person: ada.id, atLeast: 1)
        #expect(filed.map(\.topic) == ["contacts.contact.created"])
        _ = try crmd!.stop()
        crmd = nil

        // As an older contacts would have left it: no timeline, no mark, the
        // bus position at the start.
        let file = DatabaseFile(dataDir: dataDir)
        try file.execute("""
            DELETE FROM contacts_timeline; UPDATE contacts_timeline_state SET inline_from = NULL;
            UPDATE kernel_bus_positions SET position = 0 WHERE plugin = 'contacts'
            """)
        crmd = try CrmdProcess(plugins: ["contacts"], dataDir: dataDir)
        contacts = ContactsClient(connection: try crmd!.connect())
        let refiled = try await contacts.timeline(person: ada.id, atLeast: 1)
        #expect(refiled.map(\.sequence) == filed.map(\.sequence))
        let organization = try await contacts.timeline(organization: acme.id, atLeast: 2)
        #expect(organization.map(\.topic) == ["contacts.contact.created", "contacts.organization.created"])

        // New events are filed inline again and the mark is set. (Whether the bus
        // also tries to file them cannot be seen here: the unique index keeps one
        // entry either way; skipping them only saves the writer work.)
        let _: CPerson = try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = ada.id
            $0.person.jobTitle = "Analyst"
            $0.updateMask = ["job_title"]
        })
        let after = try await contacts.timeline(person: ada.id, atLeast: 2)
        #expect(after.map(\.topic) == ["contacts.contact.updated", "contacts.contact.created"])
        #expect(try file.rows("SELECT inline_from FROM contacts_timeline_state")[0][0] != "NULL")
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
