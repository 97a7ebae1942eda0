import CRMPluginKit
import ServiceContract

/// IngestEmail: one raw message in, filed as a new ticket, a reply, a
/// note of an automatic reply or bounce, or rejected
/// (crm/service/v1/mailbox.proto has the rules).
enum MailIngest {
    typealias Outcome = Crm_Service_V1_InboundOutcome

    static func register(on def: PluginDefinition) {
        def.unary(Mailboxes.service + "IngestEmail", ingest)
        def.unary(Mailboxes.service + "GetInboundEmail", get)
        def.unary(Mailboxes.service + "ListInboundEmails", list)
    }

    static func ingest(_ ctx: CallContext, _ req: Crm_Service_V1_IngestEmailRequest) throws -> Crm_Service_V1_IngestEmailResponse {
        guard !req.raw.isEmpty else { throw PluginError.invalidArgument("raw: the message is empty") }
        let recipient = Normalize.email(req.recipient)
        if !recipient.isEmpty { try Validate.email(recipient, "recipient") }
        let raw = [UInt8](req.raw)
        guard let mail = MimeReader.read(raw),
              mail.from != nil || !mail.messageID.isEmpty || !mail.subject.isEmpty || mail.sentUnixSeconds != 0 else {
            throw PluginError.invalidArgument("raw: not an RFC 5322 message (no From, Message-ID, Subject or Date header)")
        }
        let db = try ctx.database
        let store = MailStore(db: db)
        let key = mail.messageID.isEmpty ? "sha256:" + SHA256.hexDigest(raw) : String(mail.messageID.prefix(1000))
        if let earlier = try store.byMessageID(key) { return try answer(ctx, db, earlier, duplicate: true) }

        var email = InboundEmail()
        email.messageID = key
        email.fromAddress = String((mail.from?.address ?? "").prefix(320))
        email.fromName = String((mail.from?.name ?? "").prefix(200))
        email.subject = String(oneLine(mail.subject).prefix(300))
        email.attachments = mail.attachments.prefix(100).map { a in
            var out = Crm_Service_V1_EmailAttachment()
            out.filename = String(a.filename.prefix(255))
            out.contentType = String(a.contentType.prefix(100))
            out.size = Int64(a.size)
            return out
        }
        email.size = Int64(raw.count)
        let (sent, overflow) = mail.sentUnixSeconds.multipliedReportingOverflow(by: 1_000_000)
        email.sentUnixUs = overflow ? 0 : sent
        email.receivedUnixUs = UTCClock.nowMicros()
        let mailbox = try Mailboxes.resolve(db, recipient: recipient, headers: mail.recipients)
        email.recipient = mailbox?.address ?? ""

        var message: TicketMessage?
        if let reason = try rejection(db, mail) {
            email.outcome = .rejected
            email.reason = reason
        } else {
            message = try file(ctx, db, mail, &email, mailbox: mailbox, key: key)
        }
        try store.insert(&email)
        if email.ticketID != 0 {
            try store.addThread(key, ticket: email.ticketID, message: email.ticketMessageID, outbound: false)
        }
        try ServiceAudit.inboundEmail(ctx, email)
        var response = try answer(ctx, db, email, duplicate: false)
        if let message { response.message = message }
        return response
    }

    /// Why a message is not filed at all, or nil.
    static func rejection(_ db: Database, _ mail: InboundMessage) throws -> String? {
        guard let from = mail.from, (try? Validate.email(from.address, "from")) != nil else { return "no usable From address" }
        if from.address.count > MailSenders.maxSearchable { return "the From address is longer than 200 characters" }
        if try Mailboxes.isMailbox(db, from.address) { return "sent from the mailbox \(from.address) itself (a loop)" }
        return nil
    }

