import CRMPluginKit
import ServiceContract

/// IngestEmail: one raw message in, filed as a new ticket, a reply, a
/// note (an automatic reply, a bounce, someone else's mail on a ticket),
/// or rejected (crm/service/v1/mailbox.proto has the rules).
enum MailIngest {
    /// How many of a message's ids, recipients and subject tags are looked
    /// up: each is a query inside the write transaction, and a hostile
    /// message may carry thousands.
    static let maxReferences = 20
    static let maxRecipients = 20

    static func register(on def: PluginDefinition) {
        def.unary(Mailboxes.service + "IngestEmail", ingest)
    }

    static func ingest(_ ctx: CallContext, _ req: Crm_Service_V1_IngestEmailRequest) throws -> Crm_Service_V1_IngestEmailResponse {
        // It files mail for any sender onto any ticket: a gateway's act,
        // not an agent's (service.* at scope team includes this method).
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "IngestEmail files mail for any sender: it needs service.email.ingest at scope all")
        }
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
        let from = String((mail.from?.address ?? "").prefix(320))
        var key = mail.messageID.isEmpty ? "sha256:" + SHA256.hexDigest(raw) : String(mail.messageID.prefix(900))
        if let earlier = try store.byMessageID(key) {
            // A redelivery is the same sender's; another sender reusing an
            // id (a mailer that repeats them, a forged one) is another message.
            guard earlier.fromAddress != from, earlier.fromAddress != ContactEvents.erased else {
                return try MailLog.answer(ctx, db, earlier, duplicate: true)
            }
            key += "#" + String(SHA256.hexDigest(raw).prefix(16))
            if let again = try store.byMessageID(key) { return try MailLog.answer(ctx, db, again, duplicate: true) }
        }

        var email = InboundEmail()
        email.messageID = key
        email.fromAddress = from
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
        let mailbox = try Mailboxes.resolve(db, recipient: recipient, headers: Array(mail.recipients.prefix(maxRecipients)))
        email.recipient = mailbox?.address ?? ""

        var message: TicketMessage?
        if let reason = try rejection(db, store, mail) {
            email.outcome = .rejected
            email.reason = reason
            // Known senders' rejected mail is still theirs (export, erasure).
            if looksLikeEmail(from) { email.personID = try MailSenders.find(ctx, from)?.id ?? 0 }
        } else {
            message = try file(ctx, db, mail, &email, mailbox: mailbox, key: key)
        }
        try store.insert(&email)
        if email.ticketID != 0 {
            try store.addThread(key, ticket: email.ticketID, message: email.ticketMessageID, outbound: false)
        }
        try ServiceAudit.inboundEmail(ctx, email)
        var response = try MailLog.answer(ctx, db, email, duplicate: false)
        if let message { response.message = message }
        return response
    }

    /// Why a message is not filed at all, or nil.
    static func rejection(_ db: Database, _ store: MailStore, _ mail: InboundMessage) throws -> String? {
        guard let from = mail.from, looksLikeEmail(from.address) else { return "no usable From address" }
        if from.address.count > MailSenders.maxSearchable { return "the From address is longer than 200 characters" }
        if try Mailboxes.isMailbox(db, from.address) { return "sent from the mailbox \(from.address) itself (a loop)" }
        if !mail.messageID.isEmpty, try store.isOutbound(mail.messageID) {
            return "a copy of this module's own reply (Message-ID \(mail.messageID.prefix(200)))"
        }
        return nil
    }

    /// Files a message that is not rejected; the message written on a
    /// ticket, if one was.
    static func file(_ ctx: CallContext, _ db: Database, _ mail: InboundMessage, _ email: inout InboundEmail,
                     mailbox: MailboxSettings?, key: String) throws -> TicketMessage? {
        let store = MailStore(db: db)
        guard let from = mail.from else { return nil }
        switch MailClassifier.kind(mail) {
        case .bounce:
            return try MailBounces.file(ctx, db, mail, &email)
        case .autoReply:
            email.personID = try MailSenders.find(ctx, from.address)?.id ?? 0
            guard let (ticket, how) = try thread(store, mail, subject: email.subject) else {
                email.outcome = .autoReplyIgnored
                email.reason = "an automatic reply that names no ticket"
                return nil
            }
            let note = try systemNote(ctx, db, ticket: ticket, body: "Automatic reply from \(from.address):\n\n\(body(mail))",
                                      summary: "got an automatic reply by email", author: email.personID)
            email.outcome = .autoReplyNoted
            email.threadedBy = how
            email.ticketID = note.ticketID
            email.ticketMessageID = note.id
            return note
        case .person:
            if let (id, how) = try thread(store, mail, subject: email.subject) {
                return try reply(ctx, db, mail, &email, ticket: id, how: how, from: from, key: key)
            }
            let sender = try MailSenders.findOrCreate(ctx, from, key: key)
            email.personID = sender.person.id
            email.personCreated = sender.created
            return try open(ctx, db, mail, &email, mailbox: mailbox, requester: sender.person.id)
        }
    }

    /// A person's mail on a ticket: the requester's (or a colleague's in
    /// the ticket's organization) is a CUSTOMER reply with AddMessage's
    /// effects; anyone else's is an internal note, so a forwarded copy of
    /// an agent's mail cannot reopen or answer someone else's ticket.
    static func reply(_ ctx: CallContext, _ db: Database, _ mail: InboundMessage, _ email: inout InboundEmail,
                      ticket id: Int64, how: Crm_Service_V1_ThreadedBy, from: InboundMessage.Address,
                      key: String) throws -> TicketMessage {
        let tickets = TicketStore(db: db)
        let ticket = try tickets.resolved(try tickets.require(id, field: "raw", writableIn: ctx.scope))
        let sender = try MailSenders.findOrCreate(ctx, from, key: key)
        email.personID = sender.person.id
        email.personCreated = sender.created
        email.threadedBy = how
        let text = String(MailClassifier.newText(body(mail)).prefix(TicketValidation.maxBody))
        let isParty = sender.person.id == ticket.requesterID
            || (ticket.organizationID != 0 && sender.person.organizationID == ticket.organizationID)
        guard isParty else {
            let note = try systemNote(ctx, db, ticket: ticket.id, body: "Email from \(from.address), who is not the requester:\n\n\(text)",
                                      summary: "got an email from someone else", author: sender.person.id)
            email.outcome = .otherSenderNoted
            email.ticketID = note.ticketID
            email.ticketMessageID = note.id
            return note
        }
        let outcome = try TicketMessages.post(ctx, db, ticketID: ticket.id, field: "raw", kind: .public, author: .customer,
                                              body: text, status: .unspecified, scope: ctx.scope,
                                              authorPersonID: sender.person.id)
        email.outcome = .reply
        email.followUp = outcome.followUp
        email.ticketID = outcome.ticket.id
        email.ticketMessageID = outcome.message.id
        // Later replies to the closed ticket's mail belong to the follow-up,
        // not to one more follow-up each.
        if outcome.followUp { try MailStore(db: db).moveThreads(from: ticket.id, to: outcome.ticket.id) }
        return outcome.message
    }

    /// A new ticket for a person's mail that threads nowhere.
    static func open(_ ctx: CallContext, _ db: Database, _ mail: InboundMessage, _ email: inout InboundEmail,
                     mailbox: MailboxSettings?, requester: Int64) throws -> TicketMessage? {
        var given = Ticket()
        given.subject = email.subject.isEmpty ? "(no subject)" : email.subject
        given.description_p = String(body(mail).prefix(TicketValidation.maxBody))
        given.requesterID = requester
        given.channel = .email
        given.team = mailbox?.team ?? ""
        given.priority = mailbox?.priority ?? .unspecified
        given.type = mailbox?.type ?? .unspecified
        var ticket = try TicketMethods.open(ctx, db, given, field: "", scope: ctx.scope)
        let routed = try RoutingEngine.placeNew(db, &ticket)
        try TicketStore(db: db).insert(&ticket)
        _ = try MailStore(db: db).makeToken(for: ticket.id)
        try RoutingEngine.record(ctx, ticket, routed, summary: "opened by email")
        email.outcome = .newTicket
        email.ticketID = ticket.id
        return nil
    }

    /// The ticket a message replies to, and how it was found: the ids it
    /// answers (In-Reply-To, then References newest first), then the
    /// subject's token. A merged ticket's mail lands on its survivor
    /// (TicketMessages.post resolves it).
    static func thread(_ store: MailStore, _ mail: InboundMessage, subject: String) throws -> (Int64, Crm_Service_V1_ThreadedBy)? {
        for id in mail.inReplyTo.prefix(5) {
            if let ticket = try store.thread(of: id) { return (ticket, .inReplyTo) }
        }
        for id in mail.references.suffix(maxReferences).reversed() {
            if let ticket = try store.thread(of: id) { return (ticket, .references) }
        }
        if let ticket = try store.ticket(inSubject: subject) { return (ticket, .subjectToken) }
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
    /// `author`: the person whose mail it quotes, so their erasure blanks it.
    static func systemNote(_ ctx: CallContext, _ db: Database, ticket id: Int64, body: String, summary: String,
                           author: Int64) throws -> TicketMessage {
        let store = TicketStore(db: db)
        let ticket = try store.resolved(try store.require(id, field: "raw", writableIn: ctx.scope))
        var message = TicketMessage()
        message.ticketID = ticket.id
        message.originalTicketID = ticket.id
        message.kind = .internal
        message.authorKind = .system
        message.authorPersonID = author
        message.body = String(body.prefix(TicketValidation.maxBody))
        message.createdUnixUs = UTCClock.nowMicros()
        try MessageStore(db: db).insert(&message)
        try ServiceAudit.message(ctx, "create", old: nil, new: message, owner: ticket.assignee)
        try ServiceEvents.publish(ctx, "noted", ticket, summary: summary)
        return message
    }

    /// Validate.email as a question.
    static func looksLikeEmail(_ value: String) -> Bool { (try? Validate.email(value, "")) != nil }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 }).trimmedSpaces
    }
}
