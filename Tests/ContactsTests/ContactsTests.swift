import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import Testing

/// The contacts plugin over the real socket, alone (no sales).
@Suite struct ContactsTests {
    @Test func createGetAndValidateAPerson() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let org = try await contacts.createOrganization("Analytical Engines Ltd", domain: "Engines.example")
        #expect(org.domain == "engines.example")
        let ada = try await contacts.createPerson(" Ada ", "Lovelace", email: "Ada@Example.com", phone: "+44 20 7946 0000",
                                                  organization: org.id, tags: ["VIP", "vip", "math"], owner: "alice")
        #expect(ada.id > 0 && ada.version == 1 && ada.createdUnixUs > 0)
        #expect(ada.firstName == "Ada" && ada.tags == ["VIP", "math"])
        #expect(try await contacts.getPerson(ada.id) == ada)

        await expectRPCError(.invalidArgument, mentioning: "person.last_name") {
            try await contacts.createPerson("", "")
        }
        await expectRPCError(.invalidArgument, mentioning: "person.emails[0].address") {
            try await contacts.createPerson("Bob", "Bad", email: "not-an-email")
        }
        await expectRPCError(.invalidArgument, mentioning: "person.phones[0].number") {
            try await contacts.createPerson("Bob", "Bad", phone: "call me")
        }
        await expectRPCError(.notFound, mentioning: "person.organization_id") {
            try await contacts.createPerson("Bob", "Orphan", organization: 999)
        }
        await expectRPCError(.notFound, mentioning: "person 424242") { try await contacts.getPerson(424242) }
        await expectRPCError(.invalidArgument, mentioning: "id is required") { try await contacts.getPerson(0) }
        await expectRPCError(.invalidArgument, mentioning: "organization.name") {
            try await contacts.createOrganization(" ")
        }
    }

    @Test func createWithTheSameIdempotencyKeyCreatesOnce() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let first = try await contacts.createPerson("Grace", "Hopper", key: "import-7")
        let again = try await contacts.createPerson("Grace", "Hopper", key: "import-7")
        #expect(again.id == first.id)
        let list: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest())
        #expect(list.people.map(\.id) == [first.id])
        await expectRPCError(.alreadyExists, mentioning: "person.external_id") {
            for _ in 0..<2 {
                let _: CPerson = try await contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
                    $0.person.lastName = "Twice"
                    $0.person.externalID = "ext-1"
                })
            }
        }
    }

    @Test func updateAppliesOnlyTheMaskAndChecksTheVersion() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let person = try await contacts.createPerson("Alan", "Turing", email: "alan@example.com", owner: "alice")
        var change = CPerson()
        change.id = person.id
        change.jobTitle = "Mathematician"
        change.owner = "this must not be written"
        let updated: CPerson = try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person = change
            $0.updateMask = ["job_title"]
            $0.expectedVersion = 1
        })
        #expect(updated.jobTitle == "Mathematician" && updated.owner == "alice" && updated.emails == person.emails)
        #expect(updated.version == 2 && updated.updatedUnixUs >= person.updatedUnixUs)
        await expectRPCError(.aborted, mentioning: "expected_version 1") {
            let _: CPerson = try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person = change
                $0.updateMask = ["job_title"]
                $0.expectedVersion = 1
            })
        }
        await expectRPCError(.invalidArgument, mentioning: "\"shoe_size\"") {
            let _: CPerson = try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person = change
                $0.updateMask = ["shoe_size"]
            })
        }
    }

    @Test func softDeleteHidesAndRestoreBringsBack() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let person = try await contacts.createPerson("Edsger", "Dijkstra", email: "ewd@example.com")
        let deleted: CPerson = try await contacts.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = person.id })
        #expect(deleted.deletedUnixUs > 0)
        #expect(try await contacts.search("ewd@").people.isEmpty)
        let visible: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest())
        #expect(visible.people.isEmpty)
        let all: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call(
            "ListPeople", Crm_Contacts_V1_ListPeopleRequest.with { $0.includeDeleted = true })
        #expect(all.people.map(\.id) == [person.id])
        await expectRPCError(.failedPrecondition, mentioning: "is deleted") {
            let _: CPerson = try await contacts.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = person.id })
        }
        let restored: CPerson = try await contacts.call("RestorePerson", Crm_Contacts_V1_RestorePersonRequest.with { $0.id = person.id })
        #expect(restored.deletedUnixUs == 0)
        #expect(try await contacts.search("ewd@").people.map(\.id) == [person.id])
    }

    @Test func listPagesThroughEveryoneOnceInOrderWithFilters() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        var created: [CPerson] = []
        for i in 0..<120 {
            created.append(try await contacts.createPerson("P\(i)", String(format: "Name%03d", (i * 37) % 120),
                                                           tags: i % 3 == 0 ? ["gold"] : [], owner: i % 2 == 0 ? "alice" : "bob"))
        }
        var seen: [Int64] = []
        var token = ""
        var pages = 0
        repeat {
            let page: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest.with {
                $0.pageSize = 50
                $0.pageToken = token
            })
            seen += page.people.map(\.id)
            token = page.nextPageToken
            pages += 1
        } while !token.isEmpty
        #expect(pages == 3)
        let byName = created.sorted { ($0.lastName, $0.id) < ($1.lastName, $1.id) }.map(\.id)
        #expect(seen == byName)

        let newest: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest.with {
            $0.sort = .created
            $0.pageSize = 3
        })
        #expect(newest.people.map(\.id) == created.suffix(3).reversed().map(\.id))
        let gold: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest.with {
            $0.tag = "GOLD"
            $0.owner = "alice"
            $0.pageSize = 500
        })
        #expect(Set(gold.people.map(\.id)) == Set(created.enumerated().filter { $0.offset % 6 == 0 }.map(\.element.id)))
        await expectRPCError(.invalidArgument, mentioning: "page_token") {
            let _: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call(
                "ListPeople", Crm_Contacts_V1_ListPeopleRequest.with { $0.pageToken = "garbage!" })
        }
    }

    @Test func searchFindsByNameEmailPhoneOrganizationAndTag() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let acme = try await contacts.createOrganization("Acme Rockets")
        let ada = try await contacts.createPerson("Ada", "Lovelace", email: "ada@lovelace.example", phone: "+44 (20) 7946-0001",
                                                  organization: acme.id, tags: ["Pioneer"])
        let zoe = try await contacts.createPerson("Zoë", "Adams", email: "zoe@adams.example", phone: "555 0100")
        _ = try await contacts.createPerson("Bob", "Builder", email: "bob@build.example")

        #expect(try await contacts.search("ada").people.map(\.id) == [ada.id, zoe.id])  // "ada lovelace" < "adams zoe"
        #expect(try await contacts.search("lovelace a").people.map(\.id) == [ada.id])
        #expect(try await contacts.search("ZOE").people.map(\.id) == [zoe.id])
        #expect(try await contacts.search("ADA@LOVE").people.map(\.id) == [ada.id])
        #expect(try await contacts.search("+44 20 7946 0001").people.map(\.id) == [ada.id])
        #expect(try await contacts.search("acme", .organization).people.map(\.id) == [ada.id])
        #expect(try await contacts.search("pioneer", .tag).people.map(\.id) == [ada.id])
        #expect(try await contacts.search("nobody").people.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "query is required") { try await contacts.search("  ") }
    }

    @Test func customFieldsAreDefinedAtRunTimeAndValidated() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        for (key, type, choices) in [("shoe_size", Crm_Contacts_V1_FieldType.number, [String]()),
                                     ("birthday", .date, []), ("tier", .choice, ["bronze", "silver", "gold"])] {
            let _: Crm_Contacts_V1_CustomFieldDefinition = try await contacts.call(
                "DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
                    $0.definition = .with { $0.entity = .person; $0.key = key; $0.type = type; $0.choices = choices }
                })
        }
        func create(_ fields: [String: Crm_Contacts_V1_FieldValue]) async throws -> CPerson {
            try await contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
                $0.person.lastName = "Custom"
                $0.person.customFields = fields
            })
        }
        let ok = try await create(["shoe_size": .with { $0.number = "42.5" }, "birthday": .with { $0.date = "1815-12-10" },
                                   "tier": .with { $0.choice = "gold" }])
        #expect(try await contacts.getPerson(ok.id).customFields["tier"]?.choice == "gold")
        await expectRPCError(.invalidArgument, mentioning: "person.custom_fields.shoe_size") {
            try await create(["shoe_size": .with { $0.number = "large" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "person.custom_fields.birthday") {
            try await create(["birthday": .with { $0.date = "1815-02-30" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "bronze, silver, gold") {
            try await create(["tier": .with { $0.choice = "platinum" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "person.custom_fields.hat") {
            try await create(["hat": .with { $0.text = "fedora" }])
        }
        await expectRPCError(.failedPrecondition, mentioning: "cannot change") {
            let _: Crm_Contacts_V1_CustomFieldDefinition = try await contacts.call(
                "DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
                    $0.definition = .with { $0.entity = .person; $0.key = "tier"; $0.type = .text }
                })
        }
        let list: Crm_Contacts_V1_ListCustomFieldsResponse = try await contacts.call(
            "ListCustomFields", Crm_Contacts_V1_ListCustomFieldsRequest.with { $0.entity = .person })
        #expect(list.definitions.map(\.key) == ["birthday", "shoe_size", "tier"])
    }
}
