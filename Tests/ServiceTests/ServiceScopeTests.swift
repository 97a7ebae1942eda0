import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Record scope for tickets: agents at scope team, a manager at scope all,
/// and a team's unassigned queue reached through its roster only.
@Suite struct ServiceScopeTests {
    struct Tickets {
        var ana = 0 as Int64, ben = 0 as Int64, cy = 0 as Int64, dan = 0 as Int64
        var billingQueue = 0 as Int64, techQueue = 0 as Int64, nowhere = 0 as Int64
    }

    /// One ticket per kind of owner, made by the administrator. dan is on
    /// tech's roster and shares no kernel team with ana.
    func fill(_ world: ServiceWorld) async throws -> Tickets {
        try await world.admin.setTeam("tech", agents: ["cy", "dan"])
        let ada = try await world.person("Ada", "Lovelace")
        let admin = world.admin
        var t = Tickets()
        t.ana = try await admin.create("ana's", requester: ada, assignee: "ana", team: "billing").id
        t.ben = try await admin.create("ben's", requester: ada, assignee: "ben", team: "billing").id
        t.cy = try await admin.create("cy's", requester: ada, assignee: "cy", team: "tech").id
        t.dan = try await admin.create("dan's", requester: ada, assignee: "dan", team: "tech").id
        t.billingQueue = try await admin.create("billing queue", requester: ada, team: "billing").id
        t.techQueue = try await admin.create("tech queue", requester: ada, team: "tech").id
        t.nowhere = try await admin.create("nobody's", requester: ada).id
        return t
    }

    @Test func anAgentReachesTeammatesTicketsAndTheirOwnTeamsUnassignedQueueOnly() async throws {
        let world = try await ServiceWorld.start()
        let t = try await fill(world)
        // ana shares kernel team billing with ben and "shared" with cy; she
        // is on billing's roster, not tech's.
        #expect(Set(try await world.ana.queueIDs()) == [t.ana, t.ben, t.cy, t.billingQueue])
        #expect(Set(try await world.cy.queueIDs()) == [t.ana, t.cy, t.techQueue],
                "cy reaches ana (team shared) and tech's queue, not ben or billing's queue")
        #expect(Set(try await world.mia.queueIDs()) == [t.ana, t.ben, t.cy, t.dan, t.billingQueue, t.techQueue, t.nowhere])
        #expect(try await world.ana.queueIDs { $0.team = "tech"; $0.unassigned = true }.isEmpty,
                "sharing a kernel team with a tech agent does not open tech's queue")
        for id in [t.dan, t.techQueue, t.nowhere] {
            await expectRPCError(.notFound, mentioning: "id: ticket \(id) does not exist") { try await world.ana.get(id) }
            await expectRPCError(.notFound, mentioning: "ticket_id: ticket \(id) does not exist") { try await world.ana.messages(id) }
            await expectRPCError(.permissionDenied, mentioning: "ticket \(id) is outside your record scope") {
                try await world.ana.setStatus(id, .open)
            }
            await expectRPCError(.permissionDenied, mentioning: "ticket \(id) is outside your record scope") {
                try await world.ana.reply(id, "hello")
            }
            await expectRPCError(.permissionDenied, mentioning: "ticket \(id) is outside your record scope") {
                try await world.ana.update(STicket.with { $0.id = id; $0.subject = "mine now" })
            }
            await expectRPCError(.permissionDenied, mentioning: "ticket \(id) is outside your record scope") {
                try await world.ana.assign(id, to: "ana", team: "billing")
            }
        }
        await expectRPCError(.notFound, mentioning: "other_id: ticket \(t.dan) does not exist") {
            try await world.ana.link(t.ana, .related, t.dan)
        }
        await expectRPCError(.permissionDenied, mentioning: "source_id: ticket \(t.dan) is outside your record scope") {
            try await world.ana.merge(t.dan, into: t.ana)
        }
        #expect(try await world.ana.get(t.cy).assignee == "cy", "a kernel teammate's ticket is in reach")
    }

    @Test func anAgentsWritesMayNotPutATicketOutOfTheirReach() async throws {
        let world = try await ServiceWorld.start()
        let t = try await fill(world)
        let ana = world.ana
        let taken = try await ana.assign(t.billingQueue, to: "ana", team: "billing")
        #expect(taken.assignee == "ana" && taken.status == .open, "an agent picks from their team's queue")
        #expect(try await ana.assign(t.ben, to: "", team: "billing").assignee.isEmpty, "back to the billing queue")
        await expectRPCError(.permissionDenied, mentioning: "may not be given to owner dan: outside your record scope") {
            try await ana.assign(t.ana, to: "dan", team: "tech")
        }
        await expectRPCError(.permissionDenied, mentioning: "may not be given team \"tech\" unassigned, a roster you are not on") {
            try await ana.assign(t.ana, to: "", team: "tech")
        }
        #expect(try await ana.assign(t.ana, to: "cy", team: "tech").assignee == "cy", "to a kernel teammate on tech's roster")
        await expectRPCError(.failedPrecondition, mentioning: "ben is not an agent of team \"tech\"") {
            try await ana.assign(t.ben, to: "ben", team: "tech")
        }
        let ada = try await world.person("Bob", "Builder")
        let mine = try await ana.create("no team", requester: ada)
        #expect(mine.assignee == "ana", "unassigned and teamless it would leave her reach: it is hers")
        let queued = try await ana.create("for billing", requester: ada, team: "billing")
        #expect(queued.assignee.isEmpty)
        await expectRPCError(.failedPrecondition, mentioning: "ticket.assignee: ana is not an agent of team \"tech\"") {
            try await ana.create("for tech", requester: ada, team: "tech")
        }
        await expectRPCError(.permissionDenied, mentioning: "ticket.assignee: the ticket may not be given to owner dan") {
            try await ana.create("for dan", requester: ada, assignee: "dan", team: "tech")
        }
        await expectRPCError(.permissionDenied, mentioning: "needs service.team.write at scope all") {
            try await ana.setTeam("tech", agents: ["cy", "dan", "ana"])
        }
        #expect(try await ana.call("GetTeam", Crm_Service_V1_GetTeamRequest.with { $0.name = "tech" },
                                   as: Crm_Service_V1_Team.self).agents == ["cy", "dan"])
        let manager = try await world.mia.assign(t.dan, to: "ana", team: "billing")
        let reached = try await ana.get(t.dan)
        #expect(manager.assignee == "ana" && reached.id == t.dan)
    }

    @Test func teamRostersAreCheckedAndReadBack() async throws {
        let world = try await ServiceWorld.start()
        let team = try await world.mia.setTeam("support", agents: ["zoe", "ana"])
        #expect(team.agents == ["ana", "zoe"])
        #expect(try await world.mia.setTeam("support", agents: ["zoe", "ana"]) == team, "the same roster changes nothing")
        await expectRPCError(.invalidArgument, mentioning: "name is required") { try await world.mia.setTeam("", agents: []) }
        await expectRPCError(.invalidArgument, mentioning: "name \"Support!\" is not a CRM name") {
            try await world.mia.setTeam("Support!", agents: [])
        }
        await expectRPCError(.invalidArgument, mentioning: "agents[1] repeats \"ana\"") {
            try await world.mia.setTeam("support", agents: ["ana", "ana"])
        }
        await expectRPCError(.notFound, mentioning: "team \"nope\" does not exist") {
            try await world.mia.call("GetTeam", Crm_Service_V1_GetTeamRequest.with { $0.name = "nope" }, as: Crm_Service_V1_Team.self)
        }
    }
}
