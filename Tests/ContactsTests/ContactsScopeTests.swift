import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SwiftProtobuf
import Testing

/// Record scope on every contacts read and write, over the real socket:
/// two sales reps (scope own on people and organizations) each see only
/// their own records; a read of the other's is NOT_FOUND exactly as a
/// missing id, a write PERMISSION_DENIED. (Team scope, and the methods a
/// rep may not call at all, through a custom role: ContactsTeamScopeTests.)
@Suite(.serialized) struct ContactsScopeTests {
    /// Alice and Bob (sales_rep) each own an organization and two people
    /// who share an email, a phone, a tag and the first name "Ada".
    struct World {
        let crmd: CrmdProcess
        let alice: Acting, bob: Acting, mia: Acting, rita: Acting
        let people: [String: [Int64]]
        let organizations: [String: Int64]

        static func make() async throws -> World {
            let crmd = try AccessSupport.start(plugins: ["contacts"])
            try await AccessSupport.createUser(crmd, "alice", roles: ["sales_rep"])
            try await AccessSupport.createUser(crmd, "bob", roles: ["sales_rep"])
            try await AccessSupport.createUser(crmd, "mia", roles: ["sales_manager"])
            try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
            let contacts = ContactsClient(connection: try crmd.connect())
            let alice = Acting(contacts: contacts, user: "alice"), bob = Acting(contacts: contacts, user: "bob")
            var people: [String: [Int64]] = [:], organizations: [String: Int64] = [:]
            for (rep, org, lasts) in [(alice, "Acme", ["Lovelace", "King"]), (bob, "Beta", ["Byron", "Noel"])] {
                let organization = try await rep.createOrganization(org)
                #expect(organization.owner == rep.user, "an organization created with no owner is the caller's")
                organizations[rep.user] = organization.id
                for last in lasts {
                    let person = try await rep.createPerson("Ada", last, email: "shared@example.com", phone: "+1 555 0100 200",
                                                            organization: organization.id, tags: ["vip"])
                    #expect(person.owner == rep.user, "a person created with no owner is the caller's")
                    people[rep.user, default: []].append(person.id)
                }
            }
            return World(crmd: crmd, alice: alice, bob: bob, mia: Acting(contacts: contacts, user: "mia"),
                         rita: Acting(contacts: contacts, user: "rita"), people: people, organizations: organizations)
        }
    }

