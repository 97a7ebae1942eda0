import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import Testing

/// How an import row finds its person (id, then external_id), over the real
/// socket: a file names each person once, the dry run predicts the real
/// run, and an export re-imports unchanged.
@Suite struct ContactsImportKeysTests {
    @Test func aRepeatedExternalIDIsARowErrorInTheDryRunAndTheRealRunAlike() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let header = ["first_name", "last_name", "external_id"]
        let csv = """
            Ada,Lovelace,x-1
            Grace,Hopper,x-2
            Alan,Turing,x-3
            Edsger,Dijkstra,x-4
            Barbara,Liskov,x-5
            Ada,King,x-1

            """
        let dry = try await contacts.importRows(header, csv, dryRun: true)
        let real = try await contacts.importRows(header, csv)
        for response in [dry, real] {
            #expect(response.created == 5 && response.updated == 0 && response.unchanged == 0 && response.failed == 1,
                    "\(response)")
            #expect(response.errors.map(\.row) == [7])
            #expect(response.errors.first?.column == "external_id")
            #expect(response.errors.first?.message.contains("repeats row 2") == true, "\(response.errors)")
        }
        let again = try await contacts.importRows(header, csv)
        #expect(again.created == 0 && again.updated == 0 && again.unchanged == 5 && again.failed == 1,
                "importing a file twice changes nothing: \(again)")
        #expect(try await contacts.search("lovelace").people.count == 1, "the earlier row's person is not overwritten")
    }

    @Test func aDryRunCountsTheUpdatesANewOrganizationMakes() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let header = ["first_name", "last_name", "external_id", "organization"]
        _ = try await contacts.importRows(header, "Ada,Lovelace,x-1,\n")
        let csv = "Ada,Lovelace,x-1,Analytical Engines\nGrace,Hopper,x-2,Analytical Engines\n"
        let dry = try await contacts.importRows(header, csv, dryRun: true)
        let real = try await contacts.importRows(header, csv)
        #expect(dry == real, "the dry run reports what the real run does: \(dry) vs \(real)")
        #expect(real.created == 1 && real.updated == 1 && real.failed == 0)
        let engines = try await contacts.search("analytical", .organization).people
        #expect(engines.count == 2 && engines[0].organizationID == engines[1].organizationID)
    }

    @Test func anExportReimportsUnchangedWithAndWithoutExternalIDs() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        _ = try await contacts.createOrganization("Twins")
        let twins = try await contacts.createOrganization("Twins")  // the same name twice: the id says which
        let acme = try await contacts.createOrganization("Acme")
        let ada: CPerson = try await contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
            $0.person.firstName = "Ada"
            $0.person.lastName = "Lovelace"
            $0.person.externalID = "crm-1"
            $0.person.emails = [.with { $0.address = "ada@acme.example"; $0.label = "work" },
                                .with { $0.address = "ada@home.example"; $0.label = "home" }]
            $0.person.organizationID = acme.id
        })
        let grace = try await contacts.createPerson("Grace", "Hopper", email: "grace@navy.example", phone: "+1 555 0100",
                                                    organization: twins.id, tags: ["vip"])
        let alan = try await contacts.createPerson("Alan", "Turing")
        let exported = try await contacts.export()
        #expect(exported.header.prefix(2) == ["id", "external_id"])

        for dryRun in [true, false] {
            let again = try await contacts.importRows(exported.header, exported.rows, dryRun: dryRun)
            #expect(again.created == 0 && again.updated == 0 && again.unchanged == 3 && again.failed == 0,
                    "dry run \(dryRun): \(again)")
        }
        let people: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest())
        #expect(people.people.map(\.id).sorted() == [ada.id, grace.id, alan.id], "nobody duplicated")
        #expect(try await contacts.getPerson(ada.id).emails == ada.emails, "the second email and the labels stay")
        #expect(try await contacts.getPerson(grace.id).organizationID == twins.id)

        // An id updates that person; an unknown id and a repeated one are row errors.
        let header = ["id", "first_name", "last_name"]
        let edited = try await contacts.importRows(header, """
            \(grace.id),Grace,Murray Hopper
            999999,Nobody,Here
            \(grace.id),Grace,Brewster

            """)
        #expect(edited.created == 0 && edited.updated == 1 && edited.failed == 2, "\(edited)")
        #expect(edited.errors.map(\.row) == [3, 4] && edited.errors.map(\.column) == ["id", "id"])
        try #require(edited.errors.count == 2)
        #expect(edited.errors[0].message.contains("person 999999 does not exist"))
        #expect(edited.errors[1].message.contains("already updated by row 2"))
        #expect(try await contacts.getPerson(grace.id).lastName == "Murray Hopper")
        let bad = try await contacts.importRows(header, "abc,X,Y\n-3,X,Y\n")
        #expect(bad.failed == 2 && bad.errors.allSatisfy { $0.message.contains("is not a positive id") })
    }
}
