import CRMPluginKit
import ServiceContract

/// Status transitions and assignment.
///
/// NEW -> OPEN, PENDING, ON_HOLD, SOLVED, CLOSED; OPEN, PENDING, ON_HOLD ->
/// one another, SOLVED, CLOSED; SOLVED -> OPEN (reopened), CLOSED; CLOSED
/// is final. Nothing returns to NEW: a ticket someone worked on is not new.
enum TicketWorkflow {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "SetTicketStatus", setStatus)
        def.unary(Service.service + "AssignTicket", assign)
    }

    static func allowed(from: TicketStatus, to: TicketStatus) -> Bool {
        switch (from, to) {
        case (_, .new), (.closed, _): return false
        case (.new, _), (.open, _), (.pending, _), (.onHold, _): return true
        case (.solved, .open), (.solved, .closed): return true
        default: return false
        }
    }

    /// Moves `t` to `status` at `now`, stamping the times that track it.
    static func move(_ t: inout Ticket, to status: TicketStatus, now: Int64) {
        t.status = status
        t.statusChangedUnixUs = now
        if status == .solved { t.solvedUnixUs = now }
        if status == .closed { t.closedUnixUs = now }
    }

    static func setStatus(_ ctx: CallContext, _ req: Crm_Service_V1_SetTicketStatusRequest) throws -> Ticket {
        try Check.known(req.status.rawValue, 1...6, "status")
        let db = try ctx.database
        let store = TicketStore(db: db)
        var ticket = try store.require(req.id, field: "id", writableIn: ctx.scope)
        try Validate.expectedVersion(req.expectedVersion, ticket.version, noun: "ticket \(ticket.id)")
        if ticket.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("id: ticket \(ticket.id) was merged into ticket \(ticket.mergedIntoID)")
        }
        guard ticket.status != req.status else { return ticket }
        guard allowed(from: ticket.status, to: req.status) else {
            let from = ServiceEvents.protoName(ticket.status)
            let why = ticket.status == .closed ? "closed is final" : "allowed from \(from): "
                + [TicketStatus.open, .pending, .onHold, .solved, .closed].filter { $0 != ticket.status && allowed(from: ticket.status, to: $0) }
                    .map(ServiceEvents.protoName).joined(separator: ", ")
            throw PluginError.failedPrecondition(
                "status: ticket \(ticket.id) cannot go from \(from) to \(ServiceEvents.protoName(req.status)) (\(why))")
        }
        let before = ticket
        let now = UTCClock.nowMicros()
        move(&ticket, to: req.status, now: now)
        ticket.version += 1
        ticket.updatedUnixUs = now
        try store.save(&ticket, old: before)
        try ServiceAudit.ticket(ctx, "status", old: before, new: ticket)
        try ServiceEvents.publish(ctx, "status_changed", ticket, summary: "is \(ServiceEvents.statusName(ticket.status))") {
            $0.previousStatus = before.status
        }
        try SurveyInvitations.afterStatusChange(ctx, db, from: before.status, ticket)
        return ticket
    }

    static func assign(_ ctx: CallContext, _ req: Crm_Service_V1_AssignTicketRequest) throws -> Ticket {
        let db = try ctx.database
        let store = TicketStore(db: db)
        let scope = ctx.scope
        var ticket = try store.require(req.id, field: "id", writableIn: scope)
        try Validate.expectedVersion(req.expectedVersion, ticket.version, noun: "ticket \(ticket.id)")
        if ticket.status == .closed {
            throw PluginError.failedPrecondition("id: ticket \(ticket.id) is closed; closed is final")
        }
        try Check.name(req.assignee, "assignee")
        if !req.assignee.isEmpty { _ = try scope.owner(for: req.assignee, "assignee: ticket \(ticket.id)") }
        try Teams.checkPlacement(db, assignee: req.assignee, team: req.team, field: "")
        let before = ticket
        ticket.assignee = req.assignee
        ticket.team = req.team
        try TicketScope.checkResult(db, scope, ticket, "ticket \(ticket.id)")
        try TicketChanges.commit(ctx, db, &ticket, before: before, action: "assign", source: .user)
        return ticket
    }
}
