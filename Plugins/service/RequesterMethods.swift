import CRMPluginKit
import ServiceContract

typealias RequesterTicket = Crm_Service_V1_RequesterTicket

/// The customer portal's methods: a web edge, acting as a CRM user with
/// service.portal.*, calls them for the person it authenticated (a
/// requester is a contacts person and never holds a socket). They answer
/// only that person's tickets, and only public messages: an internal note,
/// the assignee, the team, followers and custom fields never reach them.
enum RequesterMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "ListRequesterTickets", list)
        def.unary(Service.service + "GetRequesterTicket", get)
        def.unary(Service.service + "CreateRequesterTicket", create)
        def.unary(Service.service + "AddRequesterReply", reply)
    }

    static func view(_ t: Ticket) -> RequesterTicket {
        var v = RequesterTicket()
        v.id = t.id
        v.subject = t.subject
        v.description_p = t.description_p
        v.channel = t.channel
        v.status = t.status
        v.createdUnixUs = t.createdUnixUs
        v.updatedUnixUs = t.updatedUnixUs
        return v
    }

    /// The view with a page of its public messages.
    static func view(_ db: Database, _ t: Ticket, _ paging: Paging) throws -> RequesterTicket {
        var v = view(t)
        let page = try MessageStore(db: db).page(ticket: t.id, publicOnly: true, paging)
        v.messages = page.rows
        v.nextPageToken = page.nextToken
        return v
    }

    /// The requester's ticket (its survivor when merged), NOT_FOUND in the
    /// words of a missing id when it is another requester's.
    static func requesterTicket(_ db: Database, _ requester: Int64, _ id: Int64, _ scope: RecordScope, write: Bool) throws -> Ticket {
        try Validate.positiveID(requester, "requester_id")
        let store = TicketStore(db: db)
        let named: Ticket
        if write {
            named = try store.require(id, field: "ticket_id", writableIn: scope)
        } else {
            named = try store.require(id, field: "ticket_id", readableIn: scope)
        }
        let ticket = try store.resolved(named)
        guard ticket.requesterID == requester, named.requesterID == requester,
              try TicketScope.reaches(db, scope, ticket) else { throw TicketStore.missing(id, "ticket_id") }
        return ticket
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListRequesterTicketsRequest) throws
        -> Crm_Service_V1_ListRequesterTicketsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.positiveID(req.requesterID, "requester_id")
        var filter = SQLFilter()
        filter.add("requester_id = ?", .integer(req.requesterID))
        filter.add("merged_into_id = 0")
        TicketScope.apply(ctx.scope, to: &filter)
        if let after = paging.after { filter.add("id < ?", try tokenInt(after[0])) }
        let page = try fetchPage(try ctx.database, """
            SELECT \(TicketStore.columns) FROM service_tickets \(filter.clause) ORDER BY id DESC LIMIT ?
            """, filter.parameters, paging, decode: { view(TicketStore.decode($0)) }, key: { [$0[0]] })
        var response = Crm_Service_V1_ListRequesterTicketsResponse()
        response.tickets = page.rows
        response.nextPageToken = page.nextToken
        return response
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetRequesterTicketRequest) throws -> RequesterTicket {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let ticket = try requesterTicket(db, req.requesterID, req.ticketID, ctx.scope, write: false)
        return try view(db, ticket, paging)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateRequesterTicketRequest) throws -> RequesterTicket {
        let db = try ctx.database
        let store = TicketStore(db: db)
        let scope = ctx.scope
        let first = try Paging(pageSize: 0, pageToken: "", keyCount: 1)
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateRequesterTicket", req, key: \.idempotencyKey)
        if let id = previous {
            let ticket = try TicketMethods.retried(db, store, id, scope, method: "CreateRequesterTicket", key: req.idempotencyKey)
            return try view(db, ticket, first)
        }
        var given = Ticket()
        given.requesterID = req.requesterID
        given.subject = req.subject
        given.description_p = req.description_p
        given.channel = req.channel == .unspecified ? .web : req.channel
        given.team = req.team
        var ticket = try TicketMethods.open(ctx, db, given, field: "", scope: scope)
        let routed = try RoutingEngine.placeNew(db, &ticket)
        try store.insert(&ticket)
        try Service.idempotency.record(db, claim, resultID: ticket.id)
        try RoutingEngine.record(ctx, ticket, routed, summary: "opened by the customer")
        return try view(db, ticket, first)
    }

    static func reply(_ ctx: CallContext, _ req: Crm_Service_V1_AddRequesterReplyRequest) throws -> RequesterTicket {
        let body = try TicketValidation.body(req.body, "body")
        let db = try ctx.database
        let scope = ctx.scope
        let first = try Paging(pageSize: 0, pageToken: "", keyCount: 1)
        let (previous, claim) = try Service.idempotency.check(db, method: "AddRequesterReply", req, key: \.idempotencyKey)
        if let id = previous {
            let outcome = try TicketMessages.retried(db, id, requested: req.ticketID, scope, method: "AddRequesterReply",
                                                     key: req.idempotencyKey)
            var v = try view(db, outcome.ticket, first)
            v.followUp = outcome.followUp
            return v
        }
        let ticket = try requesterTicket(db, req.requesterID, req.ticketID, scope, write: true)
        let outcome = try TicketMessages.post(ctx, db, ticketID: ticket.id, field: "ticket_id", kind: .public, author: .customer,
                                              body: body, status: .unspecified, scope: scope)
        try Service.idempotency.record(db, claim, resultID: outcome.message.id)
        var v = try view(db, outcome.ticket, first)
        v.followUp = outcome.followUp
        return v
    }
}
