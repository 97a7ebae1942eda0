import CRMPluginKit
import Foundation
import LoyaltyContract
import SwiftProtobuf

typealias Program = Crm_Loyalty_V1_Program

/// Programs: how orders in a currency earn. A program is stored as its
/// message (its rules change together, and an order keeps the copy it was
/// posted under, so a refund reverses by the same rules); the currency and
/// status beside it for the one-active-per-currency index.
enum Programs {
    static let service = "/crm.loyalty.v1.Programs/"

    static func register(on def: PluginDefinition) {
        def.unary(service + "CreateProgram", create)
        def.unary(service + "UpdateProgram", update)
        def.unary(service + "GetProgram", get)
        def.unary(service + "ListPrograms", list)
    }

    static let schema = """
    CREATE TABLE loyalty_programs (
        id INTEGER PRIMARY KEY,
        currency TEXT NOT NULL,
        status INTEGER NOT NULL,
        body BLOB NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX loyalty_programs_active ON loyalty_programs (currency) WHERE status = 1;
    """

    static func create(_ ctx: CallContext, _ req: Crm_Loyalty_V1_CreateProgramRequest) throws -> Program {
        var program = try validated(req.program)
        try Validate.currency(req.program.currency, "program.currency")
        program.currency = req.program.currency
        func insert(_ db: Database) throws -> Program {
            if let existing = try db.query("SELECT id FROM loyalty_programs WHERE currency = ? AND status = 1",
                                           [.text(program.currency)]).first?.int(0) {
                throw PluginError.alreadyExists("currency \(program.currency) already has active program \(existing)")
            }
            let now = UTCClock.nowMicros()
            program.status = .active
            program.version = 1
            program.createdUnixUs = now
            program.updatedUnixUs = now
            program.id = try db.execute("""
                INSERT INTO loyalty_programs (currency, status, body, created_us, updated_us) VALUES (?, 1, x'', ?, ?)
                """, [.text(program.currency), .integer(now), .integer(now)]).lastInsertID
            try db.execute("UPDATE loyalty_programs SET body = ? WHERE id = ?", [.blob(try program.serializedBytes()), .integer(program.id)])
            try ctx.audit(AuditEntry(entity: "loyalty.program", recordID: String(program.id), action: "create",
                                     changes: [FieldChange("currency", old: nil, new: program.currency),
                                               FieldChange("rules", old: nil, new: summary(program))]))
            return program
        }
        if req.idempotencyKey.isEmpty { return try insert(try ctx.database) }
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey, insert)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Loyalty_V1_UpdateProgramRequest) throws -> Program {
        try Check.id(req.id, "id")
        let replacement = req.retire ? nil : try validated(req.program)
        let db = try ctx.database
        guard let old = try load(db, req.id) else { throw PluginError.notFound("no program \(req.id) (id)") }
        if old.status == .retired && req.retire { return old }  // a repeat records nothing
        guard old.status == .active else { throw PluginError.failedPrecondition("program \(req.id) is retired") }
        var program = replacement ?? old
        program.id = old.id
        program.currency = old.currency
        program.status = req.retire ? .retired : .active
        program.createdUnixUs = old.createdUnixUs
        var unchanged = old
        unchanged.updatedUnixUs = 0
        unchanged.version = 0
        program.updatedUnixUs = 0
        program.version = 0
        if program == unchanged { return old }  // a repeat records nothing, whatever version it expected
        try Validate.expectedVersion(req.expectedVersion, old.version, noun: "program \(req.id)")
        program.version = old.version &+ 1
        program.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("UPDATE loyalty_programs SET status = ?, body = ?, updated_us = ? WHERE id = ?",
                       [.integer(Int64(program.status.rawValue)), .blob(try program.serializedBytes()),
                        .integer(program.updatedUnixUs), .integer(program.id)])
        try ctx.audit(AuditEntry(entity: "loyalty.program", recordID: String(program.id), action: req.retire ? "retire" : "update",
                                 changes: [FieldChange("rules", old: summary(old), new: summary(program)),
                                           FieldChange("version", old: String(old.version), new: String(program.version))]))
        return program
    }

    static func get(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetProgramRequest) throws -> Program {
        try Check.id(req.id, "id")
        guard let program = try load(try ctx.database, req.id) else { throw PluginError.notFound("no program \(req.id) (id)") }
        return program
    }

    static func list(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListProgramsRequest) throws -> Crm_Loyalty_V1_ListProgramsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if !req.includeRetired { filter.add("status = 1", []) }
        if let after = paging.after { filter.add("id > ?", after) }
        let page = try fetchPage(try ctx.database, "SELECT id, body FROM loyalty_programs \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: { try Program(serializedBytes: $0[1].bytes ?? []) },
                                 key: { [$0[0]] })
        return .with { $0.programs = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func load(_ db: Database, _ id: Int64) throws -> Program? {
        guard let row = try db.query("SELECT body FROM loyalty_programs WHERE id = ?", [.integer(id)]).first else { return nil }
        return try Program(serializedBytes: row[0].bytes ?? [])
    }

    /// The active program of a currency, if any.
    static func active(_ db: Database, currency: String) throws -> Program? {
        guard let row = try db.query("SELECT body FROM loyalty_programs WHERE currency = ? AND status = 1",
                                     [.text(currency)]).first else { return nil }
        return try Program(serializedBytes: row[0].bytes ?? [])
    }

    static func summary(_ p: Program) -> String {
        "\(p.name): \(p.pointsPerStep) per \(p.spendStep), visit \(p.pointsPerVisit), \(p.itemRules.count) item rules, "
            + "\(p.bonusWindows.count) bonus windows, first order \(p.firstOrderBonus), caps \(p.maxPointsPerOrder)/\(p.maxPointsPerDay), "
            + "pending \(p.pendingSeconds) s, expiry \(p.expirySeconds) s \(p.expiryRounding), \(p.timeZone), "
            + "\(p.redeemPoints) points pay \(p.redeemValue), birthday \(p.birthdayBonus) (\(p.birthdayField), \(p.birthdayWindowDays) days)"
    }

    /// The rules of a request, checked and with defaults filled in; each
    /// error names its field. The currency is CreateProgram's to check.
    static func validated(_ p: Program) throws -> Program {
        var out = Program()
        out.name = try Check.text(p.name, "program.name", max: 100, required: true)
        func range(_ value: Int64, _ field: String, _ low: Int64, _ high: Int64) throws {
            guard value >= low, value <= high else {
                throw PluginError.invalidArgument("program.\(field) must be \(low) to \(high), got \(value)")
            }
        }
        try range(p.pointsPerStep, "points_per_step", 0, 1_000_000)
        try range(p.spendStep, "spend_step", 0, 1_000_000_000)
        try range(p.pointsPerVisit, "points_per_visit", 0, 1_000_000)
        try range(p.firstOrderBonus, "first_order_bonus", 0, 1_000_000)
        try range(p.maxPointsPerOrder, "max_points_per_order", 0, 1_000_000_000)
        try range(p.maxPointsPerDay, "max_points_per_day", 0, 1_000_000_000)
        try range(p.pendingSeconds, "pending_seconds", 0, 31_536_000)
        try range(p.expirySeconds, "expiry_seconds", 0, 3_153_600_000)
        try range(p.redeemPoints, "redeem_points", 0, 1_000_000)
        try range(p.redeemValue, "redeem_value", 0, 1_000_000)
        guard (p.redeemPoints == 0) == (p.redeemValue == 0) else {
            throw PluginError.invalidArgument("program.redeem_points and program.redeem_value: both 0, or both set")
        }
        out.redeemPoints = p.redeemPoints
        out.redeemValue = p.redeemValue
        try range(p.birthdayBonus, "birthday_bonus", 0, 1_000_000)
        try range(Int64(p.birthdayWindowDays), "birthday_window_days", 0, 31)
        let field = p.birthdayField
        guard field.isEmpty || (field.utf8.count <= 40 && field.first.map({ ("a"..."z").contains($0) }) == true
                                && field.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })) else {
            throw PluginError.invalidArgument("program.birthday_field must be a custom field key, [a-z][a-z0-9_]{0,39}")
        }
        guard field.isEmpty == (p.birthdayBonus == 0) else {
            throw PluginError.invalidArgument("program.birthday_field and program.birthday_bonus: both set, or neither")
        }
        out.birthdayField = field
        out.birthdayBonus = p.birthdayBonus
        out.birthdayWindowDays = p.birthdayWindowDays
        out.pointsPerStep = p.pointsPerStep
        out.spendStep = p.spendStep == 0 ? 100 : p.spendStep
        out.pointsPerVisit = p.pointsPerVisit
        out.firstOrderBonus = p.firstOrderBonus
        out.maxPointsPerOrder = p.maxPointsPerOrder
        out.maxPointsPerDay = p.maxPointsPerDay
        out.pendingSeconds = p.pendingSeconds
        out.expirySeconds = p.expirySeconds
        switch p.expiryRounding {
        case .unspecified, .none: out.expiryRounding = .none
        case .endOfMonth, .endOfYear: out.expiryRounding = p.expiryRounding
        default: throw PluginError.invalidArgument("program.expiry_rounding is not a known rounding")
        }
        let zone = p.timeZone.trimmedSpaces.isEmpty ? "UTC" : p.timeZone.trimmedSpaces
        guard zone.utf8.count <= 64, TimeZone(identifier: zone) != nil else {
            throw PluginError.invalidArgument("program.time_zone \"\(zone.prefix(64))\" is not an IANA time zone (e.g. Europe/Paris)")
        }
        out.timeZone = zone
        guard p.itemRules.count <= 100 else { throw PluginError.invalidArgument("program.item_rules holds more than 100 rules") }
        var seen = Set<String>()
        for (i, rule) in p.itemRules.enumerated() {
            let field = "program.item_rules[\(i)]"
            let item = try Check.text(rule.itemID, "\(field).item_id", max: 100)
            let category = try Check.text(rule.category, "\(field).category", max: 100)
            guard item.isEmpty != category.isEmpty else {
                throw PluginError.invalidArgument("\(field): exactly one of item_id and category")
            }
            let key = item.isEmpty ? "c:" + category : "i:" + item
            guard seen.insert(key).inserted else {
                throw PluginError.invalidArgument("\(field) repeats the rule for \(item.isEmpty ? "category \(category)" : "item \(item)")")
            }
            try range(rule.pointsPerUnit, "item_rules[\(i)].points_per_unit", 0, 1_000_000)
            out.itemRules.append(.with {
                $0.itemID = item
                $0.category = category
                $0.pointsPerUnit = rule.pointsPerUnit
                $0.excludeFromSpend = rule.excludeFromSpend
            })
        }
        guard p.bonusWindows.count <= 100 else { throw PluginError.invalidArgument("program.bonus_windows holds more than 100 windows") }
        for (i, window) in p.bonusWindows.enumerated() {
            let field = "program.bonus_windows[\(i)]"
            guard !window.days.isEmpty else { throw PluginError.invalidArgument("\(field).days is empty") }
            guard window.days.allSatisfy({ (1...7).contains($0) }), Set(window.days).count == window.days.count else {
                throw PluginError.invalidArgument("\(field).days must be distinct ISO weekdays 1 (Monday) to 7 (Sunday)")
            }
            guard (0...1439).contains(window.startMinute), window.endMinute > window.startMinute, window.endMinute <= 1440 else {
                throw PluginError.invalidArgument("\(field): start_minute 0 to 1439 and end_minute after it, at most 1440")
            }
            guard (101...1000).contains(window.multiplierPercent) else {
                throw PluginError.invalidArgument("\(field).multiplier_percent must be 101 to 1000, got \(window.multiplierPercent)")
            }
            out.bonusWindows.append(.with {
                $0.days = window.days.sorted()
                $0.startMinute = window.startMinute
                $0.endMinute = window.endMinute
                $0.multiplierPercent = window.multiplierPercent
            })
        }
        return out
    }
}
