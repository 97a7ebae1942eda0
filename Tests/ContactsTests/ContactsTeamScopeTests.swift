import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SwiftProtobuf
import Testing

/// Team scope, through a custom role granting all of contacts at scope
/// `team` (no first-party role does): Tina reaches her own and her
/// team-mate Tom's records, never Olga's. The methods a sales rep may not
/// call at all (GDPR export, import, merge, erase) are checked here too.
@Suite(.serialized) struct ContactsTeamScopeTests {
    struct Team {
        let crmd: CrmdProcess
        let tina: Acting, olga: Acting
        let tinas: CPerson, toms: CPerson, olgas: CPerson
        let tomsOrganization: COrganization, olgasOrganization: COrganization

        static func make() async throws -> Team {
            let crmd = try AccessSupport.start(plugins: ["contacts"])
            let admin = try crmd.connect()
            _ = try await admin.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
                $0.name = "contacts_team"
                $0.permissions = [.with { $0.permission = "contacts.*"; $0.scope = .team }]
            }, as: Crm_Kernel_V1_Role.self)
            for name in ["tina", "tom", "olga"] { try await AccessSupport.createUser(crmd, name, roles: ["contacts_team"]) }
            try await AccessSupport.createTeam(crmd, "north", members: ["tina", "tom"])
            let contacts = ContactsClient(connection: admin)
            let tina = Acting(contacts: contacts, user: "tina"), tom = Acting(contacts: contacts, user: "tom")
            let olga = Acting(contacts: contacts, user: "olga")
            let tomsOrganization = try await tom.createOrganization("Tomco")
            let olgasOrganization = try await olga.createOrganization("Olgaco")
            return Team(crmd: crmd, tina: tina, olga: olga,
                        tinas: try await tina.createPerson("Tia", "Own", email: "same@example.com"),
                        toms: try await tom.createPerson("Tim", "Mate", email: "same@example.com", organization: tomsOrganization.id),
                        olgas: try await olga.createPerson("Ola", "Out", email: "same@example.com", organization: olgasOrganization.id),
                        tomsOrganization: tomsOrganization, olgasOrganization: olgasOrganization)
        }
    }

    @Test func aTeamScopeReachesTeamMatesRecordsOnly() async throws {
        let team = try await Team.make()
        let tina = team.tina
        #expect(Set(try await tina.listAll(pageSize: 1).ids) == [team.tinas.id, team.toms.id])
        #expect(Set(try await tina.search("same@", .email)) == [team.tinas.id, team.toms.id])
        #expect(try await tina.duplicates().map { Set($0.personIds) } == [[team.tinas.id, team.toms.id]])
        #expect(Set(try await tina.exportedIDs()) == [team.tinas.id, team.toms.id])
        #expect(try await tina.getPerson(team.toms.id).owner == "tom")
        let hidden = await rpcStatus { _ = try await tina.getPerson(team.olgas.id) }
        #expect(hidden.code == .notFound && hidden.message == "id: person \(team.olgas.id) does not exist")
        // A team-mate's record is writable; an outsider's is not, nor may a record be given to one.
        let _: CPerson = try await tina.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = team.toms.id; $0.person.jobTitle = "Lead"; $0.updateMask = ["job_title"]
        })
        let giveAway = await rpcStatus {
            let _: CPerson = try await tina.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person.id = team.toms.id; $0.person.owner = "olga"; $0.updateMask = ["owner"]
            })
        }
        #expect(giveAway.code == .permissionDenied, "\(giveAway)")

        // GDPR export: a team-mate's person with their organization; an outsider's is NOT_FOUND.
        let export: Crm_Contacts_V1_PersonDataExport = try await tina.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = team.toms.id })
        #expect(export.person.id == team.toms.id && export.organization.id == team.tomsOrganization.id)
        #expect(export.timeline.map(\.topic) == ["contacts.contact.updated", "contacts.contact.created"])
        let outsider = await rpcStatus {
            let _: Crm_Contacts_V1_PersonDataExport = try await tina.call(
                "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = team.olgas.id })
        }
        #expect(outsider.code == .notFound && outsider.message == "person_id: person \(team.olgas.id) does not exist")

        // Merge: both sides must be in scope.
        let mergeOut = await rpcStatus {
            let _: CPerson = try await tina.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
                $0.survivorID = team.tinas.id; $0.mergedID = team.olgas.id
            })
        }
        #expect(mergeOut.code == .permissionDenied && mergeOut.message == "merged_id: person \(team.olgas.id) is outside your record scope")
        let mergeIn = await rpcStatus {
            let _: CPerson = try await tina.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
                $0.survivorID = team.olgas.id; $0.mergedID = team.tinas.id
            })
        }
        #expect(mergeIn.code == .permissionDenied, "\(mergeIn)")
        let organizations = await rpcStatus {
            let _: COrganization = try await tina.call("MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
                $0.survivorID = team.tomsOrganization.id; $0.mergedID = team.olgasOrganization.id
            })
        }
        #expect(organizations.code == .permissionDenied, "\(organizations)")
        // Erase: an outsider's person is PERMISSION_DENIED and stays whole.
        let erase = await rpcStatus {
            let _: Crm_Contacts_V1_ErasePersonResponse = try await tina.call(
                "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = team.olgas.id; $0.reason = "not mine" })
        }
        #expect(erase.code == .permissionDenied, "\(erase)")
        #expect(try await team.olga.getPerson(team.olgas.id).emails.map(\.address) == ["same@example.com"])
        // The outsider's organization cannot be linked: answered as a missing one.
        let link = await rpcStatus { _ = try await tina.createPerson("New", "Link", organization: team.olgasOrganization.id) }
        #expect(link.code == .notFound && link.message == "person.organization_id: organization \(team.olgasOrganization.id) does not exist")
    }

    /// Each import row follows the scope; a bad row is a row error, the
    /// others import.
    @Test func importRowsOutOfScopeAreRowErrors() async throws {
        let team = try await Team.make()
        let header = ["id", "first_name", "last_name", "owner", "organization"]
        let csv = [
            "\(team.toms.id),Tim,Mate,tom,",       // a team-mate's: updated (its organization cleared)
            "\(team.olgas.id),Ola,Taken,,",        // an outsider's: refused
            ",New,Owned,olga,",                    // an owner out of scope: refused
            ",New,Mine,,",                         // no owner: Tina's
            ",New,Mates,tom,Olgaco",               // Olgaco is out of scope: a new Olgaco, Tina's
        ].joined(separator: "\r\n") + "\r\n"
        let response: Crm_Contacts_V1_ImportPeopleResponse = try await team.tina.call("ImportPeople", Crm_Contacts_V1_ImportPeopleRequest.with {
            $0.header = header
            $0.csv = csv
        })
        #expect(response.failed == 2 && response.created == 2 && response.updated == 1, "\(response)")
        #expect(response.errors.map(\.row) == [3, 4])
        #expect(response.errors.first?.message == "id: person \(team.olgas.id) is outside your record scope")
        #expect(response.errors.last?.column == "owner", "\(response.errors)")
        #expect(try await team.olga.getPerson(team.olgas.id).lastName == "Out")
        let mine = try await team.tina.list(.with { $0.owner = "tina" }).people
        #expect(mine.map(\.lastName).sorted() == ["Mine", "Own"])
        let mates = try await team.tina.search("new mates", .name)
        #expect(mates.count == 1)
        let person = try await team.tina.getPerson(try #require(mates.first))
        #expect(person.owner == "tom" && person.organizationID != team.olgasOrganization.id && person.organizationID != 0)
    }
}
