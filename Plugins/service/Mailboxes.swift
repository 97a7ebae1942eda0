import CRMPluginKit
import ServiceContract

typealias MailboxSettings = Crm_Service_V1_MailboxSettings

/// The addresses support mail arrives at, each placing its new tickets
/// (team, priority, type); "*" is the default for any other address.
enum Mailboxes {
    static let service = "/crm.service.v1.Mailbox/"
    static let defaultAddress = "*"

    static func register(on def: PluginDefinition) {
        def.unary(service + "SetMailbox", set)
        def.unary(service + "ListMailboxes", list)
        def.unary(service + "DeleteMailbox", delete)
    }

    static func decode(_ r: [SQLValue]) -> MailboxSettings {
        var m = MailboxSettings()
        m.address = r.text(0)
        m.team = r.text(1)
        m.priority = .init(rawValue: Int(truncatingIfNeeded: r.int(2))) ?? .unspecified
        m.type = .init(rawValue: Int(truncatingIfNeeded: r.int(3))) ?? .unspecified
        m.updatedUnixUs = r.int(4)
        return m
    }

    static let columns = "address, team, priority, type, updated_us"

    static func load(_ db: Database, _ address: String) throws -> MailboxSettings? {
        try db.query("SELECT \(columns) FROM service_mailboxes WHERE address = ?", [.text(address)]).first.map(decode)
    }

    /// Whether an address is one of the mailboxes (mail from it is a loop).
    static func isMailbox(_ db: Database, _ address: String) throws -> Bool {
        guard address != defaultAddress else { return false }
        return try load(db, address) != nil
    }

    /// The mailbox mail for these addresses files under: the envelope
    /// recipient's, else the first To/Cc address that is a mailbox, else
    /// the default.
    static func resolve(_ db: Database, recipient: String, headers: [String]) throws -> MailboxSettings? {
        for address in (recipient.isEmpty ? [] : [recipient]) + headers {
            if let mailbox = try load(db, address) { return mailbox }
        }
        return try load(db, defaultAddress)
    }

    static func set(_ ctx: CallContext, _ req: Crm_Service_V1_SetMailboxRequest) throws -> MailboxSettings {
        try TicketScope.checkConfigWritable(ctx, permission: "service.email.configure", "a mailbox")
        var m = req.mailbox
        m.address = Normalize.email(m.address)
        if m.address != defaultAddress { try Validate.email(m.address, "mailbox.address") }
        try Check.known(m.priority.rawValue, 1...4, "mailbox.priority", optional: true)
        try Check.known(m.type.rawValue, 1...4, "mailbox.type", optional: true)
        let db = try ctx.database
        try Teams.checkPlacement(db, assignee: "", team: m.team, field: "mailbox.")
        let before = try load(db, m.address)
        m.updatedUnixUs = before?.updatedUnixUs ?? 0
        // A repeat changes nothing: Set is idempotent by its address.
        if let before, before == m { return before }
        m.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO service_mailboxes (address, team, priority, type, updated_us) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (address) DO UPDATE SET team = excluded.team, priority = excluded.priority, type = excluded.type,
                updated_us = excluded.updated_us
            """, [.text(m.address), .text(m.team), .integer(Int64(m.priority.rawValue)), .integer(Int64(m.type.rawValue)),
                  .integer(m.updatedUnixUs)])
        try audit(ctx, before == nil ? "create" : "update", old: before, new: m)
        return m
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListMailboxesRequest) throws -> Crm_Service_V1_ListMailboxesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var condition = "1"
        var parameters: [SQLValue] = []
        if let after = paging.after {
            guard case .text = after[0] else { throw PluginError.invalidArgument("page_token is not a token this list returned") }
            condition = "address > ?"
            parameters = [after[0]]
        }
        let page = try fetchPage(try ctx.database, "SELECT \(columns) FROM service_mailboxes WHERE \(condition) ORDER BY address LIMIT ?",
                                 parameters, paging, decode: decode, key: { [$0[0]] })
        var response = Crm_Service_V1_ListMailboxesResponse()
        response.mailboxes = page.rows
        response.nextPageToken = page.nextToken
        return response
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Service_V1_DeleteMailboxRequest) throws -> Crm_Service_V1_DeleteMailboxResponse {
        try TicketScope.checkConfigWritable(ctx, permission: "service.email.configure", "a mailbox")
        let db = try ctx.database
        let address = Normalize.email(req.address)
        guard let before = try load(db, address) else {
            throw PluginError.notFound("address: no mailbox \"\(address.prefix(100))\"")
        }
        try db.execute("DELETE FROM service_mailboxes WHERE address = ?", [.text(address)])
        try audit(ctx, "delete", old: before, new: nil)
        return .init()
    }

    private static func audit(_ ctx: CallContext, _ action: String, old: MailboxSettings?, new: MailboxSettings?) throws {
        func fields(_ m: MailboxSettings?) -> [String: String] {
            guard let m else { return [:] }
            return ["team": m.team, "priority": String(m.priority.rawValue), "type": String(m.type.rawValue)]
        }
        try ctx.audit(AuditEntry(entity: "service.mailbox", recordID: (new ?? old)?.address ?? "", action: action,
                                 changes: FieldChange.between(old: fields(old), new: fields(new))))
    }
}
