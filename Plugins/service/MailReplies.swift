import CRMPluginKit
import ContactsLinkKit
import ServiceContract

/// PrepareReplyEmail: the headers that let a customer's answer to an
/// agent's reply thread back onto its ticket.
enum MailReplies {
    static func register(on def: PluginDefinition) {
        def.unary(Mailboxes.service + "PrepareReplyEmail", prepare)
    }

    static func prepare(_ ctx: CallContext, _ req: Crm_Service_V1_PrepareReplyEmailRequest) throws -> Crm_Service_V1_ReplyEmail {
        try Validate.positiveID(req.ticketMessageID, "ticket_message_id")
        let db = try ctx.database
        guard let message = try MessageStore(db: db).load(req.ticketMessageID) else {
            throw PluginError.notFound("ticket_message_id: message \(req.ticketMessageID) does not exist")
        }
        let tickets = TicketStore(db: db)
        let ticket = try tickets.resolved(try tickets.require(message.ticketID, field: "ticket_message_id", readableIn: ctx.scope))
        guard message.kind == .public, message.authorKind == .agent else {
            throw PluginError.failedPrecondition("ticket_message_id: message \(message.id) is not an agent's public reply")
        }
        let person = try ContactsLink.requireLivePerson(ctx, ticket.requesterID, field: "ticket_message_id: the requester")
        guard let to = person.emails.first?.address, !to.isEmpty else {
            throw PluginError.failedPrecondition("ticket_message_id: the requester of ticket \(ticket.id) has no email address")
        }
        let store = MailStore(db: db)
        let token = try store.makeToken(for: ticket.id)
        let messageID: String
        if let existing = try store.outboundID(of: message.id) {
            messageID = existing
        } else {
            // The token keeps ids of different tickets apart, and a fresh
            // database's message ids from an old one's.
            messageID = "ticket-\(ticket.id).\(message.id).\(token)@\(ServiceConfig.emailDomain(ctx.host))"
            try store.addThread(messageID, ticket: ticket.id, message: message.id, outbound: true)
        }
        let inbound = try store.inboundIDs(of: ticket.id, limit: 10)
        var reply = Crm_Service_V1_ReplyEmail()
        reply.ticketID = ticket.id
        reply.toAddress = to
        reply.toName = [person.firstName, person.lastName].filter { !$0.isEmpty }.joined(separator: " ")
        let subject = ticket.subject.hasPrefix("Re: ") ? ticket.subject : "Re: " + ticket.subject
        reply.subject = subject + " " + MailStore.subjectTag(ticket: ticket.id, token: token)
        reply.messageID = "<\(messageID)>"
        reply.inReplyTo = inbound.last.map { "<\($0)>" } ?? ""
        reply.references = inbound.map { "<\($0)>" }.joined(separator: " ")
        reply.body = message.body
        return reply
    }
}
