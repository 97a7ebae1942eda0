import CRMPluginKit
import ServiceContract

/// A delivery report for mail a ticket sent: a note on that ticket, about
/// the recipient it names, never a new or reopened ticket.
enum MailBounces {
    /// RFC 3464 actions that say the mail arrived: nothing for agents.
    static let arrived: Set<String> = ["delivered", "relayed", "expanded"]

    static func file(_ ctx: CallContext, _ db: Database, _ mail: InboundMessage, _ email: inout InboundEmail) throws -> TicketMessage? {
        let store = MailStore(db: db)
        let status = mail.deliveryStatus
        let header = mail.headers["x-failed-recipients"]?.split(separator: ",").first.map { $0.trimmedSpaces } ?? ""
        let failed = Normalize.email(status.map(\.finalRecipient).flatMap { $0.isEmpty ? nil : $0 } ?? header)
        // The report is about the recipient who did not get the mail.
        if MailIngest.looksLikeEmail(failed), failed.count <= MailSenders.maxSearchable {
            email.personID = try MailSenders.find(ctx, failed)?.id ?? 0
        }
        let action = status?.action.isEmpty == false ? status!.action : "failed"
        if arrived.contains(action) {
            email.outcome = .bounceIgnored
            email.reason = "a delivery report: \(action)"
            return nil
        }
        let ids = Array(mail.bouncedMessageIDs.prefix(5)) + Array(mail.inReplyTo.prefix(5))
            + Array(mail.references.suffix(MailIngest.maxReferences).reversed())
        guard let ticket = try ids.lazy.compactMap({ try store.thread(of: $0) }).first else {
            email.outcome = .bounceIgnored
            email.reason = "names no ticket's message"
            return nil
        }
        let code = status?.status ?? ""
        email.reason = String("\(failed): \(code)".prefix(300))
        let who = failed.isEmpty ? "a recipient" : failed
        let what = action == "delayed" ? "is delayed" : "failed"
        let body = "Delivery of an email on this ticket to \(who) \(what)" + (code.isEmpty ? "" : " (status \(code))") + "."
        let note = try MailIngest.systemNote(ctx, db, ticket: ticket, body: body, summary: "got a delivery report by email",
                                             author: email.personID)
        email.outcome = .bounceNoted
        email.ticketID = note.ticketID
        email.ticketMessageID = note.id
        return note
    }
}