    @Test func eachRepReadsOnlyTheirOwnPeopleOnEveryReadPath() async throws {
        let world = try await World.make()
        let everyone = Set(world.people.values.joined())
        for (rep, other) in [(world.alice, world.bob), (world.bob, world.alice)] {
            let own = world.people[rep.user]!, theirs = world.people[other.user]!
            let who = Comment(rawValue: rep.user)
            #expect(try await rep.getPerson(own[0]).id == own[0], who)
            let missing = await rpcStatus { _ = try await rep.getPerson(999_999) }
            let hidden = await rpcStatus { _ = try await rep.getPerson(theirs[0]) }
            #expect(hidden.code == .notFound && missing.code == .notFound, who)
            #expect(hidden.message == "id: person \(theirs[0]) does not exist", "the same message as a missing id: \(hidden.message)")
            #expect(missing.message == "id: person 999999 does not exist")

            // Lists page through exactly their own: the scope is in the query, not after its LIMIT.
            let paged = try await rep.listAll(pageSize: 1)
            #expect(Set(paged.ids) == Set(own) && paged.ids.count == 2 && paged.pages == 2, who)
            #expect(try await rep.list(.with { $0.owner = other.user }).people.isEmpty, who)
            #expect(try await rep.list(.with { $0.tag = "vip" }).people.map(\.id).sorted() == own.sorted(), who)
            #expect(try await rep.list(.with { $0.organizationID = world.organizations[other.user]! }).people.isEmpty, who)

            // Every kind of search.
            for (query, field) in [("ada", Crm_Contacts_V1_SearchField.name), ("shared@", .email), ("+1 555 0100 200", .phone),
                                   ("vip", .tag), ("acme", .organization), ("beta", .organization), ("ada", .auto),
                                   ("shared@example.com", .auto)] {
                let found = try await rep.search(query, field)
                #expect(Set(found).isSubset(of: Set(own)), "\(rep.user) searching \(query) \(field) found \(found)")
            }
            #expect(Set(try await rep.search("ada", .name)) == Set(own), who)

            // Duplicates: groups form among their own people only.
            let groups = try await rep.duplicates()
            #expect(!groups.isEmpty && groups.allSatisfy { Set($0.personIds) == Set(own) }, "\(rep.user): \(groups)")
            #expect(try await rep.duplicates(person: own[0]).allSatisfy { Set($0.personIds) == Set(own) }, who)
            let probe = await rpcStatus { _ = try await rep.duplicates(person: theirs[0]) }
            #expect(probe.code == .notFound && probe.message == "person_id: person \(theirs[0]) does not exist", who)

            // The CSV export.
            #expect(try await rep.exportedIDs().sorted() == own.sorted(), who)

            // Timelines: their own person's and organization's; the other's are NOT_FOUND.
            #expect(try await rep.timeline(person: own[0]).map(\.topic) == ["contacts.contact.created"], who)
            let hiddenTimeline = await rpcStatus { _ = try await rep.timeline(person: theirs[0]) }
            #expect(hiddenTimeline.code == .notFound && hiddenTimeline.message == "person_id: person \(theirs[0]) does not exist")
            let organizationTimeline = await rpcStatus { _ = try await rep.timeline(organization: world.organizations[other.user]!) }
            #expect(organizationTimeline.code == .notFound, who)

            // Organizations.
            let organizations: Crm_Contacts_V1_ListOrganizationsResponse = try await rep.call("ListOrganizations",
                                                                                              Crm_Contacts_V1_ListOrganizationsRequest())
            #expect(organizations.organizations.map(\.id) == [world.organizations[rep.user]!], who)
            let organization = await rpcStatus {
                let _: COrganization = try await rep.call("GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with {
                    $0.id = world.organizations[other.user]!
                })
            }
            #expect(organization.code == .notFound && organization.message == "id: organization \(world.organizations[other.user]!) does not exist")

            // GDPR export is not a rep's at all (a limited one: ContactsTeamScopeTests).
            let gdpr = await rpcStatus {
                let _: Crm_Contacts_V1_PersonDataExport = try await rep.call("ExportPersonData",
                                                                             Crm_Contacts_V1_PersonDataRequest.with { $0.personID = own[0] })
            }
            #expect(gdpr.code == .permissionDenied && gdpr.message.contains("contacts.person.gdpr_export"), who)
        }
        // Reach all: the manager and the read-only user see everyone, in every path.
        for reader in [world.mia, world.rita] {
            #expect(Set(try await reader.listAll(pageSize: 3).ids) == everyone, Comment(rawValue: reader.user))
            #expect(Set(try await reader.search("ada", .name)) == everyone)
            #expect(try await reader.duplicates().contains { Set($0.personIds) == everyone })
        }
        #expect(Set(try await world.mia.exportedIDs()) == everyone)
        let export: Crm_Contacts_V1_PersonDataExport = try await world.mia.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = world.people["bob"]![0] })
        #expect(export.organization.id == world.organizations["bob"]! && export.timeline.count == 1)
    }

    @Test func writesToAnotherRepsRecordsAreDenied() async throws {
        let world = try await World.make()
        let alice = world.alice
        let bobs = world.people["bob"]!, beta = world.organizations["bob"]!
        func denied(_ what: String, _ body: () async throws -> Void) async {
            let status = await rpcStatus(body)
            #expect(status.code == .permissionDenied, "\(what): \(status)")
            #expect(status.message.contains("outside your record scope"), "\(what): \(status.message)")
        }
        await denied("update") {
            let _: CPerson = try await alice.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person.id = bobs[0]; $0.person.notes = "mine now"; $0.updateMask = ["notes"]
            })
        }
        await denied("tag") {
            let _: CPerson = try await alice.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person.id = bobs[0]; $0.person.tags = ["vip", "alice"]; $0.updateMask = ["tags"]
            })
        }
        await denied("delete") {
            let _: CPerson = try await alice.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = bobs[0] })
        }
        // Denied before its state is told: Bob's deleted person is not "not deleted" to Alice.
        let _: CPerson = try await world.mia.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = bobs[1] })
        await denied("restore") {
            let _: CPerson = try await alice.call("RestorePerson", Crm_Contacts_V1_RestorePersonRequest.with { $0.id = bobs[1] })
        }
        await denied("create for another owner") { _ = try await alice.createPerson("Eve", "Other", owner: "bob") }
        let mine = try await alice.createPerson("Eve", "Mine", owner: "alice")
        await denied("give away") {
            let _: CPerson = try await alice.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person.id = mine.id; $0.person.owner = "bob"; $0.updateMask = ["owner"]
            })
        }
        // Clearing the owner under a limited scope keeps the record the caller's.
        let cleared: CPerson = try await alice.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = mine.id; $0.updateMask = ["owner"]
        })
        #expect(cleared.owner == "alice")
        // Linking to an organization Alice cannot read is answered as for a missing one.
        let hiddenOrganization = await rpcStatus { _ = try await alice.createPerson("Eve", "Linked", organization: beta) }
        let missingOrganization = await rpcStatus { _ = try await alice.createPerson("Eve", "Linked", organization: 999_999) }
        #expect(hiddenOrganization.code == .notFound && missingOrganization.code == .notFound)
        #expect(hiddenOrganization.message == "person.organization_id: organization \(beta) does not exist")
        await denied("update organization") {
            let _: COrganization = try await alice.call("UpdateOrganization", Crm_Contacts_V1_UpdateOrganizationRequest.with {
                $0.organization.id = beta; $0.organization.industry = "x"; $0.updateMask = ["industry"]
            })
        }
        await denied("delete organization") {
            let _: COrganization = try await alice.call("DeleteOrganization", Crm_Contacts_V1_DeleteOrganizationRequest.with { $0.id = beta })
        }
        await denied("create organization for another") { _ = try await alice.createOrganization("Gamma", owner: "bob") }
        // Merge, import and erase are not a rep's permissions: crmd refuses them before they run.
        for (method, permission) in [("MergePeople", "contacts.person.merge"), ("ImportPeople", "contacts.person.import"),
                                     ("ErasePerson", "contacts.person.erase"), ("MergeOrganizations", "contacts.organization.merge")] {
            let status = await rpcStatus {
                _ = try await alice.contacts.connection.call(contactsService + method, [], metadata: alice.metadata)
            }
            #expect(status.code == .permissionDenied && status.message == "user alice lacks permission \(permission)", "\(method)")
        }
        // Nothing of Bob's changed.
        let untouched = try await world.mia.getPerson(bobs[0])
        #expect(untouched.notes.isEmpty && untouched.tags == ["vip"] && untouched.deletedUnixUs == 0 && untouched.owner == "bob")
        // A manager (reach all) may write anyone's and give records to anyone.
        let moved: CPerson = try await world.mia.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = bobs[0]; $0.person.owner = "alice"; $0.updateMask = ["owner"]
        })
        #expect(moved.owner == "alice")
        #expect(try await alice.getPerson(bobs[0]).id == bobs[0])
    }

    @Test func anIdempotencyKeyNeverReplaysAnotherUsersRecord() async throws {
        let world = try await World.make()
        // The same key and request from two users are two creates.
        let first = try await world.alice.createPerson("Kay", "Same", key: "signup-1")
        let second = try await world.bob.createPerson("Kay", "Same", key: "signup-1")
        #expect(first.id != second.id && first.owner == "alice" && second.owner == "bob")
        // A user's own retry still replays.
        #expect(try await world.alice.createPerson("Kay", "Same", key: "signup-1").id == first.id)
        #expect(try await world.bob.createPerson("Kay", "Same", key: "signup-1").id == second.id)
    }

    @Test func aReadOnlyUserIsDeniedEveryContactsWriteMethod() async throws {
        let world = try await World.make()
        let methods = try await contactsMethods(try world.crmd.connect())
        let writes = methods.values.filter(\.writes).map(\.fullName).sorted()
        // Enumerated from the descriptor, so a new write method is covered without touching this test.
        #expect(writes.count >= 13 && writes.contains(contactsService + "ErasePerson")
                && writes.contains(contactsService + "DefineCustomField"), "\(writes)")
        #expect(methods.values.contains { !$0.writes && $0.fullName.hasSuffix("/GetPerson") })
        for method in writes {
            let status = await rpcStatus {
                _ = try await world.rita.contacts.connection.call(method, [], metadata: world.rita.metadata)
            }
            let permission = methods[method]!.permission
            #expect(status.code == .permissionDenied && status.message == "user rita lacks permission \(permission)", "\(method): \(status)")
        }
        // And every read method is open to rita, across every record.
        #expect(try await world.rita.listAll(pageSize: 50).ids.count == 4)
    }

    static let stranger: UInt32 = 40_021, bobUID: UInt32 = 40_022

    @Test func anUnboundUidIsRefusedEveryContactsMethodButHealthAndReflectionAnswer() async throws {
        let world = try await World.make()
        let socket = world.crmd.socketPath
        #expect(try CrmctlRun.run(["health"], socket: socket, uid: Self.stranger).status == 0)
        #expect(try CrmctlRun.run(["services"], socket: socket, uid: Self.stranger).status == 0)
        let methods = try await contactsMethods(try world.crmd.connect())
        #expect(methods.count >= 20)
        for method in methods.keys.sorted() {
            let run = try CrmctlRun.run(["call", method, "{}"], socket: socket, uid: Self.stranger)
            #expect(run.status == Int32(Crm_Rpc_V1_StatusCode.permissionDenied.rawValue), "\(method): \(run.stderr)")
            #expect(run.stderr == "crmctl: PERMISSION_DENIED: uid \(Self.stranger) is not bound to a CRM user; an administrator must bind it\n",
                    "\(method)")
        }
    }

    @Test func aCrmUserAssertionFromAnUntrustedUidIsIgnored() async throws {
        let world = try await World.make()
        try await AccessSupport.createUser(world.crmd, "bert", uids: [Self.bobUID], roles: ["sales_rep"])
        let bert = try await world.mia.createPerson("Bert", "Own", owner: "bert")
        let socket = world.crmd.socketPath
        // Bert's uid claims to act for Alice (and for the manager): it is still Bert, who sees his own only.
        for claimed in ["alice", "mia"] {
            let run = try CrmctlRun.run(["call", contactsService + "ListPeople", "{}", "-H", "crm-user=\(claimed)"],
                                        socket: socket, uid: Self.bobUID)
            #expect(run.status == 0, "\(run.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let ids = (object["people"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids == ["\(bert.id)"], "as \(claimed): \(ids)")
            let get = try CrmctlRun.run(["call", contactsService + "GetPerson", #"{"id":"\#(world.people["alice"]![0])"}"#,
                                         "-H", "crm-user=\(claimed)"], socket: socket, uid: Self.bobUID)
            #expect(get.stderr == "crmctl: NOT_FOUND: id: person \(world.people["alice"]![0]) does not exist\n")
        }
    }

    /// A timeline shows an entry only to those who may open the record it
    /// came from: Bob's person at Alice's organization is on the
    /// organization's timeline, which Alice may open, but not for her.
    @Test func aTimelineHidesEntriesFromRecordsTheCallerCannotOpen() async throws {
        let world = try await World.make()
        let acme = world.organizations["alice"]!
        let bobsAtAcme = try await world.mia.createPerson("Bo", "Visitor", organization: acme, owner: "bob")
        let all = try await world.mia.timeline(organization: acme)
        #expect(all.count == 4, "\(all.map(\.summary))")  // created: Acme, Lovelace, King, Visitor
        #expect(all.contains { $0.summary == "Contact Bo Visitor created" })
        let alices = try await world.alice.timeline(organization: acme)
        #expect(alices.map(\.summary) == all.map(\.summary).filter { $0 != "Contact Bo Visitor created" })
        // Pages stay full and exact with hidden entries among them.
        let firstPage: Crm_Contacts_V1_ListTimelineResponse = try await world.alice.call("ListTimeline", Crm_Contacts_V1_ListTimelineRequest.with {
            $0.organizationID = acme; $0.pageSize = 2
        })
        #expect(firstPage.entries.count == 2 && !firstPage.nextPageToken.isEmpty)
        let secondPage: Crm_Contacts_V1_ListTimelineResponse = try await world.alice.call("ListTimeline", Crm_Contacts_V1_ListTimelineRequest.with {
            $0.organizationID = acme; $0.pageSize = 2; $0.pageToken = firstPage.nextPageToken
        })
        #expect((firstPage.entries + secondPage.entries).map(\.id) == alices.map(\.id) && secondPage.nextPageToken.isEmpty)
        // Once the person is Alice's, its entries (old and new) are hers to see, and no longer Bob's.
        let _: CPerson = try await world.mia.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = bobsAtAcme.id; $0.person.owner = "alice"; $0.updateMask = ["owner"]
        })
        let after = try await world.alice.timeline(organization: acme)
        #expect(after.count == 5 && after.contains { $0.summary == "Contact Bo Visitor created" }, "\(after.map(\.summary))")
        let bobs = await rpcStatus { _ = try await world.bob.timeline(person: bobsAtAcme.id) }
        #expect(bobs.code == .notFound)
    }
}
