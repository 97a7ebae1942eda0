import CRMPluginKit
import ServiceContract

/// Rows of `service_messages`.
struct MessageStore {
    let db: Database

    static let columns = "id, ticket_id, original_ticket_id, kind, author_kind, author_user, author_person_id, body, created_us"

    static func decode(_ row: [SQLValue]) -> TicketMessage {
        var m = TicketMessage()
        m.id = row.int(0)
        m.ticketID = row.int(1)
        m.originalTicketID = row.int(2)
        m.kind = Crm_Service_V1_MessageKind(rawValue: Int(truncatingIfNeeded: row.int(3))) ?? .unspecified
        m.authorKind = Crm_Service_V1_AuthorKind(rawValue: Int(truncatingIfNeeded: row.int(4))) ?? .unspecified
        m.authorUser = row.text(5)
        m.authorPersonID = row.int(6)
        m.body = row.text(7)
        m.createdUnixUs = row.int(8)
        return m
    }

    func load(_ id: Int64) throws -> TicketMessage? {
        try db.query("SELECT \(Self.columns) FROM service_messages WHERE id = ?", [.integer(id)]).first.map(Self.decode)
    }

    func insert(_ m: inout TicketMessage) throws {
        m.id = try db.execute("""
            INSERT INTO service_messages (ticket_id, original_ticket_id, kind, author_kind, author_user, author_person_id, body,
                created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(m.ticketID), .integer(m.originalTicketID), .integer(Int64(m.kind.rawValue)),
                  .integer(Int64(m.authorKind.rawValue)), .text(m.authorUser), .integer(m.authorPersonID), .text(m.body),
                  .integer(m.createdUnixUs)]).lastInsertID
    }

    /// A page of a ticket's messages, oldest first; `publicOnly` for the
    /// requester's reads, which must never see an internal note.
    func page(ticket: Int64, publicOnly: Bool, _ paging: Paging) throws -> (rows: [TicketMessage], nextToken: String) {
        var filter = SQLFilter()
        filter.add("ticket_id = ?", .integer(ticket))
        if publicOnly { filter.add("kind = ?", .integer(Int64(Crm_Service_V1_MessageKind.public.rawValue))) }
        if let after = paging.after { filter.add("id > ?", try tokenInt(after[0])) }
        return try fetchPage(db, "SELECT \(Self.columns) FROM service_messages \(filter.clause) ORDER BY id LIMIT ?",
                             filter.parameters, paging, decode: Self.decode, key: { [$0[0]] })
    }
}
