import CRMPluginKit
import ServiceContract

/// The inbound mail log: GetInboundEmail, ListInboundEmails, and what
/// IngestEmail answers.
enum MailLog {
    static func register(on def: PluginDefinition) {
        def.unary(Mailboxes.service + "GetInboundEmail", get)
        def.unary(Mailboxes.service + "ListInboundEmails", list)
    }

    /// The response for a record: the ticket as it is now, if the caller
    /// may see it.
    static func answer(_ ctx: CallContext, _ db: Database, _ email: InboundEmail,
                       duplicate: Bool) throws -> Crm_Service_V1_IngestEmailResponse {
        var response = Crm_Service_V1_IngestEmailResponse()
        response.email = email
        response.duplicate = duplicate
        let store = TicketStore(db: db)
        if email.ticketID != 0, let ticket = try store.load(email.ticketID).map(store.resolved),
           try TicketScope.reaches(db, ctx.scope, ticket) {
            response.ticket = ticket
            if duplicate, email.ticketMessageID != 0, let message = try MessageStore(db: db).load(email.ticketMessageID) {
                response.message = message
            }
        }
        return response
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetInboundEmailRequest) throws -> InboundEmail {
        try Validate.positiveID(req.id, "id")
        let db = try ctx.database
        guard let email = try MailStore(db: db).load(req.id), try reaches(db, ctx.scope, email) else {
            throw PluginError.notFound("id: inbound email \(req.id) does not exist")
        }
        return email
    }

    static func reaches(_ db: Database, _ scope: RecordScope, _ email: InboundEmail) throws -> Bool {
        if scope.reach == .all { return true }
        let store = TicketStore(db: db)
        guard email.ticketID != 0, let ticket = try store.load(email.ticketID).map(store.resolved) else { return false }
        return try TicketScope.reaches(db, scope, ticket)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListInboundEmailsRequest) throws -> Crm_Service_V1_ListInboundEmailsResponse {
        try Validate.optionalID(req.ticketID, "ticket_id")
        try Check.known(req.outcome.rawValue, 1...8, "outcome", optional: true)
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if req.ticketID != 0 { conditions.append("ticket_id = ?"); parameters.append(.integer(req.ticketID)) }
        if req.outcome != .unspecified { conditions.append("outcome = ?"); parameters.append(.integer(Int64(req.outcome.rawValue))) }
        if let after = paging.after { conditions.append("id < ?"); parameters.append(try tokenInt(after[0])) }
        let db = try ctx.database
        let page = try fetchPage(db, """
            SELECT \(MailStore.columns) FROM service_inbound_emails
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?
            """, parameters, paging, decode: MailStore.decode, key: { [$0[0]] })
        var response = Crm_Service_V1_ListInboundEmailsResponse()
        // Scope is checked per row: a page may come back shorter than asked
        // while its token still leads on.
        response.emails = try page.rows.filter { try reaches(db, ctx.scope, $0) }
        response.nextPageToken = page.nextToken
        return response
    }
}
