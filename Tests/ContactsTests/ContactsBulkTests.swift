import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import Testing

/// CSV import and export, and GDPR export and erase, over the real socket.
@Suite struct ContactsBulkTests {
    func importRows(_ contacts: ContactsClient, _ header: [String], _ csv: String, mapping: [String: String] = [:],
                    dryRun: Bool = false) async throws -> Crm_Contacts_V1_ImportPeopleResponse {
        try await contacts.call("ImportPeople", Crm_Contacts_V1_ImportPeopleRequest.with {
            $0.header = header
            $0.csv = csv
            $0.mapping = mapping
            $0.dryRun = dryRun
        })
    }

    @Test func importReportsBadRowsImportsTheRestAndReimportsIdempotently() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let header = ["Given", "last_name", "email", "organization", "tags", "external_id", "shoe"]
        let csv = #"""
            Ada,Lovelace,ada@example.com,Engines Ltd,vip;math,crm-1,
            "Grace ""Amazing""",Hopper,grace@example.com,Navy,,crm-2,
            Bad,Email,not-an-email,,,crm-3,
            ,,,,,crm-4,
            Short,Row
            Alan,Turing,alan@example.com,Engines Ltd,,crm-5,

            """#
        let mapping = ["Given": "first_name", "shoe": ""]
        let dry = try await importRows(contacts, header, csv, mapping: mapping, dryRun: true)
        #expect(dry.created == 3 && dry.failed == 3)
        let listed: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest())
        #expect(listed.people.isEmpty, "a dry run writes nothing")

        let first = try await importRows(contacts, header, csv, mapping: mapping)
        #expect(first.created == 3 && first.updated == 0 && first.failed == 3)
        #expect(first.errors.map(\.row) == [4, 5, 6])
        #expect(first.errors[0].column == "email" && first.errors[0].message.contains("not an email address"))
        #expect(first.errors[1].message.contains("last_name or person.first_name is required"))
        #expect(first.errors[2].message.contains("has 2 columns, the header has 7"))
        let grace = try await contacts.search("grace@").people
        #expect(grace.map(\.firstName) == ["Grace \"Amazing\""])
        let engines = try await contacts.search("engines", .organization).people
        #expect(Set(engines.map(\.lastName)) == ["Lovelace", "Turing"])
        #expect(engines[0].organizationID == engines[1].organizationID, "one organization per name")

        let again = try await importRows(contacts, header, csv, mapping: mapping)
        #expect(again.created == 0 && again.updated == 0 && again.unchanged == 3)
        let changed = try await importRows(contacts, header, "Ada,King,ada@example.com,Engines Ltd,vip,crm-1,\n",
                                           mapping: mapping)
        #expect(changed.updated == 1)
        let all: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest())
        #expect(all.people.map(\.lastName) == ["Hopper", "King", "Turing"])

        await expectRPCError(.invalidArgument, mentioning: "mapping[\"Given\"]") {
            try await importRows(contacts, header, "", mapping: ["Given": "shoe_size"])
        }
        await expectRPCError(.invalidArgument, mentioning: "not closed") {
            try await importRows(contacts, header, "\"open,quote\n")
        }
    }

    @Test func exportStreamsCsvThatImportsBackAndCrmctlDrivesBoth() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let dir = crmd.dir
        var csv = "first_name,last_name,email,tags,external_id\n"
        for i in 0..<1_234 { csv += "P\(i),\"Last, \(i)\",p\(i)@example.com,\(i % 2 == 0 ? "even" : "odd"),ext-\(i)\n" }
        csv += "Broken,Row,broken-email,,ext-x\n"
        try csv.write(toFile: dir + "/in.csv", atomically: true, encoding: .utf8)
        let imported = try CrmctlRun.run(["contacts", "import", dir + "/in.csv", "--batch", "500"], socket: crmd.socketPath)
        #expect(imported.status == 3, "a failed row makes the exit status INVALID_ARGUMENT")
        #expect(imported.stdout.contains("1235 rows") && imported.stdout.contains("1234 created"))
        #expect(imported.stderr.contains("row 1236, column email:"))

        let exported = try CrmctlRun.run(["contacts", "export", "--tag", "even", "-o", dir + "/out.csv"], socket: crmd.socketPath)
        #expect(exported.status == 0 && exported.stdout == "617 people exported to \(dir)/out.csv\n")
        let text = try String(contentsOfFile: dir + "/out.csv", encoding: .utf8)
        let lines = text.split(separator: "\r\n")
        #expect(lines.count == 618)
        #expect(lines[0].hasPrefix("id,external_id,first_name,last_name,email,phone,"))
        #expect(text.contains(",ext-0,P0,\"Last, 0\",p0@example.com,"))

        let reimport = try CrmctlRun.run(["contacts", "import", dir + "/out.csv"], socket: crmd.socketPath)
        #expect(reimport.status == 0)
        #expect(reimport.stdout.contains("617 rows") && reimport.stdout.contains("0 created, 0 updated, 617 unchanged"))
    }

    @Test func erasureLeavesATombstoneAnAuditRecordAndNoPersonalData() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let person = try await contacts.createPerson("Erin", "Erasable", email: "erin@example.com", phone: "+49 30 1234567",
                                                     tags: ["secret"])
        let twin = try await contacts.createPerson("E.", "Erasable", email: "erin.e@example.com")
        let _: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = person.id
            $0.mergedID = twin.id
        })
        _ = try await contacts.timeline(person: person.id, atLeast: 3)

        let export: Crm_Contacts_V1_PersonDataExport = try await contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = person.id })
        #expect(export.person.emails.count == 2 && export.timeline.count >= 3 && export.modules.isEmpty)

        await expectRPCError(.invalidArgument, mentioning: "reason is required") {
            let _: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call(
                "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = person.id })
        }
        let erased: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = person.id; $0.reason = "GDPR request 118" })
        #expect(erased.auditID > 0 && erased.tombstone.erasedUnixUs > 0)
        let tombstone = try await contacts.getPerson(person.id)
        #expect(tombstone.firstName.isEmpty && tombstone.emails.isEmpty && tombstone.tags.isEmpty)
        let mergedTombstone = try await contacts.getPerson(twin.id)
        #expect(mergedTombstone.emails.isEmpty && mergedTombstone.erasedUnixUs > 0)
        #expect(try await contacts.search("erin").people.isEmpty)
        #expect(try await contacts.search("secret", .tag).people.isEmpty)
        #expect(try await contacts.timeline(person: person.id) .entries.isEmpty)
        await expectRPCError(.failedPrecondition, mentioning: "already erased") {
            let _: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call(
                "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = person.id; $0.reason = "again" })
        }
        // The database file itself holds no trace of the data in the contacts tables.
        let db = DatabaseFile(dataDir: crmd.dir + "/data")
        let leftovers = try db.rows("""
            SELECT count(*) FROM contacts_people WHERE instr(data, 'erin') > 0 OR instr(data, 'Erasable') > 0
            """)
        #expect(leftovers == [["0"]])
        #expect(try db.rows("SELECT action, record_id, reason FROM contacts_audit") == [["erase", "\(person.id)", "GDPR request 118"]])
    }
}
