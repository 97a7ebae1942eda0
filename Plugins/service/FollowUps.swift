import CRMPluginKit
import ServiceContract

/// A customer reply that may not reopen its ticket (closed, or solved
/// longer ago than the reopen window) opens a follow-up instead: closed
/// stays final, and the customer is still heard.
enum FollowUps {
    /// Closes `old` if it is still SOLVED (its window has passed), and
    /// opens its follow-up: same requester, organization, channel, type,
    /// priority, tags, custom fields and team, unassigned (or the
    /// replier's, as any new ticket that would leave their reach), with
    /// follow_up_of_id and a RELATED link naming `old`.
    static func open(_ ctx: CallContext, _ db: Database, after old: Ticket, scope: RecordScope, now: Int64) throws -> Ticket {
        let store = TicketStore(db: db)
        if old.status == .solved {
            var closed = old
            TicketWorkflow.move(&closed, to: .closed, now: now)
            closed.version += 1
            closed.updatedUnixUs = now
            try store.save(&closed, old: old)
            try ServiceAudit.ticket(ctx, "status", old: old, new: closed)
            try ServiceEvents.publish(ctx, "status_changed", closed, summary: "is closed (its reopen window passed)") {
                $0.previousStatus = old.status
            }
        }
        var given = Ticket()
        given.subject = old.subject
        given.requesterID = old.requesterID
        given.organizationID = old.organizationID
        given.channel = old.channel
        given.type = old.type
        given.priority = old.priority
        given.tags = old.tags
        given.customFields = old.customFields
        given.team = try Teams.exists(db, old.team) ? old.team : ""
        given.followUpOfID = old.id
        // The old ticket's values were valid when written; a definition
        // changed since must not make the customer's reply fail.
        var ticket = try TicketMethods.open(ctx, db, given, field: "follow_up.", scope: scope, customFields: false)
        let routed = try RoutingEngine.placeNew(db, &ticket)
        try store.insert(&ticket)
        try RoutingEngine.record(ctx, ticket, routed, summary: "opened as a follow-up of ticket #\(old.id)")
        _ = try TicketLinks.insert(ctx, db, ticket: ticket.id, kind: .related, other: old.id, owner: ticket.assignee, now: now)
        return ticket
    }
}
