import CRMPluginKit
import ServiceContract

/// Public replies and internal notes, and what a reply does to its ticket.
enum TicketMessages {
    typealias Kind = Crm_Service_V1_MessageKind
    typealias Author = Crm_Service_V1_AuthorKind

    struct Outcome {
        var message: TicketMessage
        var ticket: Ticket
        var followUp: Bool
    }

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "AddMessage", add)
        def.unary(Service.service + "ListMessages", list)
    }

    static func add(_ ctx: CallContext, _ req: Crm_Service_V1_AddMessageRequest) throws -> Crm_Service_V1_AddMessageResponse {
        try Validate.positiveID(req.ticketID, "ticket_id")
        try Check.known(req.kind.rawValue, 1...2, "kind")
        try Check.known(req.authorKind.rawValue, 1...2, "author_kind")
        let body = try TicketValidation.body(req.body, "body")
        if req.authorKind == .customer && req.kind == .internal {
            throw PluginError.invalidArgument("kind: a CUSTOMER message is PUBLIC; internal notes are agents'")
        }
        if req.status != .unspecified {
            if req.authorKind == .customer {
                throw PluginError.invalidArgument("status: only an AGENT message may set the status")
            }
            guard [TicketStatus.open, .pending, .onHold, .solved].contains(req.status) else {
                throw PluginError.invalidArgument("status: a message may leave its ticket OPEN, PENDING, ON_HOLD or SOLVED")
            }
        }
        let db = try ctx.database
        let scope = ctx.scope
        let (previous, claim) = try Service.idempotency.check(db, method: "AddMessage", req, key: \.idempotencyKey)
        if let id = previous {
            let outcome = try retried(db, id, requested: req.ticketID, scope, method: "AddMessage", key: req.idempotencyKey)
            return response(outcome)
        }
        let outcome = try post(ctx, db, ticketID: req.ticketID, field: "ticket_id", kind: req.kind, author: req.authorKind,
                               body: body, status: req.status, scope: scope)
        try Service.idempotency.record(db, claim, resultID: outcome.message.id)
        return response(outcome)
    }

    static func response(_ outcome: Outcome) -> Crm_Service_V1_AddMessageResponse {
        var response = Crm_Service_V1_AddMessageResponse()
        response.message = outcome.message
        response.ticket = outcome.ticket
        response.followUp = outcome.followUp
        return response
    }

    /// A retried reply: the message made under the key and its ticket now.
    static func retried(_ db: Database, _ id: Int64, requested: Int64, _ scope: RecordScope,
                        method: String, key: String) throws -> Outcome {
        let store = TicketStore(db: db)
        guard let message = try MessageStore(db: db).load(id), let ticket = try store.load(message.ticketID),
              try TicketScope.reaches(db, scope, ticket) else { throw IdempotencyKeys.mismatch(method: method, key: key) }
        let landed = try store.load(requested).map(store.resolved)?.id ?? requested
        return Outcome(message: message, ticket: ticket, followUp: message.originalTicketID != landed)
    }

    /// Writes a message and applies its effects (ServiceContract's
    /// AddMessage comment has them); shared with the portal's reply.
    static func post(_ ctx: CallContext, _ db: Database, ticketID: Int64, field: String, kind: Kind, author: Author,
                     body: String, status: TicketStatus, scope: RecordScope, authorPersonID: Int64 = 0) throws -> Outcome {
        let store = TicketStore(db: db)
        let requested = try store.require(ticketID, field: field, writableIn: scope)
        var ticket = try store.resolved(requested)
        if ticket.id != requested.id, try !TicketScope.reaches(db, scope, ticket) {
            throw PluginError(.permissionDenied, "\(field): ticket \(ticketID) was merged into ticket \(ticket.id), "
                + "which is outside your record scope")
        }
        let now = UTCClock.nowMicros()
        var followUp = false
        if author == .agent {
            if ticket.status == .closed {
                throw PluginError.failedPrecondition("\(field): ticket \(ticket.id) is closed; closed is final")
            }
            if status != .unspecified && status != ticket.status && !TicketWorkflow.allowed(from: ticket.status, to: status) {
                throw PluginError.failedPrecondition("status: ticket \(ticket.id) cannot go from "
                    + "\(ServiceEvents.protoName(ticket.status)) to \(ServiceEvents.protoName(status))")
            }
        } else if ticket.status == .closed || (ticket.status == .solved && !withinWindow(ctx, ticket, now: now)) {
            ticket = try FollowUps.open(ctx, db, after: ticket, scope: scope, now: now)
            followUp = true
        }
        var message = TicketMessage()
        message.ticketID = ticket.id
        message.originalTicketID = ticket.id
        message.kind = kind
        message.authorKind = author
        message.authorUser = author == .agent ? (ctx.user ?? "") : ""
        // By email the author is the sender, who may be someone copied in.
        message.authorPersonID = author == .customer ? (authorPersonID != 0 ? authorPersonID : ticket.requesterID) : 0
        message.body = body
        message.createdUnixUs = now
        try MessageStore(db: db).insert(&message)
        try ServiceAudit.message(ctx, "create", old: nil, new: message, owner: ticket.assignee)

        let before = ticket
        if author == .agent {
            if kind == .public {
                if ticket.firstResponseUnixUs == 0 { ticket.firstResponseUnixUs = now }
                ticket.lastAgentReplyUnixUs = now
                if ticket.status == .new && status == .unspecified { TicketWorkflow.move(&ticket, to: .open, now: now) }
            }
            if status != .unspecified && status != ticket.status { TicketWorkflow.move(&ticket, to: status, now: now) }
        } else {
            ticket.lastCustomerReplyUnixUs = now
            switch ticket.status {
            case .pending, .onHold:
                TicketWorkflow.move(&ticket, to: .open, now: now)
            case .solved:
                TicketWorkflow.move(&ticket, to: .open, now: now)
                ticket.reopenCount = ticket.reopenCount.addingReportingOverflow(1).overflow ? .max : ticket.reopenCount + 1
            default:
                break
            }
        }
        ticket.version += 1
        ticket.updatedUnixUs = now
        try store.save(&ticket, old: before)
        if ticket.status != before.status { try ServiceAudit.ticket(ctx, "status", old: before, new: ticket) }
        if kind == .public {
            let who = author == .agent ? "answered" : "got a reply from the customer"
            try ServiceEvents.publish(ctx, "replied", ticket, summary: who) { $0.message = message }
        } else {
            try ServiceEvents.publish(ctx, "noted", ticket, summary: "got an internal note")
        }
        if ticket.status != before.status {
            let how = before.status == .solved ? "reopened by the customer's reply" : "is \(ServiceEvents.statusName(ticket.status))"
            try ServiceEvents.publish(ctx, "status_changed", ticket, summary: how) { $0.previousStatus = before.status }
            try SurveyInvitations.afterStatusChange(ctx, store.db, from: before.status, ticket)
        }
        return Outcome(message: message, ticket: ticket, followUp: followUp)
    }

    /// Whether a customer reply now still reopens a solved ticket.
    static func withinWindow(_ ctx: CallContext, _ ticket: Ticket, now: Int64) -> Bool {
        let (age, overflow) = now.subtractingReportingOverflow(ticket.solvedUnixUs)
        return !overflow && age <= ServiceConfig.reopenWindowMicros(ctx.host)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListMessagesRequest) throws -> Crm_Service_V1_ListMessagesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let ticket = try TicketStore(db: db).require(req.ticketID, field: "ticket_id", readableIn: ctx.scope)
        let page = try MessageStore(db: db).page(ticket: ticket.id, publicOnly: false, paging)
        var response = Crm_Service_V1_ListMessagesResponse()
        response.messages = page.rows
        response.nextPageToken = page.nextToken
        return response
    }
}
