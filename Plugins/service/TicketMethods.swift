import CRMPluginKit
import ServiceContract
import ContactsLinkKit

/// Create, read and update tickets.
enum TicketMethods {
    static let updateMask = UpdateMask(fields: [
        "subject": 2, "description": 3, "requester_id": 4, "organization_id": 5, "channel": 6, "type": 7, "priority": 8,
        "tags": 10, "custom_fields": 11, "followers": 14,
    ], elsewhere: [
        "status": "SetTicketStatus", "assignee": "AssignTicket", "team": "AssignTicket", "merged_into_id": "MergeTickets",
    ])

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "CreateTicket", create)
        def.unary(Service.service + "GetTicket", get)
        def.unary(Service.service + "UpdateTicket", update)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateTicketRequest) throws -> Ticket {
        let db = try ctx.database
        let store = TicketStore(db: db)
        let scope = ctx.scope
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateTicket", req, key: \.idempotencyKey)
        if let id = previous { return try retried(db, store, id, scope, method: "CreateTicket", key: req.idempotencyKey) }
        guard req.ticket.status == .unspecified else {
            throw PluginError.invalidArgument("ticket.status: a new ticket is NEW (or OPEN when assigned); SetTicketStatus moves it")
        }
        var ticket = try open(ctx, db, req.ticket, field: "ticket.", scope: scope)
        let routed = try RoutingEngine.placeNew(db, &ticket)
        try store.insert(&ticket)
        try Service.idempotency.record(db, claim, resultID: ticket.id)
        try RoutingEngine.record(ctx, ticket, routed, summary: "opened")
        return ticket
    }

    /// A new ticket from the fields a creator gives, checked and placed:
    /// shared by CreateTicket, the portal and follow-ups.
    static func open(_ ctx: CallContext, _ db: Database, _ given: Ticket, field: String, scope: RecordScope,
                     customFields: Bool = true) throws -> Ticket {
        var t = Ticket()
        t.subject = given.subject
        t.description_p = given.description_p
        t.requesterID = given.requesterID
        t.organizationID = given.organizationID
        t.channel = given.channel
        t.type = given.type
        t.priority = given.priority
        t.tags = given.tags
        t.customFields = given.customFields
        t.assignee = given.assignee
        t.team = given.team
        t.followers = given.followers
        t.followUpOfID = given.followUpOfID
        try TicketValidation.fields(db, &t, field: field, customFields: customFields)
        let person = try ContactsLink.requirePerson(ctx, t.requesterID, field: "\(field)requester_id")
        if t.organizationID == 0 {
            t.organizationID = person.organizationID
        } else {
            try ContactsLink.requireOrganization(ctx, t.organizationID, field: "\(field)organization_id")
        }
        try Check.name(t.assignee, "\(field)assignee")
        if !t.assignee.isEmpty { _ = try scope.owner(for: t.assignee, "\(field)assignee: the ticket") }
        try Teams.checkPlacement(db, assignee: t.assignee, team: t.team, field: field)
        // Unassigned, the ticket must still be the creator's to see: in a
        // team queue they work, or else theirs.
        if t.assignee.isEmpty, try !TicketScope.reaches(db, scope, t), let user = scope.user {
            t.assignee = user
            try Teams.checkPlacement(db, assignee: t.assignee, team: t.team, field: field)
        }
        try TicketScope.checkResult(db, scope, t, "the ticket")
        let now = UTCClock.nowMicros()
        t.status = t.assignee.isEmpty ? .new : .open
        t.version = 1
        t.createdUnixUs = now
        t.updatedUnixUs = now
        t.statusChangedUnixUs = now
        return t
    }

    /// An idempotent create's retry: the ticket made under the key, unless
    /// it is out of this caller's reach (another caller's key).
    static func retried(_ db: Database, _ store: TicketStore, _ id: Int64, _ scope: RecordScope,
                        method: String, key: String) throws -> Ticket {
        let ticket = try store.require(id, field: "idempotency_key")
        guard try TicketScope.reaches(db, scope, ticket) else { throw IdempotencyKeys.mismatch(method: method, key: key) }
        return ticket
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetTicketRequest) throws -> Ticket {
        try TicketStore(db: ctx.database).require(req.id, field: "id", readableIn: ctx.scope)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Service_V1_UpdateTicketRequest) throws -> Ticket {
        let fields = try updateMask.resolve(req.updateMask, req.ticket)
        let db = try ctx.database
        let store = TicketStore(db: db)
        var ticket = try store.require(req.ticket.id, field: "ticket.id", writableIn: ctx.scope)
        try Validate.expectedVersion(req.expectedVersion, ticket.version, noun: "ticket \(ticket.id)")
        if ticket.status == .closed {
            throw PluginError.failedPrecondition("ticket.id: ticket \(ticket.id) is closed; closed is final")
        }
        let before = ticket
        let source = req.ticket
        if fields.contains("subject") { ticket.subject = source.subject }
        if fields.contains("description") { ticket.description_p = source.description_p }
        if fields.contains("requester_id") { ticket.requesterID = source.requesterID }
        if fields.contains("organization_id") { ticket.organizationID = source.organizationID }
        if fields.contains("channel") { ticket.channel = source.channel }
        if fields.contains("type") { ticket.type = source.type }
        if fields.contains("priority") { ticket.priority = source.priority }
        if fields.contains("tags") { ticket.tags = source.tags }
        if fields.contains("custom_fields") { ticket.customFields = source.customFields }
        if fields.contains("followers") { ticket.followers = source.followers }
        try TicketValidation.fields(db, &ticket, field: "ticket.", customFields: fields.contains("custom_fields"))
        if ticket.requesterID != before.requesterID {
            _ = try ContactsLink.requirePerson(ctx, ticket.requesterID, field: "ticket.requester_id")
        }
        if ticket.organizationID != before.organizationID {
            try ContactsLink.requireOrganization(ctx, ticket.organizationID, field: "ticket.organization_id")
        }
        guard ticket != before else { return ticket }
        ticket.version += 1
        ticket.updatedUnixUs = UTCClock.nowMicros()
        try store.save(&ticket, old: before)
        try ServiceAudit.ticket(ctx, "update", old: before, new: ticket)
        try ServiceEvents.publish(ctx, "updated", ticket, summary: "updated")
        return ticket
    }
}
