import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Escalation rules on SLA warnings and breaches, run by the SLA timer job
/// in the firing transaction's own savepoint.
@Suite struct ServiceEscalationTests {
    @Test func aWarningRaisesThePriorityAndABreachReassignsAndNotifies() async throws {
        // First response due 1 minute after creation; the warning 50 s before, at 10 s.
        let world = try await ServiceWorld.start(environment: ["CRM_PLUGIN_SERVICE_SLA_WARNING_LEAD_SECONDS": "50"])
        let cal = try await world.mia.alwaysOpen()
        _ = try await world.mia.createPolicy("Fast", calendar: cal.id, first: 1)
        let rules: [Rule] = [
            .with { $0.trigger = .warning; $0.raisePriority = true },
            .with { $0.trigger = .breach; $0.clocks = [.firstResponse]; $0.reassignTeam = "tech"; $0.reassignTo = "cy"; $0.notify = ["mia"] },
            // A rule for another clock does not fire on this one.
            .with { $0.trigger = .breach; $0.clocks = [.resolution]; $0.notify = ["ben"] },
        ]
        let routing = try await world.mia.setRouting("billing", .manual, escalations: rules)
        #expect(routing.escalations.count == 3)
        let events = try EventLog(world, ["service.ticket.escalated", "service.ticket.assigned"])
        let ada = try await world.person("Ada", "Lovelace")
        let late = try await world.admin.create("Nobody answers", requester: ada, assignee: "ana", team: "billing")
        let answered = try await world.admin.create("Answered at once", requester: ada, assignee: "ben", team: "billing")
        _ = try await world.ben.reply(answered.id, "On it")
        #expect(late.priority == .normal)

        // The warning: priority one step up, still ana's.
        #expect(try await eventually(timeout: 25) { try await world.admin.get(late.id).priority == .high })
        let warned = try await world.admin.get(late.id)
        #expect(warned.assignee == "ana" && warned.team == "billing")

        // The breach: to cy in tech, and mia is named to be told.
        #expect(try await eventually(timeout: 75) { try await world.admin.get(late.id).assignee == "cy" })
        let breached = try await world.admin.get(late.id)
        #expect(breached.team == "tech" && breached.priority == .high && breached.status == .open)
        #expect(try await eventually(timeout: 5) { events.escalated(late.id).count == 2 })
        let escalated = events.escalated(late.id)
        if escalated.count == 2 {
            #expect(escalated[0].trigger == .warning && escalated[0].clock == .firstResponse && escalated[0].previousPriority == .normal)
            #expect(escalated[0].notify.isEmpty && escalated[0].ticket.priority == .high)
            #expect(escalated[1].trigger == .breach && escalated[1].notify == ["mia"])
            #expect(escalated[1].previousAssignee == "ana" && escalated[1].previousTeam == "billing")
            #expect(escalated[1].ticket.assignee == "cy" && escalated[1].about.personIds == [ada])
        }
        let assigned = events.assigned(late.id)
        #expect(assigned.map(\.source) == [.escalation] && assigned.first?.previousTeam == "billing")
        // Once per cycle: nothing more happens to it.
        try await Task.sleep(for: .seconds(2))
        #expect(events.escalated(late.id).count == 2)
        // The ticket answered in time never escalated.
        let calm = try await world.admin.get(answered.id)
        #expect(calm.priority == .normal && calm.assignee == "ben" && events.escalated(answered.id).isEmpty)
        // The job's method is the job's.
        await expectRPCError(.permissionDenied, mentioning: "service.sla.run at scope all") {
            let _: Crm_Service_V1_EscalateTicketResponse = try await world.ana.call("EscalateTicket",
                Crm_Service_V1_EscalateTicketRequest.with { $0.ticketID = late.id; $0.trigger = .breach; $0.clock = .firstResponse })
        }
    }

    @Test func anEscalationIntoARoutedTeamIsRoutedThere() async throws {
        let world = try await ServiceWorld.start(environment: ["CRM_PLUGIN_SERVICE_SLA_WARNING_LEAD_SECONDS": "55"])
        let cal = try await world.mia.alwaysOpen()
        _ = try await world.mia.createPolicy("Fast", calendar: cal.id, first: 1)
        try await world.mia.setAvailability("cy", .online)
        try await world.mia.setRouting("tech", .roundRobin)
        try await world.mia.setRouting("billing", .manual, escalations: [.with { $0.trigger = .warning; $0.reassignTeam = "tech" }])
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("Wrong desk", requester: ada, assignee: "ana", team: "billing")
        // The warning at 5 s moves it to tech unassigned, and tech's routing gives it to cy.
        #expect(try await eventually(timeout: 25) { try await world.admin.get(t.id).team == "tech" })
        let moved = try await world.admin.get(t.id)
        #expect(moved.assignee == "cy")
    }
}
