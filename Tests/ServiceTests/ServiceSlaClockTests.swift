import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// SLA clocks on real tickets: what replies and statuses do to them, the
/// history they are computed from, and the recompute after a policy or
/// calendar change.
@Suite struct ServiceSlaClockTests {
    typealias Kind = Crm_Service_V1_SlaHistoryKind

    @Test func repliesStopAndStartTheResponseClocks() async throws {
        let world = try await ServiceWorld.start()
        let cal = try await world.mia.alwaysOpen()
        let policy = try await world.mia.createPolicy("All", calendar: cal.id, first: 60, next: 30, resolution: 240)
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("Printer", requester: ada, assignee: "ana", team: "billing")
        let created = t.createdUnixUs
        #expect(t.slaDueUnixUs == created + 60 * minute, "the first response is due first")
        var sla = try await world.ana.sla(t.id)
        #expect(sla.policyID == policy.id && sla.calendarID == cal.id)
        #expect(sla.clock(.firstResponse)?.dueUnixUs == created + 60 * minute)
        #expect(sla.clock(.firstResponse)?.state == .running)
        #expect(sla.clock(.resolution)?.dueUnixUs == created + 240 * minute)

        // An agent's reply stops the first-response clock: resolution is next.
        let first = try await world.ana.reply(t.id, "On it")
        #expect(first.ticket.slaDueUnixUs == created + 240 * minute)
        sla = try await world.ana.sla(t.id)
        #expect(sla.clock(.firstResponse)?.state == .stopped)
        #expect(sla.clock(.firstResponse)?.stoppedUnixUs == first.message.createdUnixUs)
        #expect(sla.clock(.firstResponse)?.breached == false)
        #expect(sla.clock(.nextResponse) == nil, "no next-response clock before the customer writes again")

        // A customer reply starts the next-response clock.
        let back = try await world.admin.reply(t.id, "Still broken", author: .customer)
        #expect(back.ticket.slaDueUnixUs == back.message.createdUnixUs + 30 * minute)
        sla = try await world.ana.sla(t.id)
        #expect(sla.clock(.nextResponse)?.state == .running)
        #expect(sla.clock(.nextResponse)?.startedUnixUs == back.message.createdUnixUs)
        // A second customer reply while it runs changes nothing.
        let more = try await world.admin.reply(t.id, "Hello?", author: .customer)
        #expect(more.ticket.slaDueUnixUs == back.message.createdUnixUs + 30 * minute)
        // An internal note is no response.
        let note = try await world.ana.reply(t.id, "checking the toner", kind: .internal)
        #expect(note.ticket.slaDueUnixUs == back.message.createdUnixUs + 30 * minute)
        // The agent answers: the next-response clock stops.
        let second = try await world.ana.reply(t.id, "Fixed")
        #expect(second.ticket.slaDueUnixUs == created + 240 * minute)
        // And the next customer reply starts cycle 2.
        let again = try await world.admin.reply(t.id, "Thanks, one more thing", author: .customer)
        sla = try await world.ana.sla(t.id)
        #expect(sla.clock(.nextResponse, cycle: 1)?.state == .stopped)
        #expect(sla.clock(.nextResponse, cycle: 2)?.dueUnixUs == again.message.createdUnixUs + 30 * minute)

        let history = try await world.ana.slaHistory(t.id).events
        #expect(history.map(\.kind) == [.clockStarted, .clockStarted, .policyMatched, .clockStopped, .clockStarted, .clockStopped, .clockStarted])
        #expect(history.map(\.clock) == [.firstResponse, .resolution, .unspecified, .firstResponse, .nextResponse, .nextResponse, .nextResponse])
        #expect(history[2].policyID == policy.id)
        // Pages join up.
        var paged: [Int64] = []
        var token = ""
        repeat {
            let page = try await world.ana.slaHistory(t.id, pageSize: 3, token: token)
            paged += page.events.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(paged == history.map(\.id))
    }

    @Test func pendingAndOnHoldPauseTheClocksAndLeavingResumesThem() async throws {
        // osTicket #3034: no pause on pending. Here every running clock
        // pauses and the due times move by exactly the paused time.
        let world = try await ServiceWorld.start()
        let cal = try await world.mia.alwaysOpen()
        _ = try await world.mia.createPolicy("All", calendar: cal.id, first: 60, next: 30, resolution: 240)
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("Paused", requester: ada, assignee: "ana", team: "billing")
        let created = t.createdUnixUs
        let pending = try await world.ana.setStatus(t.id, .pending)
        #expect(pending.slaDueUnixUs == 0, "no clock runs while pending")
        var sla = try await world.ana.sla(t.id)
        #expect(sla.clocks.map(\.state) == [.paused, .paused])
        #expect(sla.clock(.resolution)?.dueUnixUs == 0)
        try await Task.sleep(for: .milliseconds(300))
        let open = try await world.ana.setStatus(t.id, .open)
        var history = try await world.ana.slaHistory(t.id).events
        let paused = history.first { $0.kind == .clocksPaused }!.atUnixUs
        let resumed = history.first { $0.kind == .clocksResumed }!.atUnixUs
        #expect(resumed - paused >= 300_000)
        #expect(open.slaDueUnixUs == created + 60 * minute + (resumed - paused))
        sla = try await world.ana.sla(t.id)
        #expect(sla.clock(.resolution)?.dueUnixUs == created + 240 * minute + (resumed - paused))

        // An agent's reply that puts the ticket ON_HOLD stops the first
        // response, then pauses resolution; a customer reply resumes it and
        // starts the next-response clock.
        let hold = try await world.ana.reply(t.id, "Waiting for the vendor", status: .onHold)
        #expect(hold.ticket.slaDueUnixUs == 0)
        try await Task.sleep(for: .milliseconds(200))
        let back = try await world.admin.reply(t.id, "Any news?", author: .customer)
        #expect(back.ticket.status == .open)
        history = try await world.ana.slaHistory(t.id).events
        let pauses = history.filter { $0.kind == .clocksPaused }.map(\.atUnixUs)
        let resumes = history.filter { $0.kind == .clocksResumed }.map(\.atUnixUs)
        #expect(pauses.count == 2 && resumes.count == 2)
        let pausedTotal = (resumes[0] - pauses[0]) + (resumes[1] - pauses[1])
        sla = try await world.ana.sla(t.id)
        #expect(sla.clock(.resolution)?.dueUnixUs == created + 240 * minute + pausedTotal)
        #expect(sla.clock(.nextResponse)?.dueUnixUs == back.message.createdUnixUs + 30 * minute)
        #expect(back.ticket.slaDueUnixUs == back.message.createdUnixUs + 30 * minute)

        // Solved stops every clock; a customer's reopen resumes resolution
        // (the solved time does not count) and starts a next response.
        let solved = try await world.ana.reply(t.id, "Done", status: .solved)
        #expect(solved.ticket.slaDueUnixUs == 0)
        sla = try await world.ana.sla(t.id)
        #expect(sla.clocks.allSatisfy { $0.state == .stopped })
        try await Task.sleep(for: .milliseconds(200))
        let reopened = try await world.admin.reply(t.id, "It broke again", author: .customer)
        #expect(reopened.ticket.status == .open && !reopened.followUp)
        sla = try await world.ana.sla(t.id)
        let solvedFor = reopened.message.createdUnixUs - solved.message.createdUnixUs
        #expect(sla.clock(.resolution)?.state == .running)
        #expect(sla.clock(.resolution)?.dueUnixUs == created + 240 * minute + pausedTotal + solvedFor)
        #expect(sla.clock(.nextResponse, cycle: 2)?.state == .running)
        #expect(try await world.ana.slaHistory(t.id).events.last?.kind == .clockStarted)
    }

    @Test func changingTheCalendarOrThePolicyRecomputesDueTimesExactly() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        let office = try await mia.createCalendar("Office", zone: "UTC", hours: (1...5).map { day($0, "09:00", "17:00") })
        let policy = try await mia.createPolicy("Office hours", calendar: office.id, first: 8 * 60)
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("Recompute", requester: ada, assignee: "ana", team: "billing")
        let expected = try await mia.due(office.id, from: t.createdUnixUs, minutes: 8 * 60).dueUnixUs
        #expect(t.slaDueUnixUs == expected)
        // The due day becomes a holiday: the due time moves to the next working day, exactly.
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        let dueDay = f.string(from: Date(timeIntervalSince1970: TimeInterval(expected / 1_000_000) - 1))
        var changed = office
        changed.holidays = [dueDay]
        let updated = try await mia.updateCalendar(changed, mask: ["holidays"])
        let moved = try await mia.due(office.id, from: t.createdUnixUs, minutes: 8 * 60).dueUnixUs
        #expect(updated.version == 2)
        #expect(moved > expected, "a holiday on \(dueDay) moves the due time later")
        #expect(try await world.ana.get(t.id).slaDueUnixUs == moved)
        #expect(try await world.ana.sla(t.id).clock(.firstResponse)?.dueUnixUs == moved)
        // The policy's target doubles: due after 16 working hours on the changed calendar.
        _ = try await mia.call("UpdateSlaPolicy", Crm_Service_V1_UpdateSlaPolicyRequest.with {
            $0.policy = policy
            $0.policy.firstResponseMinutes = 16 * 60
            $0.updateMask = ["first_response_minutes"]
            $0.expectedVersion = 1
        }, as: SPolicy.self)
        #expect(try await world.ana.get(t.id).slaDueUnixUs == (try await mia.due(office.id, from: t.createdUnixUs, minutes: 16 * 60).dueUnixUs))
        // A recompute adds no clock change to the history.
        #expect(try await world.ana.slaHistory(t.id).events.map(\.kind) == [.clockStarted, .clockStarted, .policyMatched])
        // Without the policy, no clock has a target: no due time.
        let _: Crm_Service_V1_DeleteSlaPolicyResponse = try await mia.call("DeleteSlaPolicy", Crm_Service_V1_DeleteSlaPolicyRequest.with { $0.id = policy.id })
        #expect(try await world.ana.get(t.id).slaDueUnixUs == 0)
        #expect(try await world.ana.sla(t.id).policyID == 0)
        #expect(try await world.ana.slaHistory(t.id).events.last?.kind == .policyMatched)
    }

