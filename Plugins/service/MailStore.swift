import CRMPluginKit
import ServiceContract
import SwiftProtobuf

typealias InboundEmail = Crm_Service_V1_InboundEmail

/// Email to ticket's tables (migration 12): each inbound message filed
/// (unique by message-id, so a mail server's redelivery changes nothing),
/// every message-id a ticket's mail carries (threading is one primary-key
/// lookup per id a reply names), each ticket's subject token, and the
/// mailboxes that place new tickets.
enum MailSchema {
    static func register(on def: PluginDefinition) {
        def.migration(12, "email to ticket", """
            CREATE TABLE service_inbound_emails (
                id INTEGER PRIMARY KEY,
                message_id TEXT NOT NULL UNIQUE,
                from_address TEXT NOT NULL,
                from_name TEXT NOT NULL,
                recipient TEXT NOT NULL,
                subject TEXT NOT NULL,
                outcome INTEGER NOT NULL,
                reason TEXT NOT NULL,
                threaded_by INTEGER NOT NULL,
                ticket_id INTEGER NOT NULL,
                ticket_message_id INTEGER NOT NULL,
                person_id INTEGER NOT NULL,
                person_created INTEGER NOT NULL,
                follow_up INTEGER NOT NULL,
                attachments BLOB NOT NULL,
                size INTEGER NOT NULL,
                sent_us INTEGER NOT NULL,
                received_us INTEGER NOT NULL);
            CREATE INDEX service_inbound_emails_by_ticket ON service_inbound_emails (ticket_id, id);
            CREATE INDEX service_inbound_emails_by_person ON service_inbound_emails (person_id, id);
            CREATE INDEX service_inbound_emails_by_outcome ON service_inbound_emails (outcome, id);
            CREATE TABLE service_email_threads (
                message_id TEXT PRIMARY KEY,
                ticket_id INTEGER NOT NULL,
                ticket_message_id INTEGER NOT NULL,
                outbound INTEGER NOT NULL) WITHOUT ROWID;
            CREATE INDEX service_email_threads_by_ticket ON service_email_threads (ticket_id, outbound);
            CREATE INDEX service_email_threads_by_message ON service_email_threads (ticket_message_id, outbound);
            CREATE TABLE service_ticket_email_tokens (
                ticket_id INTEGER PRIMARY KEY,
                token TEXT NOT NULL);
            CREATE TABLE service_mailboxes (
                address TEXT PRIMARY KEY,
                team TEXT NOT NULL,
                priority INTEGER NOT NULL,
                type INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            """)
    }
}

struct MailStore {
    let db: Database

    static let columns = """
        id, message_id, from_address, from_name, recipient, subject, outcome, reason, threaded_by, ticket_id,
        ticket_message_id, person_id, person_created, follow_up, attachments, size, sent_us, received_us
        """

    static func decode(_ r: [SQLValue]) -> InboundEmail {
        var e = InboundEmail()
        e.id = r.int(0)
        e.messageID = r.text(1)
        e.fromAddress = r.text(2)
        e.fromName = r.text(3)
        e.recipient = r.text(4)
        e.subject = r.text(5)
        e.outcome = .init(rawValue: Int(truncatingIfNeeded: r.int(6))) ?? .unspecified
        e.reason = r.text(7)
        e.threadedBy = .init(rawValue: Int(truncatingIfNeeded: r.int(8))) ?? .unspecified
        e.ticketID = r.int(9)
        e.ticketMessageID = r.int(10)
        e.personID = r.int(11)
        e.personCreated = r.int(12) != 0
        e.followUp = r.int(13) != 0
        e.attachments = r[14].bytes.flatMap { try? InboundEmail(serializedBytes: $0) }?.attachments ?? []
        e.size = r.int(15)
        e.sentUnixUs = r.int(16)
        e.receivedUnixUs = r.int(17)
        return e
    }

    func byMessageID(_ id: String) throws -> InboundEmail? {
        try db.query("SELECT \(Self.columns) FROM service_inbound_emails WHERE message_id = ?", [.text(id)]).first.map(Self.decode)
    }

    func load(_ id: Int64) throws -> InboundEmail? {
        try db.query("SELECT \(Self.columns) FROM service_inbound_emails WHERE id = ?", [.integer(id)]).first.map(Self.decode)
    }

