import CRMPluginKit
import Foundation
import MarketingContract

typealias Suppression = Crm_Marketing_V1_Suppression

/// The suppression list: addresses nothing is sent to, whoever's they are
/// (hard bounces, complaints, an administrator's decision). Keyed by the
/// SHA-256 of the normalized address, so that an erasure can drop the
/// address itself and keep blocking it.
enum ConsentSuppressions {
    static let columns = "id, channel, address, address_hash, reason, detail, person_id, created_us"

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "AddSuppression", add)
        def.unary(Marketing.service + "RemoveSuppression", remove)
        def.unary(Marketing.service + "ListSuppressions", list)
    }

    /// Trimmed and lower-cased (email), or the digits with a leading "+" (SMS).
    static func normalize(_ channel: Channel, _ address: String) -> String {
        channel == .sms ? Normalize.phone(address) : Normalize.email(address)
    }

    static func addressHash(_ channel: Channel, _ address: String) -> String {
        SHA256.hexDigest(Array(normalize(channel, address).utf8))
    }

    static func find(_ db: Database, _ channel: Channel, _ address: String) throws -> Suppression? {
        try db.query("SELECT \(columns) FROM marketing_suppressions WHERE channel = ? AND address_hash = ?",
                     [.integer(Int64(channel.rawValue)), .text(addressHash(channel, address))]).first.map(decode)
    }

    /// Suppresses the address unless it already is; returns the entry.
    @discardableResult
    static func suppress(_ ctx: CallContext, _ db: Database, _ channel: Channel, _ address: String,
                         reason: Crm_Marketing_V1_SuppressionReason, detail: String, personID: Int64) throws -> Suppression {
        if let existing = try find(db, channel, address) { return existing }
        let normalized = normalize(channel, address)
        let now = UTCClock.nowMicros()
        let id = try db.execute("""
            INSERT INTO marketing_suppressions (channel, address_hash, address, reason, detail, person_id, created_us)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.integer(Int64(channel.rawValue)), .text(addressHash(channel, address)), .text(normalized),
                  .integer(Int64(reason.rawValue)), .text(detail), .integer(max(personID, 0)), .integer(now)]).lastInsertID
        let entry = try db.query("SELECT \(columns) FROM marketing_suppressions WHERE id = ?", [.integer(id)]).first.map(decode)
            ?? Suppression()
        try ctx.audit(AuditEntry(entity: "marketing.suppression", recordID: String(id), action: "create",
                                 changes: FieldChange.between(old: [:], new: fields(entry))))
        return entry
    }

    static func add(_ ctx: CallContext, _ req: Crm_Marketing_V1_AddSuppressionRequest) throws -> Suppression {
        let channel = try ConsentMethods.channel(req.channel)
        let address = try checkedAddress(channel, req.address)
        switch req.reason {
        case .bounced, .complained, .manual: break
        case .unspecified: throw PluginError.invalidArgument("reason is required (BOUNCED, COMPLAINED or MANUAL)")
        case .UNRECOGNIZED(let v): throw PluginError.invalidArgument("reason \(v) is not a SuppressionReason")
        }
        let detail = req.detail.trimmedSpacesAndNewlines
        try Validate.maxLength(detail, "detail", 2000)
        return try suppress(ctx, try ctx.database, channel, address, reason: req.reason, detail: detail, personID: 0)
    }

    static func remove(_ ctx: CallContext, _ req: Crm_Marketing_V1_RemoveSuppressionRequest) throws -> Crm_Marketing_V1_RemoveSuppressionResponse {
        let channel = try ConsentMethods.channel(req.channel)
        let address = try checkedAddress(channel, req.address)
        let db = try ctx.database
        guard let entry = try find(db, channel, address) else {
            throw PluginError.notFound("address \"\(normalize(channel, address))\" is not suppressed for \(ConsentStore.name(channel))")
        }
        try db.execute("DELETE FROM marketing_suppressions WHERE id = ?", [.integer(entry.id)])
        try ctx.audit(AuditEntry(entity: "marketing.suppression", recordID: String(entry.id), action: "delete",
                                 changes: FieldChange.between(old: fields(entry), new: [:])))
        return .with { $0.removed = entry }
    }

    static func list(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListSuppressionsRequest) throws -> Crm_Marketing_V1_ListSuppressionsResponse {
        if req.channel != .unspecified { _ = try ConsentMethods.channel(req.channel) }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if req.channel != .unspecified { filter.add("channel = ?", .integer(Int64(req.channel.rawValue))) }
        if let after = paging.after { filter.add("id < ?", after[0]) }
        let rows = try ctx.database.query("SELECT \(columns) FROM marketing_suppressions \(filter.clause) ORDER BY id DESC LIMIT ?",
                                          filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        return .with {
            $0.suppressions = page.rows.map(decode)
            $0.nextPageToken = page.nextToken
        }
    }

    /// The address as given, required and well formed for the channel.
    static func checkedAddress(_ channel: Channel, _ address: String) throws -> String {
        let trimmed = address.trimmedSpaces
        try Validate.required(trimmed, "address")
        try Validate.maxLength(trimmed, "address", 254)
        if channel == .sms { try Validate.phone(trimmed, "address") } else { try Validate.email(trimmed, "address") }
        return trimmed
    }

    static func decode(_ row: [SQLValue]) -> Suppression {
        var s = Suppression()
        s.id = row[0].int ?? 0
        s.channel = ConsentStore.channel(row[1].int ?? 0)
        s.address = row[2].string ?? ""
        s.addressSha256 = row[3].string ?? ""
        s.reason = Crm_Marketing_V1_SuppressionReason(rawValue: Int(truncatingIfNeeded: row[4].int ?? 0)) ?? .unspecified
        s.detail = row[5].string ?? ""
        s.personID = row[6].int ?? 0
        s.createdUnixUs = row[7].int ?? 0
        return s
    }

    static func fields(_ s: Suppression) -> [String: String] {
        let reason: String
        switch s.reason {
        case .bounced: reason = "BOUNCED"
        case .complained: reason = "COMPLAINED"
        case .manual: reason = "MANUAL"
        default: reason = ""
        }
        return [("channel", ConsentStore.name(s.channel)), ("address", s.address), ("reason", reason), ("detail", s.detail),
                ("person_id", s.personID == 0 ? "" : String(s.personID))]
            .reduce(into: [:]) { if !$1.1.isEmpty { $0[$1.0] = $1.1 } }
    }
}
