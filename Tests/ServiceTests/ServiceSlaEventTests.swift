import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// service.sla.warning and service.sla.breached on the bus, within about a
/// second of their times, once per clock cycle, never for a clock an agent
/// stopped in time; and the SLA report over what they left.
@Suite struct ServiceSlaEventTests {
    actor Received {
        var events: [(topic: String, event: Crm_Service_V1_SlaEvent, at: Int64)] = []
        func add(_ topic: String, _ event: Crm_Service_V1_SlaEvent) {
            events.append((topic, event, Int64(Date().timeIntervalSince1970 * 1_000_000)))
        }
        func of(_ ticket: Int64) -> [(topic: String, event: Crm_Service_V1_SlaEvent, at: Int64)] {
            events.filter { $0.event.ticket.id == ticket }
        }
    }

    @Test func warningsAndBreachesArriveOnTimeOnceAndNeverForAnsweredTickets() async throws {
        // The warning 30 s before due; a first response due 1 business
        // minute after creation on a 24x7 calendar.
        let world = try await ServiceWorld.start(environment: ["CRM_PLUGIN_SERVICE_SLA_WARNING_LEAD_SECONDS": "30"])
        let cal = try await world.mia.alwaysOpen()
        let policy = try await world.mia.createPolicy("Fast", calendar: cal.id, first: 1)
        let received = Received()
        // The stream's connection is kept for the whole test (a dropped one closes the stream).
        let events = try world.crmd.connect()
        let listener = Task {
            let request = Crm_Kernel_V1_SubscribeRequest.with { $0.topicPatterns = ["service.sla.*"] }
            for try await e in try events.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
                await received.add(e.topic, try Crm_Service_V1_SlaEvent(serializedBytes: e.payload))
            }
        }
        defer { listener.cancel(); _ = events }
        let ada = try await world.person("Ada", "Lovelace")
        let started = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let late = try await world.admin.create("Nobody answers", requester: ada, assignee: "ana", team: "billing")
        let quick = try await world.admin.create("Answered at once", requester: ada, assignee: "ben", team: "billing")
        let warned = try await world.admin.create("Answered after the warning", requester: ada, assignee: "ana", team: "billing")
        let due = late.createdUnixUs + minute
        #expect(late.slaDueUnixUs == due)
        try await Task.sleep(for: .seconds(2))
        _ = try await world.ben.reply(quick.id, "Done already")

        // The warning: 30 s before due, within a second.
        #expect(try await eventually(timeout: 40) { await !received.of(warned.id).isEmpty })
        let w = await received.of(late.id)
        #expect(w.map(\.topic) == ["service.sla.warning"])
        if let first = w.first {
            #expect(first.event.dueUnixUs == due && first.event.clock == .firstResponse && first.event.cycle == 1)
            #expect(first.event.policyID == policy.id)
            #expect(first.event.about.personIds == [ada])
            let lag = first.at - (due - 30_000_000)
            #expect(lag >= 0 && lag < 1_000_000, "warning \(lag) µs after its time")
        }
        // Answered after the warning, before due: no breach (zammad #3140 escalates these).
        let answer = try await world.ana.reply(warned.id, "Sorry for the wait")
        #expect(answer.message.createdUnixUs < warned.createdUnixUs + minute)

        // The breach: at due, within a second.
        #expect(try await eventually(timeout: 40) { await received.of(late.id).count == 2 })
        let b = await received.of(late.id)
        #expect(b.map(\.topic) == ["service.sla.warning", "service.sla.breached"])
        if b.count == 2 {
            let lag = b[1].at - due
            #expect(lag >= 0 && lag < 1_000_000, "breach \(lag) µs after due")
            #expect(b[1].event.firedUnixUs >= due)
        }
        // Once: nothing more comes, and a run now fires nothing.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(await received.of(late.id).count == 2)
        #expect(await received.of(quick.id).isEmpty, "answered before the warning: no event at all")
        #expect(await received.of(warned.id).map(\.topic) == ["service.sla.warning"])
        let again: Crm_Service_V1_RunSlaTimersResponse = try await world.mia.call("RunSlaTimers", Crm_Service_V1_RunSlaTimersRequest())
        #expect(again.warnings == 0 && again.breaches == 0)
        let lateSla = try await world.ana.sla(late.id)
        #expect(lateSla.clock(.firstResponse)?.warned == true && lateSla.clock(.firstResponse)?.breached == true)
        #expect(try await world.ana.sla(warned.id).clock(.firstResponse)?.breached == false)
        // Answered late, the breached clock stays breached and fires nothing new.
        _ = try await world.ana.reply(late.id, "Finally")
        #expect(try await world.ana.sla(late.id).clock(.firstResponse)?.breached == true)

