import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Scopes the first-party roles do not give: `team` through the kernel's
/// access teams, and a GDPR export limited to the caller's own records.
@Suite struct SalesCustomScopeTests {
    func createRole(_ world: SalesAccessWorld, _ name: String, _ grants: [(String, Crm_Kernel_V1_RecordScope)]) async throws {
        let _: Crm_Kernel_V1_Role = try await world.connection.call("/crm.kernel.v1.Access/CreateRole",
                                                                     Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = name
            $0.permissions = grants.map { grant in .with { $0.permission = grant.0; $0.scope = grant.1 } }
        })
    }

    @Test func aTeamScopeReachesTheAccessTeamsMembersNotTheSalesTeams() async throws {
        let world = try await SalesAccessWorld.start()
        try await createRole(world, "sales_lead", [("sales.*", .team)])
        try await AccessSupport.createUser(world.crmd, "tina", roles: ["sales_lead"])
        try await AccessSupport.createTeam(world.crmd, "east", members: ["tina", "ann"])
        let tina = SalesClient(connection: world.connection, metadata: AccessSupport.actingAs("tina"))
        // A sales team (round-robin order) with bob in it widens nobody's scope.
        let _: Crm_Sales_V1_Team = try await world.meg.call("SetTeam", Crm_Sales_V1_SetTeamRequest.with {
            $0.name = "everyone"
            $0.members = ["tina", "bob"]
        })
        let own = try await tina.createLead(last: "Tina's")
        let anns = try await world.ann.createLead(last: "Ann's")
        let bobs = try await world.bob.createLead(last: "Bob's")
        #expect(own.owner == "tina")
        #expect(try await tina.allLeadIDs() == [own.id, anns.id])
        #expect(try await tina.getLead(anns.id).owner == "ann")
        await expectRPCError(.notFound, mentioning: "id: lead \(bobs.id) does not exist") { try await tina.getLead(bobs.id) }
        // Within the team she may hand records on; outside it she may not.
        #expect(try await tina.updateLead(own.id, mask: ["owner"]) { $0.owner = "ann" }.owner == "ann")
        await expectRPCError(.permissionDenied, mentioning: "owner bob") {
            try await tina.updateLead(anns.id, mask: ["owner"]) { $0.owner = "bob" }
        }
        let turn = try await tina.createLead(last: "Turn 1", team: "everyone")
        #expect(turn.owner == "tina")
        await expectRPCError(.permissionDenied, mentioning: "it is bob's turn") {
            try await tina.createLead(last: "Turn 2", team: "everyone")
        }
        // ann's scope stays her own: the team widens tina's, not hers.
        #expect(try await world.ann.allLeadIDs() == [own.id, anns.id])
    }

    @Test func aGdprExportHoldsOnlyTheRecordsInTheCallersScope() async throws {
        let world = try await SalesAccessWorld.start()
        try await createRole(world, "gdpr_own", [("sales.person.gdpr_export", .own)])
        try await AccessSupport.grant(world.crmd, "ann", "gdpr_own")
        let person = try await ContactsClient(connection: world.connection).createPerson("Sven", "Export")
        var mine: [Int64] = [], theirs: [Int64] = []
        for owner in ["ann", "bob"] {
            let deal = try await world.admin.createOpportunity("\(owner)'s deal with Sven", owner: owner, person: person.id)
            let call = try await world.admin.createActivity(.call, "\(owner) calls Sven", owner: owner, person: person.id)
            if owner == "ann" { mine += [deal.id, call.id] } else { theirs += [deal.id, call.id] }
        }
        func export(_ client: SalesClient) async throws -> [(String, Int64)] {
            let data: Crm_Contacts_V1_ModuleData = try await client.call(
                "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = person.id })
            return try data.records.map { record in
                switch record.typeName {
                case "crm.sales.v1.Opportunity": return (record.typeName, try SOpportunity(serializedBytes: record.payload).id)
                case "crm.sales.v1.Activity": return (record.typeName, try SActivity(serializedBytes: record.payload).id)
                default: return (record.typeName, 0)
                }
            }
        }
        let annExport = try await export(world.ann)
        #expect(annExport.map(\.1) == mine, "\(annExport)")
        #expect(try await export(world.meg).map(\.1) == [mine[0], theirs[0], mine[1], theirs[1]])
        await expectRPCError(.permissionDenied, mentioning: "lacks permission sales.person.gdpr_export") { try await export(world.bob) }
    }
}
