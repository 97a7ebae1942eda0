import CRMPluginKit
import ServiceContract

typealias AssignmentSource = Crm_Service_V1_AssignmentSource

/// Commits a change of a ticket's fields, assignment and status made by
/// the module's own actors (routing, escalation, macros) and by
/// AssignTicket: one save, one audit entry, and the events for what
/// changed. It is the one place a ticket changes hands, so every
/// assignment is audited and published the same way, with its source.
enum TicketChanges {
    /// Saves `ticket` over `before` (the row as loaded) unless nothing
    /// changed. A NEW ticket that got an assignee becomes OPEN. Publishes
    /// service.ticket.updated (fields), assigned (assignee or team, with
    /// `source`) and status_changed, in that order. The caller checked
    /// placement and scope.
    static func commit(_ ctx: CallContext, _ db: Database, _ ticket: inout Ticket, before: Ticket, action: String,
                       source: AssignmentSource, why: String = "") throws {
        guard ticket != before else { return }
        let now = UTCClock.nowMicros()
        if ticket.status == .new && !ticket.assignee.isEmpty { TicketWorkflow.move(&ticket, to: .open, now: now) }
        let fieldsChanged = otherFields(before) != otherFields(ticket)
        let handsChanged = ticket.assignee != before.assignee || ticket.team != before.team
        ticket.version += 1
        ticket.updatedUnixUs = now
        try TicketStore(db: db).save(&ticket, old: before)
        try ServiceAudit.ticket(ctx, action, old: before, new: ticket)
        if fieldsChanged { try ServiceEvents.publish(ctx, "updated", ticket, summary: "updated" + why) }
        if handsChanged {
            let who = ticket.assignee.isEmpty ? "unassigned" : "assigned to \(ticket.assignee)"
            try ServiceEvents.publish(ctx, "assigned", ticket, summary: who + (ticket.team.isEmpty ? "" : " in team \(ticket.team)") + why) {
                $0.previousAssignee = before.assignee
                $0.previousTeam = before.team
                $0.source = source
            }
        }
        if ticket.status != before.status {
            try ServiceEvents.publish(ctx, "status_changed", ticket, summary: "is \(ServiceEvents.statusName(ticket.status))" + why) {
                $0.previousStatus = before.status
            }
            try SurveyInvitations.afterStatusChange(ctx, db, from: before.status, ticket)
        }
    }

    /// The ticket without what assignment, workflow and bookkeeping set.
    private static func otherFields(_ t: Ticket) -> Ticket {
        var c = t
        c.assignee = ""
        c.team = ""
        c.status = .unspecified
        c.version = 0
        c.updatedUnixUs = 0
        c.statusChangedUnixUs = 0
        c.solvedUnixUs = 0
        c.closedUnixUs = 0
        c.slaDueUnixUs = 0
        return c
    }
}