        // The report over this data: billing met 2 first responses (quick,
        // warned) and breached 1 (late); the times are the stopped cycles'.
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        func seconds(_ t: STicket) async throws -> Int64 { try await world.admin.sla(t.id).clock(.firstResponse)!.businessSeconds }
        let quickS = try await seconds(quick), warnedS = try await seconds(warned), lateS = try await seconds(late)
        #expect(quickS >= 2 && quickS < 10 && warnedS >= 30 && warnedS < 60 && lateS >= 60)
        let byTeam = try await world.mia.report(from: started - minute, to: now + minute, by: .team)
        #expect(byTeam.rows.map(\.group) == ["billing"])
        if let billing = byTeam.rows.first {
            #expect(billing.firstResponseMet == 2 && billing.firstResponseBreached == 1)
            // Nearest rank over [quick, warned, late]: the median is warned's, the 90th late's.
            #expect(billing.firstResponseMedianSeconds == warnedS)
            #expect(billing.firstResponseP90Seconds == lateS)
            #expect(billing.resolutionMet == 0 && billing.resolutionMedianSeconds == 0, "no resolution stopped, no target")
        }
        // Per agent, a page at a time.
        let page1 = try await world.mia.report(from: started - minute, to: now + minute, by: .agent, pageSize: 1)
        #expect(page1.rows.map(\.group) == ["ana"] && !page1.nextPageToken.isEmpty)
        #expect(page1.rows.first?.firstResponseMet == 1 && page1.rows.first?.firstResponseBreached == 1)
        let page2 = try await world.mia.report(from: started - minute, to: now + minute, by: .agent, pageSize: 1, token: page1.nextPageToken)
        #expect(page2.rows.map(\.group) == ["ben"] && page2.nextPageToken.isEmpty)
        #expect(page2.rows.first?.firstResponseMet == 1 && page2.rows.first?.firstResponseMedianSeconds == quickS)
        // Below scope all, only agents in reach: cy shares a kernel team with ana, not ben.
        #expect(try await world.cy.report(from: started - minute, to: now + minute, by: .agent).rows.map(\.group) == ["ana"])
        // Outside the range, nothing.
        #expect(try await world.mia.report(from: started - 10 * minute, to: started - minute, by: .team).rows.isEmpty)
        // Resolution once solved: its business time is reported.
        _ = try await world.ana.setStatus(warned.id, .solved)
        let solved = try await world.mia.report(from: started - minute, to: now + minute, by: .team).rows.first
        #expect(solved?.resolutionMedianSeconds == (try await world.admin.sla(warned.id).clock(.resolution)?.businessSeconds))
    }

    @Test func reportRequestsAreChecked() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        await expectRPCError(.invalidArgument, mentioning: "group_by is required") { try await mia.report(from: 1, to: 2, by: .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "group_by 3 is out of range") { try await mia.report(from: 1, to: 2, by: .UNRECOGNIZED(3)) }
        await expectRPCError(.invalidArgument, mentioning: "from_unix_us is 0") { try await mia.report(from: 0, to: 2, by: .team) }
        await expectRPCError(.invalidArgument, mentioning: "to_unix_us must be after from_unix_us") { try await mia.report(from: 5, to: 5, by: .team) }
        await expectRPCError(.invalidArgument, mentioning: "longer than 400 days") {
            try await mia.report(from: 1, to: 401 * 86_400_000_000, by: .team)
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token this list returned") {
            try await mia.report(from: 1, to: 2, by: .team, token: "W3siaSI6IjEifV0")
        }
        await expectRPCError(.permissionDenied, mentioning: "service.sla.read") { try await world.pat.report(from: 1, to: 2, by: .team) }
        #expect(try await world.ana.report(from: 1, to: 2, by: .agent).rows.isEmpty)
    }
}