    @Test func theFirstMatchingPolicyInOrderWins() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        let cal = try await mia.alwaysOpen()
        let acme = try await world.contacts.createOrganization("Acme").id
        let ada = try await world.person("Ada", "Lovelace")
        let catchAll = try await mia.createPolicy("Everyone", calendar: cal.id, position: 30, first: 120)
        let vip = try await mia.createPolicy("Billing VIPs", calendar: cal.id, position: 20, first: 30,
                                             conditions: .with { $0.teams = ["billing"]; $0.tags = ["vip", "gold"] })
        let urgent = try await mia.createPolicy("Urgent", calendar: cal.id, position: 10, first: 15,
                                                conditions: .with { $0.priorities = [.urgent, .high] })
        let incident = try await mia.createPolicy("Acme incidents", calendar: cal.id, position: 10, first: 5,
                                                  conditions: .with { $0.types = [.incident]; $0.organizationIds = [acme] })
        func policy(of ticket: STicket) async throws -> Int64 { try await world.admin.sla(ticket.id).policyID }
        let u = try await world.admin.create("U", requester: ada, priority: .urgent, team: "billing")
        let v = try await world.admin.create("V", requester: ada, tags: ["gold"], team: "billing")
        let n = try await world.admin.create("N", requester: ada, team: "billing")
        let i = try await world.admin.create("I", requester: ada, organization: acme, type: .incident, priority: .urgent)
        #expect(try await policy(of: u) == urgent.id)
        #expect(try await policy(of: v) == vip.id)
        #expect(try await policy(of: n) == catchAll.id)
        #expect(try await policy(of: i) == urgent.id, "position 10 like Acme incidents, and made earlier: (position, id)")
        // A ticket that starts to match another policy takes its targets, from the same start.
        var change = n
        change.priority = .high
        let high = try await world.admin.update(change, mask: ["priority"])
        #expect(high.slaDueUnixUs == n.createdUnixUs + 15 * minute)
        let history = try await world.admin.slaHistory(n.id).events.filter { $0.kind == .policyMatched }.map(\.policyID)
        #expect(history == [catchAll.id, urgent.id])
        // Listed in the order they are tried.
        var ids: [Int64] = []
        var token = ""
        repeat {
            let page: Crm_Service_V1_ListSlaPoliciesResponse = try await world.ana.call("ListSlaPolicies", Crm_Service_V1_ListSlaPoliciesRequest.with {
                $0.pageSize = 3; $0.pageToken = token
            })
            ids += page.policies.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(ids == [urgent.id, incident.id, vip.id, catchAll.id])
        let got: SPolicy = try await world.ana.call("GetSlaPolicy", Crm_Service_V1_GetSlaPolicyRequest.with { $0.id = vip.id })
        #expect(got.conditions.tags == ["vip", "gold"] && got.version == 1)
    }

