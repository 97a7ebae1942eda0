import CRMPluginKit
import ServiceContract

typealias EscalationRule = Crm_Service_V1_EscalationRule

/// Escalation rules: what a team does with its ticket when an SLA clock
/// warns or breaches. FireSlaTimers publishes the SLA event and then calls
/// EscalateTicket in-process, in a savepoint of its own, so a rule that
/// fails (its target agent left the roster since) rolls back alone and
/// never holds up the timers.
enum Escalations {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "EscalateTicket", escalate)
    }

    static func validate(_ db: Database, _ rules: inout [EscalationRule], team: String) throws {
        guard rules.count <= 10 else { throw PluginError.invalidArgument("routing.escalations has more than 10 rules") }
        for i in rules.indices {
            let field = "routing.escalations[\(i)]"
            var r = rules[i]
            try Check.known(r.trigger.rawValue, 1...2, "\(field).trigger")
            for (j, clock) in r.clocks.enumerated() {
                try Check.known(clock.rawValue, 1...3, "\(field).clocks[\(j)]")
                if r.clocks[..<j].contains(clock) { throw PluginError.invalidArgument("\(field).clocks[\(j)] repeats \(clock)") }
            }
            try Check.name(r.reassignTeam, "\(field).reassign_team")
            try Check.name(r.reassignTo, "\(field).reassign_to")
            guard r.notify.count <= 20 else { throw PluginError.invalidArgument("\(field).notify has more than 20 entries") }
            for (j, user) in r.notify.enumerated() {
                try Validate.required(user, "\(field).notify[\(j)]")
                try Check.name(user, "\(field).notify[\(j)]")
            }
            r.notify = Set(r.notify).sorted()
            guard !r.reassignTeam.isEmpty || !r.reassignTo.isEmpty || r.raisePriority || !r.notify.isEmpty else {
                throw PluginError.invalidArgument("\(field) does nothing: set reassign_team, reassign_to, raise_priority or notify")
            }
            let target = r.reassignTeam.isEmpty ? team : r.reassignTeam
            if !r.reassignTeam.isEmpty, try !Teams.exists(db, r.reassignTeam) {
                throw PluginError.notFound("\(field).reassign_team: team \"\(r.reassignTeam)\" does not exist (SetTeam makes it)")
            }
            if !r.reassignTo.isEmpty, try !Teams.isAgent(db, r.reassignTo, of: target) {
                throw PluginError.failedPrecondition("\(field).reassign_to: \(r.reassignTo) is not an agent of team \"\(target)\"")
            }
            rules[i] = r
        }
    }

    /// A rule in words, for the audit trail.
    static func describe(_ r: EscalationRule) -> String {
        var does: [String] = []
        if !r.reassignTeam.isEmpty { does.append("team \(r.reassignTeam)") }
        if !r.reassignTo.isEmpty { does.append("assign \(r.reassignTo)") }
        if r.raisePriority { does.append("raise priority") }
        if !r.notify.isEmpty { does.append("notify " + r.notify.joined(separator: " ")) }
        let clocks = r.clocks.isEmpty ? "any clock" : r.clocks.map { "\($0)".uppercasedSnake }.joined(separator: "/")
        return "on \(r.trigger == .warning ? "WARNING" : "BREACH") of \(clocks): " + does.joined(separator: ", ")
    }

    /// The rules of `team` for a trigger and clock.
    static func rules(_ db: Database, team: String, trigger: Crm_Service_V1_SlaTrigger, clock: SlaClockKind) throws -> [EscalationRule] {
        guard !team.isEmpty, let stored = try TeamRoutingMethods.stored(db, team) else { return [] }
        return stored.escalations.filter { $0.trigger == trigger && ($0.clocks.isEmpty || $0.clocks.contains(clock)) }
    }

    /// Called by FireSlaTimers after it published an event for a ticket:
    /// EscalateTicket in-process when the ticket's team has a rule for it.
    /// True when it was called (the ticket may have changed).
    static func afterFire(_ ctx: CallContext, _ db: Database, _ ticket: Ticket, trigger: Crm_Service_V1_SlaTrigger,
                          clock: SlaClockKind) throws -> Bool {
        guard try !rules(db, team: ticket.team, trigger: trigger, clock: clock).isEmpty else { return false }
        let request = Crm_Service_V1_EscalateTicketRequest.with {
            $0.ticketID = ticket.id
            $0.trigger = trigger
            $0.clock = clock
        }
        do {
            _ = try ctx.host.invoke(Service.service + "EscalateTicket", request: try request.serializedBytes(), parent: ctx)
        } catch {
            ctx.host.log(.warning, "escalation of ticket \(ticket.id) failed and was rolled back: \(error)")
        }
        return true
    }

    static func escalate(_ ctx: CallContext, _ req: Crm_Service_V1_EscalateTicketRequest) throws -> Crm_Service_V1_EscalateTicketResponse {
        try Validate.positiveID(req.ticketID, "ticket_id")
        try Check.known(req.trigger.rawValue, 1...2, "trigger")
        try Check.known(req.clock.rawValue, 1...3, "clock")
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "escalating tickets needs service.sla.run at scope all")
        }
        let db = try ctx.database
        var ticket = try TicketStore(db: db).require(req.ticketID, field: "ticket_id")
        var response = Crm_Service_V1_EscalateTicketResponse()
        response.ticket = ticket
        guard ticket.mergedIntoID == 0, !SlaEngine.done(ticket.status) else { return response }
        let rules = try Self.rules(db, team: ticket.team, trigger: req.trigger, clock: req.clock)
        guard !rules.isEmpty else { return response }
        let before = ticket
        var notify = Set<String>()
        var raise = false
        var target: (team: String, agent: String)?
        for r in rules {
            raise = raise || r.raisePriority
            notify.formUnion(r.notify)
            if !r.reassignTeam.isEmpty {
                target = (r.reassignTeam, r.reassignTo)
            } else if !r.reassignTo.isEmpty {
                target = (target?.team ?? ticket.team, r.reassignTo)
            }
        }
        if raise, let higher = Crm_Service_V1_Priority(rawValue: min(4, ticket.priority.rawValue + 1)) { ticket.priority = higher }
        if let target, target.team != ticket.team || target.agent != ticket.assignee {
            // A target no longer valid (the agent left the roster) is not
            // applied; the rest of the escalation is.
            do {
                try Teams.checkPlacement(db, assignee: target.agent, team: target.team, field: "")
                ticket.team = target.team
                ticket.assignee = target.agent
            } catch let error as PluginError {
                ctx.host.log(.warning, "escalation of ticket \(ticket.id) keeps its assignment: \(error.message)")
            }
        }
        let why = " by escalation (\(req.trigger == .warning ? "SLA warning" : "SLA breach"))"
        try TicketChanges.commit(ctx, db, &ticket, before: before, action: "escalate", source: .escalation, why: why)
        var event = Crm_Service_V1_EscalationEvent()
        event.trigger = req.trigger
        event.clock = req.clock
        event.notify = notify.sorted()
        event.previousAssignee = before.assignee
        event.previousTeam = before.team
        event.previousPriority = before.priority
        // Moved unassigned into a team that routes: routed there now.
        if ticket.team != before.team { try RoutingEngine.routeNew(ctx, db, &ticket) }
        event.ticket = ticket
        var about = About()
        if ticket.requesterID > 0 { about.personIds = [ticket.requesterID] }
        if ticket.organizationID > 0 { about.organizationIds = [ticket.organizationID] }
        about.summary = "Ticket #\(ticket.id) \"\(ticket.subject.prefix(120))\" escalated" + why
        event.about = about
        _ = try ctx.publish("service.ticket.escalated", event,
                            about: EventSubject(entity: "service.ticket", recordID: String(ticket.id), owner: ownerOrNil(ticket.assignee)))
        response.ticket = ticket
        response.rulesApplied = Int32(clamping: rules.count)  // at most 10 rules a team
        return response
    }
}
