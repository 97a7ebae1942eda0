import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Routing over the socket: round robin, least open tickets and skills,
/// availability and capacity, the queue handed out once someone can take
/// it, and the round-robin position across a crash.
@Suite struct ServiceRoutingTests {
    /// Team desk: ana, ben and cy, all ONLINE, routed by `mode`.
    static func desk(_ world: ServiceWorld, _ mode: Mode, requireSkills: Bool = false) async throws {
        try await world.admin.setTeam("desk", agents: ["ana", "ben", "cy"])
        for agent in ["ana", "ben", "cy"] { try await world.mia.setAvailability(agent, .online) }
        try await world.mia.setRouting("desk", mode, requireSkills: requireSkills)
    }

    @Test func roundRobinGoesAroundThreeAgentsInOrderAndKeepsItsPlaceAfterAKill() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var world: ServiceWorld? = try await ServiceWorld.start(dataDir: dataDir)
        let first = world!
        try await Self.desk(first, .roundRobin)
        let events = try EventLog(first, ["service.ticket.assigned"])
        let ada = try await first.person("Ada", "Lovelace")
        var tickets: [STicket] = []
        for i in 1...4 { tickets.append(try await first.admin.create("Ticket \(i)", requester: ada, team: "desk")) }
        #expect(tickets.map(\.assignee) == ["ana", "ben", "cy", "ana"])
        #expect(tickets.allSatisfy { $0.status == .open && $0.team == "desk" })
        #expect(try await first.admin.get(tickets[1].id).assignee == "ben")
        #expect(try await first.mia.teamRouting("desk").lastAssigned == "ana")
        // Each routed assignment is an assigned event whose source says so.
        #expect(try await eventually(timeout: 10) { tickets.allSatisfy { !events.assigned($0.id).isEmpty } })
        for t in tickets {
            let e = events.assigned(t.id)
            #expect(e.map(\.source) == [.routing] && e.first?.previousAssignee == "" && e.first?.ticket.assignee == t.assignee)
        }
        // A ticket created with an assignee is not routed and does not move the turn.
        _ = try await first.admin.create("By hand", requester: ada, assignee: "cy", team: "desk")
        // Killed: the position was committed with the assignment.
        try first.crmd.stop(signal: SIGKILL)
        world = nil
        let again = try ServiceWorld.reopen(dataDir: dataDir)
        let next = try await again.admin.create("After the restart", requester: ada, team: "desk")
        #expect(next.assignee == "ben")
        #expect(try await again.admin.create("And on", requester: ada, team: "desk").assignee == "cy")
        _ = world
    }

    @Test func leastOpenPicksTheAgentWithFewestOpenTicketsAndBreaksTiesInTurn() async throws {
        let world = try await ServiceWorld.start()
        try await Self.desk(world, .leastOpen)
        let ada = try await world.person("Ada", "Lovelace")
        // ana holds two open tickets, ben one, cy none.
        var anas: [STicket] = []
        for _ in 0..<2 { anas.append(try await world.admin.create("Busy", requester: ada, assignee: "ana", team: "desk")) }
        _ = try await world.admin.create("Busy", requester: ada, assignee: "ben", team: "desk")
        #expect(try await world.mia.agent("ana").openTickets == 2)
        #expect(try await world.admin.create("1", requester: ada, team: "desk").assignee == "cy")
        // ben and cy have one each: ben's turn comes after cy.
        #expect(try await world.admin.create("2", requester: ada, team: "desk").assignee == "ben")
        #expect(try await world.admin.create("3", requester: ada, team: "desk").assignee == "cy")
        // Solved tickets are not open: ana, with none left, is next.
        for t in anas { _ = try await world.ana.setStatus(t.id, .solved) }
        #expect(try await world.mia.agent("ana").openTickets == 0)
        #expect(try await world.admin.create("4", requester: ada, team: "desk").assignee == "ana")
    }

    @Test func skillsSendATicketToTheAgentWhoHasThemAndRequiredSkillsMakeItWait() async throws {
        let world = try await ServiceWorld.start()
        try await world.admin.setField("language", .text, label: "Language")
        try await Self.desk(world, .skills)
        try await world.mia.setAgent("ana", skills: ["german"])
        let ben = try await world.mia.setAgent("ben", skills: ["Language=FR", "billing"])
        #expect(ben.skills == ["billing", "language=fr"])
        let ada = try await world.person("Ada", "Lovelace")
        #expect(try await world.admin.create("Drucker", requester: ada, tags: ["german"], team: "desk").assignee == "ana")
        #expect(try await world.admin.create("Imprimante", requester: ada, fields: ["language": "fr"], team: "desk").assignee == "ben")
        // One skill each for ana (german) and ben (billing): the fewer open, then the turn.
        #expect(try await world.admin.create("Rechnung", requester: ada, tags: ["billing", "german"], team: "desk").assignee == "ana")
        // A tag no agent has is no skill: everyone scores 0, and cy has fewest open.
        #expect(try await world.admin.create("Plain", requester: ada, tags: ["vip"], team: "desk").assignee == "cy")
        // Without require_skills an agent without the skill takes it when the one with it is away.
        try await world.ana.setAvailability("", .away)
        #expect(try await world.admin.create("Noch einer", requester: ada, tags: ["german"], team: "desk").assignee != "ana")
        // With require_skills it waits for ana, and goes to her when she is back.
        try await world.mia.setRouting("desk", .skills, requireSkills: true)
        let waiting = try await world.admin.create("Warten", requester: ada, tags: ["german"], team: "desk")
        #expect(waiting.assignee == "" && waiting.status == .new)
        let back = try await world.ana.setAvailability("", .online)
        #expect(back.routed == 1 && back.agent.availability == .online)
        #expect(try await world.admin.get(waiting.id).assignee == "ana")
    }

    @Test func awayAndOfflineAgentsAreSkippedAndAvailabilityIsTheAgentsOwn() async throws {
        let world = try await ServiceWorld.start()
        try await Self.desk(world, .roundRobin)
        try await world.ben.setAvailability("", .away)
        let ada = try await world.person("Ada", "Lovelace")
        var got: [String] = []
        for i in 1...3 { got.append(try await world.admin.create("T\(i)", requester: ada, team: "desk").assignee) }
        #expect(got == ["ana", "cy", "ana"])
        try await world.cy.setAvailability("cy", .offline)
        #expect(try await world.admin.create("T4", requester: ada, team: "desk").assignee == "ana")
        // ben is back: his turn comes after ana's.
        try await world.ben.setAvailability("", .online)
        #expect(try await world.admin.create("T5", requester: ada, team: "desk").assignee == "ben")
        #expect(try await world.ana.agent("").availability == .online)
        #expect(try await world.ana.agent("cy").availability == .offline)
        // An agent never set is OFFLINE.
        #expect(try await world.mia.agent("nobody").availability == .offline)
        await expectRPCError(.permissionDenied, mentioning: "only ben") { try await world.ana.setAvailability("ben", .offline) }
        await expectRPCError(.invalidArgument, mentioning: "availability is required") { try await world.ana.setAvailability("", .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "availability 9 is out of range") {
            try await world.ana.setAvailability("", .UNRECOGNIZED(9))
        }
        await expectRPCError(.invalidArgument, mentioning: "no CRM user") { try await world.admin.setAvailability("", .online) }
        // A manager sets anyone's.
        #expect(try await world.mia.setAvailability("ben", .away).agent.availability == .away)
    }

    @Test func anAgentAtCapacityIsSkippedUntilATicketIsSolved() async throws {
        let world = try await ServiceWorld.start()
        try await Self.desk(world, .roundRobin)
        let ada = try await world.person("Ada", "Lovelace")
        let held = try await world.admin.create("Ben's", requester: ada, assignee: "ben", team: "desk")
        let ben = try await world.mia.setAgent("ben", maxOpen: 1)
        #expect(ben.maxOpenTickets == 1 && ben.openTickets == 1)
        var got: [String] = []
        for i in 1...3 { got.append(try await world.admin.create("T\(i)", requester: ada, team: "desk").assignee) }
        #expect(got == ["ana", "cy", "ana"])
        _ = try await world.ben.setStatus(held.id, .solved)
        #expect(try await world.admin.create("T4", requester: ada, team: "desk").assignee == "ben")
        #expect(try await world.admin.create("T5", requester: ada, team: "desk").assignee == "cy")
    }

    @Test func queuedTicketsGoOutInQueueOrderOnceSomeoneCanTakeThem() async throws {
        let world = try await ServiceWorld.start()
        try await world.admin.setTeam("desk", agents: ["ana", "ben", "cy"])
        try await world.mia.setRouting("desk", .roundRobin)
        let ada = try await world.person("Ada", "Lovelace")
        // Nobody is online: the tickets wait, NEW and unassigned.
        let normal = try await world.admin.create("Normal", requester: ada, team: "desk")
        let urgent = try await world.admin.create("Urgent", requester: ada, priority: .urgent, team: "desk")
        let later = try await world.admin.create("Later", requester: ada, team: "desk")
        #expect([normal, urgent, later].allSatisfy { $0.assignee == "" && $0.status == .new })
        try await world.mia.setAgent("ben", maxOpen: 2)
        // ben comes online: the queue's first two, urgent first, are his at once.
        let online = try await world.ben.setAvailability("", .online)
        #expect(online.routed == 2 && online.agent.openTickets == 2)
        #expect(try await world.admin.get(urgent.id).assignee == "ben")
        #expect(try await world.admin.get(normal.id).assignee == "ben")
        #expect(try await world.admin.get(later.id).assignee == "")
        // ben solves one: the job gives him the third within a second or so.
        _ = try await world.ben.setStatus(urgent.id, .solved)
        #expect(try await eventually(timeout: 10) { try await world.admin.get(later.id).assignee == "ben" })
        let routed = try await world.admin.get(later.id)
        #expect(routed.status == .open)
        // The job's method refuses what it should.
        await expectRPCError(.permissionDenied, mentioning: "service.routing.run at scope all") {
            let _: Crm_Service_V1_RouteQueuedTicketsResponse = try await world.ana.call("RouteQueuedTickets",
                Crm_Service_V1_RouteQueuedTicketsRequest.with { $0.team = "desk"; $0.limit = 10 })
        }
        await expectRPCError(.invalidArgument, mentioning: "limit is 0") {
            let _: Crm_Service_V1_RouteQueuedTicketsResponse = try await world.mia.call("RouteQueuedTickets",
                Crm_Service_V1_RouteQueuedTicketsRequest.with { $0.team = "desk" })
        }
    }

    @Test func routingSettingsAreChecked() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        await expectRPCError(.notFound, mentioning: "team \"nosuch\" does not exist") { try await mia.setRouting("nosuch", .roundRobin) }
        await expectRPCError(.invalidArgument, mentioning: "routing.mode is required") { try await mia.setRouting("billing", .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "routing.mode 7 is out of range") { try await mia.setRouting("billing", .UNRECOGNIZED(7)) }
        await expectRPCError(.invalidArgument, mentioning: "require_skills applies to ROUTING_MODE_SKILLS only") {
            try await mia.setRouting("billing", .roundRobin, requireSkills: true)
        }
        await expectRPCError(.invalidArgument, mentioning: "routing.escalations[0] does nothing") {
            try await mia.setRouting("billing", .manual, escalations: [.with { $0.trigger = .breach }])
        }
        await expectRPCError(.invalidArgument, mentioning: "routing.escalations[0].trigger is required") {
            try await mia.setRouting("billing", .manual, escalations: [.with { $0.raisePriority = true }])
        }
        await expectRPCError(.failedPrecondition, mentioning: "ana is not an agent of team \"tech\"") {
            try await mia.setRouting("billing", .manual, escalations: [.with { $0.trigger = .breach; $0.reassignTeam = "tech"; $0.reassignTo = "ana" }])
        }
        await expectRPCError(.notFound, mentioning: "reassign_team: team \"nowhere\" does not exist") {
            try await mia.setRouting("billing", .manual, escalations: [.with { $0.trigger = .breach; $0.reassignTeam = "nowhere" }])
        }
        await expectRPCError(.permissionDenied, mentioning: "service.team.write at scope all") { try await world.ana.setRouting("billing", .roundRobin) }
        let set = try await mia.setRouting("billing", .leastOpen)
        #expect(set.version == 1 && set.mode == .leastOpen && set.agents.map(\.agent) == ["ana", "ben"])
        await expectRPCError(.aborted, mentioning: "expected_version") { try await mia.setRouting("billing", .roundRobin, expectedVersion: 5) }
        #expect(try await mia.setRouting("billing", .roundRobin, expectedVersion: 1).version == 2)
        #expect(try await world.ana.teamRouting("tech").mode == .manual)
        await expectRPCError(.permissionDenied, mentioning: "service.team.read") { try await world.pat.teamRouting("billing") }
        // Agents' capacity and skills.
        await expectRPCError(.invalidArgument, mentioning: "max_open_tickets is 10001") { try await mia.setAgent("ana", maxOpen: 10_001) }
        await expectRPCError(.invalidArgument, mentioning: "skills[1] \"no spaces\" is not a skill") {
            try await mia.setAgent("ana", skills: ["ok", "no spaces"])
        }
        await expectRPCError(.invalidArgument, mentioning: "skills[1] repeats") { try await mia.setAgent("ana", skills: ["de", "DE"]) }
        await expectRPCError(.permissionDenied, mentioning: "service.agent.write at scope all") { try await world.ana.setAgent("ana", maxOpen: 3) }
        await expectRPCError(.invalidArgument, mentioning: "agent \"Ana!\" is not a CRM name") { try await mia.agent("Ana!") }
    }
}