    @Test func policiesAreCheckedAndOnlyManagersChangeThem() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        let cal = try await mia.alwaysOpen()
        func refused(_ mention: String, code: Crm_Rpc_V1_StatusCode = .invalidArgument, calendar: Int64? = nil, position: Int32 = 0,
                     first: Int32 = 60, next: Int32 = 0, conditions: Crm_Service_V1_SlaConditions = .init(), name: String = "P") async {
            await expectRPCError(code, mentioning: mention) {
                try await mia.createPolicy(name, calendar: calendar ?? cal.id, position: position, first: first, next: next, conditions: conditions)
            }
        }
        await refused("policy.name is required", name: "")
        await refused("policy.calendar_id is required", calendar: 0)
        await refused("policy.calendar_id: calendar 77 does not exist", code: .notFound, calendar: 77)
        await refused("policy.position is -1", position: -1)
        await refused("policy.first_response_minutes is 525601", first: 525_601)
        await refused("policy.next_response_minutes is -5", next: -5)
        await refused("at least one of first_response_minutes, next_response_minutes and resolution_minutes", first: 0)
        await refused("policy.conditions.priorities[1] 9 is out of range", conditions: .with { $0.priorities = [.high, .UNRECOGNIZED(9)] })
        await refused("policy.conditions.types[0] is required", conditions: .with { $0.types = [.unspecified] })
        await refused("policy.conditions.teams[0] \"Bad Team\" is not a CRM name", conditions: .with { $0.teams = ["Bad Team"] })
        await refused("policy.conditions.organization_ids[0] must be a positive id", conditions: .with { $0.organizationIds = [-2] })
        await refused("policy.conditions.tags[0] \"no spaces\" is not a tag", conditions: .with { $0.tags = ["no spaces"] })
        await refused("policy.conditions.tags has more than 50 values", conditions: .with { $0.tags = (0...50).map { "t\($0)" } })
        await expectRPCError(.permissionDenied, mentioning: "needs service.sla.write at scope all") {
            try await world.ana.createPolicy("Mine", calendar: cal.id, first: 5)
        }
        let p = try await mia.createPolicy("P", calendar: cal.id, first: 60, key: "p-1")
        #expect(try await mia.createPolicy("P", calendar: cal.id, first: 60, key: "p-1").id == p.id)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"p-1\" was already used") {
            try await mia.createPolicy("P", calendar: cal.id, first: 61, key: "p-1")
        }
        await expectRPCError(.aborted, mentioning: "version") {
            try await mia.call("UpdateSlaPolicy", Crm_Service_V1_UpdateSlaPolicyRequest.with {
                $0.policy = p; $0.updateMask = ["name"]; $0.expectedVersion = 9
            }, as: SPolicy.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "update_mask") {
            try await mia.call("UpdateSlaPolicy", Crm_Service_V1_UpdateSlaPolicyRequest.with { $0.policy = p; $0.updateMask = ["nope"] }, as: SPolicy.self)
        }
        await expectRPCError(.notFound, mentioning: "id: SLA policy 404 does not exist") {
            try await world.ana.call("GetSlaPolicy", Crm_Service_V1_GetSlaPolicyRequest.with { $0.id = 404 }, as: SPolicy.self)
        }
        await expectRPCError(.permissionDenied, mentioning: "needs service.sla.write at scope all") {
            try await world.ana.call("DeleteSlaPolicy", Crm_Service_V1_DeleteSlaPolicyRequest.with { $0.id = p.id }, as: Crm_Service_V1_DeleteSlaPolicyResponse.self)
        }
        await expectRPCError(.aborted, mentioning: "version") {
            try await mia.call("DeleteSlaPolicy", Crm_Service_V1_DeleteSlaPolicyRequest.with { $0.id = p.id; $0.expectedVersion = 3 },
                               as: Crm_Service_V1_DeleteSlaPolicyResponse.self)
        }
    }

    @Test func queuesOrderBySlaDueWithTicketsWithoutAClockLast() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        let cal = try await mia.alwaysOpen()
        _ = try await mia.createPolicy("Urgent", calendar: cal.id, position: 1, first: 10, conditions: .with { $0.priorities = [.urgent] })
        _ = try await mia.createPolicy("High", calendar: cal.id, position: 2, first: 20, conditions: .with { $0.priorities = [.high] })
        _ = try await mia.createPolicy("Normal", calendar: cal.id, position: 3, first: 60, conditions: .with { $0.priorities = [.normal] })
        let ada = try await world.person("Ada", "Lovelace")
        let plan: [Crm_Service_V1_Priority] = [.normal, .urgent, .low, .high, .normal]
        var ids: [Int64] = []
        for (i, p) in plan.enumerated() { ids.append(try await world.admin.create("T\(i)", requester: ada, priority: p, team: "billing").id) }
        func order(_ indexes: [Int]) -> [Int64] { indexes.map { ids[$0] } }
        #expect(try await world.admin.queueIDs { $0.order = .slaDue } == order([1, 3, 0, 4, 2]))
        #expect(try await world.admin.queueIDs(pageSize: 2) { $0.order = .slaDue } == order([1, 3, 0, 4, 2]), "pages join up")
        #expect(try await world.ana.queueIDs { $0.order = .slaDue; $0.team = "billing"; $0.unassigned = true } == order([1, 3, 0, 4, 2]))
        #expect(try await world.admin.queueIDs { $0.order = .slaDue; $0.priority = .normal } == order([0, 4]))
        #expect(try await world.admin.queueIDs { $0.order = .slaDue; $0.status = .new } == order([1, 3, 0, 4, 2]))
        // Answered, the urgent one has no running clock: it goes last (ties by age).
        _ = try await world.admin.reply(ids[1], "Looking")
        #expect(try await world.admin.queueIDs(pageSize: 1) { $0.order = .slaDue } == order([3, 0, 4, 1, 2]))
        #expect(try await world.admin.queueIDs { $0.order = .slaDue; $0.view = .any } == order([3, 0, 4, 1, 2]))
    }

    @Test func ticketSlaReadsAndTheTimerMethodsCheckTheirCallers() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.admin.create("Scope", requester: ada, assignee: "ben", team: "billing")
        let none = try await world.ana.sla(t.id)
        #expect(none.policyID == 0 && none.clocks.count == 2 && none.clocks.allSatisfy { $0.dueUnixUs == 0 }, "clocks run without a policy, with no target")
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket \(t.id) does not exist") { try await world.cy.sla(t.id) }
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket 9999 does not exist") { try await world.ana.sla(9999) }
        await expectRPCError(.invalidArgument, mentioning: "ticket_id is required") { try await world.ana.sla(0) }
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket \(t.id) does not exist") { try await world.cy.slaHistory(t.id) }
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token this list returned") {
            try await world.ana.slaHistory(t.id, token: "W3sidCI6IngifV0")
        }
        await expectRPCError(.invalidArgument, mentioning: "page_size must not be negative") { try await world.ana.slaHistory(t.id, pageSize: -1) }
        await expectRPCError(.permissionDenied, mentioning: "service.ticket.read") { try await world.pat.sla(t.id) }
        await expectRPCError(.invalidArgument, mentioning: "limit is 0") {
            try await world.mia.call("FireSlaTimers", Crm_Service_V1_FireSlaTimersRequest(), as: Crm_Service_V1_FireSlaTimersResponse.self)
        }
        await expectRPCError(.permissionDenied, mentioning: "needs service.sla.run at scope all") {
            try await world.ana.call("FireSlaTimers", Crm_Service_V1_FireSlaTimersRequest.with { $0.limit = 5 }, as: Crm_Service_V1_FireSlaTimersResponse.self)
        }
        await expectRPCError(.permissionDenied, mentioning: "service.sla.run") {
            try await world.pat.call("RunSlaTimers", Crm_Service_V1_RunSlaTimersRequest(), as: Crm_Service_V1_RunSlaTimersResponse.self)
        }
        let ran: Crm_Service_V1_RunSlaTimersResponse = try await world.mia.call("RunSlaTimers", Crm_Service_V1_RunSlaTimersRequest())
        #expect(ran.breaches == 0)
    }
}