    func insert(_ e: inout InboundEmail) throws {
        var attachments = InboundEmail()
        attachments.attachments = e.attachments
        e.id = try db.execute("""
            INSERT INTO service_inbound_emails (message_id, from_address, from_name, recipient, subject, outcome, reason,
                threaded_by, ticket_id, ticket_message_id, person_id, person_created, follow_up, attachments, size,
                sent_us, received_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(e.messageID), .text(e.fromAddress), .text(e.fromName), .text(e.recipient), .text(e.subject),
                  .integer(Int64(e.outcome.rawValue)), .text(e.reason), .integer(Int64(e.threadedBy.rawValue)),
                  .integer(e.ticketID), .integer(e.ticketMessageID), .integer(e.personID),
                  .integer(e.personCreated ? 1 : 0), .integer(e.followUp ? 1 : 0),
                  .blob(try attachments.serializedBytes()), .integer(e.size), .integer(e.sentUnixUs),
                  .integer(e.receivedUnixUs)]).lastInsertID
    }

    /// The ticket a message-id belongs to, if any.
    func thread(of messageID: String) throws -> Int64? {
        try db.query("SELECT ticket_id FROM service_email_threads WHERE message_id = ?", [.text(messageID)]).first?.int(0)
    }

    /// Records a message-id of a ticket's mail; a known id keeps its ticket.
    func addThread(_ messageID: String, ticket: Int64, message: Int64, outbound: Bool) throws {
        guard !messageID.isEmpty else { return }
        try db.execute("""
            INSERT OR IGNORE INTO service_email_threads (message_id, ticket_id, ticket_message_id, outbound) VALUES (?, ?, ?, ?)
            """, [.text(messageID), .integer(ticket), .integer(message), .integer(outbound ? 1 : 0)])
    }

    /// Whether an id is one this module gave an agent's reply.
    func isOutbound(_ messageID: String) throws -> Bool {
        try !db.query("SELECT 1 FROM service_email_threads WHERE message_id = ? AND outbound = 1", [.text(messageID)]).isEmpty
    }

    /// A follow-up took over a closed ticket's conversation.
    func moveThreads(from closed: Int64, to followUp: Int64) throws {
        try db.execute("UPDATE service_email_threads SET ticket_id = ? WHERE ticket_id = ?", [.integer(followUp), .integer(closed)])
    }

    /// The message-id already given to an agent's reply.
    func outboundID(of ticketMessage: Int64) throws -> String? {
        try db.query("SELECT message_id FROM service_email_threads WHERE ticket_message_id = ? AND outbound = 1",
                     [.integer(ticketMessage)]).first?.text(0)
    }

    /// The message-ids of a ticket's inbound mail, oldest first (at most
    /// `limit`, the newest ones).
    func inboundIDs(of ticket: Int64, limit: Int) throws -> [String] {
        try db.query("""
            SELECT message_id FROM service_inbound_emails
            WHERE ticket_id = ? AND outcome IN (1, 2) AND message_id NOT LIKE 'sha256:%' ORDER BY id DESC LIMIT ?
            """, [.integer(ticket), .integer(Int64(limit))]).map { $0.text(0) }.reversed()
    }

    // Subject tokens: 10 characters of a 31-letter alphabet (no i, l, o,
    // 0, 1: read aloud or retyped, they are not mistaken; 49 random bits)
    // beside the ticket id, so a token in a subject can't be guessed from
    // the id alone.
    static let tokenAlphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
    static let tokenLength = 10

    func token(of ticket: Int64) throws -> String? {
        try db.query("SELECT token FROM service_ticket_email_tokens WHERE ticket_id = ?", [.integer(ticket)]).first?.text(0)
    }

    func makeToken(for ticket: Int64) throws -> String {
        if let existing = try token(of: ticket) { return existing }
        var generator = SystemRandomNumberGenerator()
        let token = String((0..<Self.tokenLength).map { _ in Self.tokenAlphabet[Int.random(in: 0..<Self.tokenAlphabet.count, using: &generator)] })
        try db.execute("INSERT INTO service_ticket_email_tokens (ticket_id, token) VALUES (?, ?)", [.integer(ticket), .text(token)])
        return token
    }

    /// "[#123-abcd2345]" as written into subjects.
    static func subjectTag(ticket: Int64, token: String) -> String { "[#\(ticket)-\(token)]" }

    /// The ticket whose tag a subject carries, if the token is that
    /// ticket's.
    func ticket(inSubject subject: String) throws -> Int64? {
        var rest = Substring(subject.prefix(300))
        var looked = 0
        while looked < 3, let open = rest.firstRange(of: "[#") {
            looked += 1
            rest = rest[open.upperBound...]
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let inside = rest[..<close]
            let parts = inside.split(separator: "-", maxSplits: 1)
            if parts.count == 2, parts[0].count <= 18, let id = Int64(parts[0]), id > 0,
               let token = try token(of: id), token == parts[1].lowercased() {
                return id
            }
            rest = rest[close...]
        }
        return nil
    }
}

/// The person's part of email to ticket: what they sent.
extension MailStore {
    func sent(by person: Int64) throws -> [InboundEmail] {
        try db.query("SELECT \(Self.columns) FROM service_inbound_emails WHERE person_id = ? ORDER BY id",
                     [.integer(person)]).map(Self.decode)
    }

    /// A merge: the survivor sent what the merged person did.
    func repoint(from merged: Int64, to survivor: Int64) throws {
        try db.execute("UPDATE service_inbound_emails SET person_id = ? WHERE person_id = ?", [.integer(survivor), .integer(merged)])
    }

    /// Erasure: sender, subject, reason and attachment names go, and the
    /// message-id (ids often carry a name or a personal domain) becomes
    /// its hash, out of the threading table too; the outcome, ticket and
    /// times stay for reports. The audit entries are redacted.
    func erase(_ ctx: CallContext, person: Int64, marker: String) throws {
        for email in try sent(by: person) where email.fromAddress != marker {
            try db.execute("DELETE FROM service_email_threads WHERE message_id = ?", [.text(email.messageID)])
            try db.execute("""
                UPDATE service_inbound_emails SET message_id = ?, from_address = ?, from_name = '', subject = ?, reason = '',
                    attachments = ? WHERE id = ?
                """, [.text("erased:" + SHA256.hexDigest(Array(email.messageID.utf8))), .text(marker), .text(marker),
                      .blob([]), .integer(email.id)])
            try ctx.redact(entity: "service.inbound_email", recordID: String(email.id))
        }
    }
}