    /// Files a message that is not rejected; the message written on a
    /// ticket, if one was.
    static func file(_ ctx: CallContext, _ db: Database, _ mail: InboundMessage, _ email: inout InboundEmail,
                     mailbox: MailboxSettings?, key: String) throws -> TicketMessage? {
        let store = MailStore(db: db)
        let scope = ctx.scope
        guard let from = mail.from else { return nil }
        switch MailClassifier.kind(mail) {
        case .bounce:
            let ids = mail.bouncedMessageIDs + mail.inReplyTo + mail.references.reversed()
            guard let ticket = try ids.lazy.compactMap({ try store.thread(of: $0) }).first else {
                email.outcome = .bounceIgnored
                email.reason = "names no ticket's message"
                return nil
            }
            let status = mail.deliveryStatus
            let failed = status?.finalRecipient.isEmpty == false ? status!.finalRecipient : (mail.headers["x-failed-recipients"] ?? "")
            email.reason = String("\(failed): \(status?.status ?? "")".prefix(300))
            let body = "Delivery of an email on this ticket failed: \(failed.isEmpty ? "a recipient" : failed)"
                + (status.map { " (status \($0.status), action \($0.action))" } ?? "") + "."
            let note = try systemNote(ctx, db, ticket: ticket, body: body, summary: "got a bounce by email", scope: scope)
            email.outcome = .bounceNoted
            email.ticketID = note.ticketID
            email.ticketMessageID = note.id
            return note
        case .autoReply:
            guard let (ticket, how) = try thread(store, mail) else {
                email.outcome = .autoReplyIgnored
                email.reason = "an automatic reply that names no ticket"
                return nil
            }
            let text = body(mail)
            let note = try systemNote(ctx, db, ticket: ticket, body: "Automatic reply from \(from.address):\n\n\(text)",
                                      summary: "got an automatic reply by email", scope: scope)
            email.outcome = .autoReplyNoted
            email.threadedBy = how
            email.ticketID = note.ticketID
            email.ticketMessageID = note.id
            return note
        case .person:
            let sender = try MailSenders.findOrCreate(ctx, from, key: key)
            email.personID = sender.person.id
            email.personCreated = sender.created
            if let (ticket, how) = try thread(store, mail) {
                let text = MailClassifier.newText(body(mail))
                let outcome = try TicketMessages.post(ctx, db, ticketID: ticket, field: "raw", kind: .public, author: .customer,
                                                      body: String(text.prefix(TicketValidation.maxBody)), status: .unspecified, scope: scope,
                                                      authorPersonID: sender.person.id)
                email.outcome = .reply
                email.threadedBy = how
                email.followUp = outcome.followUp
                email.ticketID = outcome.ticket.id
                email.ticketMessageID = outcome.message.id
                return outcome.message
            }
            var given = Ticket()
            given.subject = email.subject.isEmpty ? "(no subject)" : email.subject
            given.description_p = String(body(mail).prefix(TicketValidation.maxBody))
            given.requesterID = sender.person.id
            given.channel = .email
            given.team = mailbox?.team ?? ""
            given.priority = mailbox?.priority ?? .unspecified
            given.type = mailbox?.type ?? .unspecified
            var ticket = try TicketMethods.open(ctx, db, given, field: "", scope: scope)
            let routed = try RoutingEngine.placeNew(db, &ticket)
            try TicketStore(db: db).insert(&ticket)
            _ = try store.makeToken(for: ticket.id)
            try RoutingEngine.record(ctx, ticket, routed, summary: "opened by email")
            email.outcome = .newTicket
            email.ticketID = ticket.id
            return nil
        }
    }

    /// The ticket a message replies to, and how it was found: the ids it
    /// answers (In-Reply-To, then References newest first), then the
    /// subject's token. A merged ticket's mail lands on its survivor
    /// (TicketMessages.post resolves it).
    static func thread(_ store: MailStore, _ mail: InboundMessage) throws -> (Int64, Crm_Service_V1_ThreadedBy)? {
        for id in mail.inReplyTo {
            if let ticket = try store.thread(of: id) { return (ticket, .inReplyTo) }
        }
        for id in mail.references.reversed() {
            if let ticket = try store.thread(of: id) { return (ticket, .references) }
        }
        if let ticket = try store.ticket(inSubject: mail.subject) { return (ticket, .subjectToken) }
        return nil
    }

    /// The text to keep: text/plain, else html without tags, else a line
    /// naming the attachments.
    static func body(_ mail: InboundMessage) -> String {
        var text = mail.text.trimmedSpacesAndNewlines
        if text.isEmpty { text = MailClassifier.plainText(fromHTML: mail.html) }
        if text.isEmpty {
            let names = mail.attachments.map { $0.filename.isEmpty ? $0.contentType : $0.filename }
            text = names.isEmpty ? "(no text)" : "(no text; attachments: \(names.prefix(20).joined(separator: ", ")))"
        }
        return text
    }

    /// An internal note of the module's own: no status or clock changes.
    static func systemNote(_ ctx: CallContext, _ db: Database, ticket id: Int64, body: String, summary: String,
                           scope: RecordScope) throws -> TicketMessage {
        let store = TicketStore(db: db)
        let ticket = try store.resolved(try store.require(id, field: "raw", writableIn: scope))
        var message = TicketMessage()
        message.ticketID = ticket.id
        message.originalTicketID = ticket.id
        message.kind = .internal
        message.authorKind = .system
        message.body = String(body.prefix(TicketValidation.maxBody))
        message.createdUnixUs = UTCClock.nowMicros()
        try MessageStore(db: db).insert(&message)
        try ServiceAudit.message(ctx, "create", old: nil, new: message, owner: ticket.assignee)
        try ServiceEvents.publish(ctx, "noted", ticket, summary: summary)
        return message
    }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 }).trimmedSpaces
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
        try Check.known(req.outcome.rawValue, 1...7, "outcome", optional: true)
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
